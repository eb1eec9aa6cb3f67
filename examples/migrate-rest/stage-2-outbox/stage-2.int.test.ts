// Stage 2: the sign-up emits its fact through the outbox, consumers replace the polling job, and
// the job keeps running in shadow so that both outputs can be compared. Real SQLite files for the
// application and for Herald's log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Router, ensureTopic } from '@herald/core';
import { type SqliteLog, type SqliteStore, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { FastifyInstance } from 'fastify';
import { caughtUp } from '../../example-log.ts';
import { eventually, runServer } from '../run-server.ts';
import { buildApp } from './app.ts';
import { compareOutputs, formatDifferences } from './compare.ts';
import { CONSUMER_GROUPS, createConsumers } from './consumers.ts';
import { type User, openDatabase, workflowOutputs } from './database.ts';
import { USERS_TOPIC } from './events.ts';
import { type WorkflowSteps, createPoller, databaseSteps } from './poller.ts';
import { createOutboxRelay } from './relay.ts';

/** A promise with its resolve, to hold a step until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

let folder: string;
let db: DatabaseSync;
let log: SqliteLog;
let store: SqliteStore;
let app: FastifyInstance | undefined;

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'migrate-rest-2-'));
  db = openDatabase(join(folder, 'app.db'));
  log = await openSqliteLog({ path: join(folder, 'herald.db') });
  store = await openSqliteStore(log);
  await ensureTopic(log, USERS_TOPIC, { partitions: 4 });
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await store.close();
  await log.close();
  db.close();
  await rm(folder, { recursive: true, force: true });
});

async function signUp(email: string, name: string): Promise<User> {
  const response = await app!.inject({ method: 'POST', url: '/users', payload: { email, name } });
  assert.equal(response.statusCode, 201, response.body);
  return response.json<User>();
}

/** Runs `routers` until the groups named have handled everything in the log, then stops them all. */
async function consume(routers: Router[], groups = Object.keys(CONSUMER_GROUPS)): Promise<void> {
  const running = routers.map((router) => router.run());
  try {
    for (const group of groups) await caughtUp(log, group);
  } finally {
    await Promise.all(routers.map((router) => router.stop()));
    await Promise.all(running);
  }
}

describe('stage 2: the outbox and consumers, the polling job in shadow', () => {
  it('records the sign-up and its event in one transaction, and neither for a refused one', async () => {
    app = buildApp({ db });
    await signUp('ada@example.com', 'Ada');
    const again = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { email: 'ada@example.com', name: 'Ada' },
    });
    assert.equal(again.statusCode, 409);
    const relayed = await createOutboxRelay({ db, log }).relayOnce();
    assert.equal(relayed, 1, 'one user, one event: the refused sign-up left none');
    assert.equal(await createOutboxRelay({ db, log }).relayOnce(), 0, 'the relay deleted what it published');
  });

  it('has the consumers welcome, index and award points, as the job did', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    await createOutboxRelay({ db, log }).relayOnce();
    await consume(createConsumers({ log, store, db }));
    assert.deepEqual(workflowOutputs(db), {
      mailbox: [{ user_id: ada.id, recipient: 'ada@example.com', subject: 'Welcome, Ada!' }],
      search_index: [{ user_id: ada.id, terms: 'ada ada@example.com' }],
      points: [{ user_id: ada.id, reason: 'sign-up', amount: 100 }],
    });
  });

  it('handles a user whose row commits late, which the shadow job misses, and the comparison says so', async () => {
    const adaChecked = gate();
    const adaChecking = gate();
    app = buildApp({
      db,
      verifyEmail: async (email) => {
        if (email !== 'ada@example.com') return;
        adaChecking.open();
        await adaChecked.promise;
      },
    });
    const relay = createOutboxRelay({ db, log });
    const shadow = createPoller({ db, steps: databaseSteps(db, 'shadow_') });
    const adaSigningUp = signUp('ada@example.com', 'Ada');
    await adaChecking.promise;
    const bob = await signUp('bob@example.com', 'Bob');
    assert.equal(await relay.relayOnce(), 1);
    assert.equal(await shadow.tick(), 1);
    adaChecked.open();
    const ada = await adaSigningUp;
    assert.equal(await relay.relayOnce(), 1, 'the relay has no cursor: Ada is published on the next pass');
    assert.equal(await shadow.tick(), 0, 'the shadow job skips Ada, as in stage 1');
    await consume(createConsumers({ log, store, db }));

    assert.deepEqual(
      workflowOutputs(db).points.map((award) => award.user_id),
      [ada.id, bob.id],
    );
    const differences = compareOutputs(db);
    assert.deepEqual(
      differences.map((d) => [
        d.table,
        (JSON.parse(d.row) as { user_id: number }).user_id,
        d.consumers,
        d.shadow,
      ]),
      [
        ['mailbox', ada.id, 1, 0],
        ['search_index', ada.id, 1, 0],
        ['points', ada.id, 1, 0],
      ],
    );
    assert.match(formatDifferences(differences), /^mailbox .*"user_id":1.*: consumers 1, polling job 0$/m);
  });

  it('lets a slow step hold back only its own consumer group', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    const bob = await signUp('bob@example.com', 'Bob');
    await createOutboxRelay({ db, log }).relayOnce();
    const indexed = gate();
    const steps = databaseSteps(db);
    const slowIndex: WorkflowSteps = {
      ...steps,
      async indexUser(user) {
        if (user.id === ada.id) await indexed.promise; // the search cluster is slow today
        await steps.indexUser(user);
      },
    };
    const routers = createConsumers({ log, store, db, steps: slowIndex });
    const running = routers.map((router) => router.run());
    await caughtUp(log, 'welcome.mail');
    await caughtUp(log, 'rewards.points');
    const during = workflowOutputs(db);
    assert.equal(during.mailbox.length, 2, 'both e-mails went out while Ada was being indexed');
    assert.equal(during.points.length, 2, 'and both users got their points');
    indexed.open();
    await caughtUp(log, 'search.index');
    await Promise.all(routers.map((router) => router.stop()));
    await Promise.all(running);
    assert.deepEqual(
      workflowOutputs(db).search_index.map((entry) => entry.user_id),
      [ada.id, bob.id],
    );
  });

  it('retries a failing step and parks one that keeps failing, while other users go on', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    const bob = await signUp('bob@example.com', 'Bob');
    await createOutboxRelay({ db, log }).relayOnce();
    const steps = databaseSteps(db);
    let adaAttempts = 0;
    const flaky: WorkflowSteps = {
      ...steps,
      async awardPoints(user) {
        if (user.id === ada.id && ++adaAttempts <= 2) throw new Error('rewards service unavailable (503)');
        if (user.id === bob.id) throw new Error('rewards service refuses this account');
        await steps.awardPoints(user);
      },
    };
    await consume(createConsumers({ log, store, db, steps: flaky, retryDelayMs: 5 }));
    assert.equal(adaAttempts, 3, "Ada's points took three attempts");
    assert.deepEqual(
      workflowOutputs(db).points.map((award) => award.user_id),
      [ada.id],
    );
    const parked = (
      await Promise.all(
        [0, 1, 2, 3].map((partition) => log.read('users.dead-letter', { partition, from: 'earliest' })),
      )
    ).flat();
    assert.equal(parked.length, 1, "Bob's event is parked in users.dead-letter after its last attempt");
    assert.match(String(parked[0]!.extensions?.['dlerror']), /refuses this account/);
  });

  it('runs as a server; afterwards the compare command finds no difference', async () => {
    const appDb = join(folder, 'server.db');
    {
      await using server = await runServer(join(import.meta.dirname, 'server.ts'), {
        APP_DB: appDb,
        HERALD_LOG_FILE: join(folder, 'server-herald.db'),
        POLL_MS: '50',
      });
      const created = await fetch(`${server.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ada@example.com', name: 'Ada' }),
      });
      assert.equal(created.status, 201);
      const { id } = (await created.json()) as User;
      await eventually(
        async () => (await (await fetch(`${server.url}/users/${id}`)).json()) as { points: number },
        (user) => user.points === 100,
      );
      // The shadow job writes its own tables; wait for it too before comparing.
      const serverDb = openDatabase(appDb);
      try {
        await eventually(
          async () => workflowOutputs(serverDb, 'shadow_').points.length,
          (n) => n === 1,
        );
      } finally {
        serverDb.close();
      }
    }
    const compare = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(import.meta.dirname, 'compare.ts'), appDb],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let printed = '';
    compare.stdout.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    const [code] = (await once(compare, 'exit')) as [number | null];
    assert.equal(printed, 'no differences: the consumers did what the polling job did\n');
    assert.equal(code, 0);
  });
});
