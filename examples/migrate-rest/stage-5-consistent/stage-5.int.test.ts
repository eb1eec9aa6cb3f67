// Stage 5: consumers with one effect per event however often it arrives, the answer the user
// gets while the work is under way, and the application without its polling job. Real SQLite
// files for the application and for Herald's log.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Router, ensureTopic } from '@herald/core';
import { type SqliteLog, type SqliteStore, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { FastifyInstance } from 'fastify';
import { caughtUp } from '../../example-log.ts';
import { runServer } from '../run-server.ts';
import { buildApp } from './app.ts';
import { CONSUMER_GROUPS, createConsumers } from './consumers.ts';
import { type User, openDatabase, workflowOutputs } from './database.ts';
import { USERS_TOPIC, outboxBatch } from '../stage-2-outbox/events.ts';
import { createOutboxRelay } from '../stage-2-outbox/relay.ts';
import { databaseSteps } from './steps.ts';

type SignedUp = User & { workflow: string; consistencyToken: string };

let folder: string;
let db: DatabaseSync;
let log: SqliteLog;
let store: SqliteStore;
let app: FastifyInstance | undefined;

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'migrate-rest-5-'));
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

async function signUp(email: string, name: string): Promise<SignedUp> {
  const response = await app!.inject({ method: 'POST', url: '/users', payload: { email, name } });
  assert.equal(response.statusCode, 201, response.body);
  return response.json<SignedUp>();
}

/** Runs `routers` until every consumer group handled everything in the log, then stops them. */
async function consume(routers: Router[]): Promise<void> {
  const running = routers.map((router) => router.run());
  try {
    for (const group of Object.keys(CONSUMER_GROUPS)) await caughtUp(log, group);
  } finally {
    await Promise.all(routers.map((router) => router.stop()));
    await Promise.all(running);
  }
}

describe('stage 5: idempotent consumers, eventual consistency, no more polling job', () => {
  it('has one effect per sign-up when the relay publishes its event twice (a crash before the delete)', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    // The relay published, then died before deleting the row: on restart it publishes it again.
    for (const { topic, event } of outboxBatch(db, 10)) await log.append(topic, event);
    assert.equal(await createOutboxRelay({ db, log }).relayOnce(), 1);
    await consume(createConsumers({ log, store, db }));
    assert.deepEqual(workflowOutputs(db), {
      mailbox: [{ user_id: ada.id, recipient: 'ada@example.com', subject: 'Welcome, Ada!' }],
      search_index: [{ user_id: ada.id, terms: 'ada ada@example.com' }],
      points: [{ user_id: ada.id, reason: 'sign-up', amount: 100 }],
    });
  });

  it('has each step take effect once even when it runs twice (a crash before the inbox entry)', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    const steps = databaseSteps(db);
    for (let run = 0; run < 2; run++) {
      await steps.sendWelcome(ada);
      await steps.indexUser(ada);
      await steps.awardPoints(ada);
    }
    const outputs = workflowOutputs(db);
    assert.equal(outputs.mailbox.length, 1, 'the mailbox refuses a message id it has');
    assert.equal(outputs.points.length, 1, 'the ledger refuses a second sign-up award');
  });

  it('answers the sign-up at once with a consistency token, and 202 to a read the work has not reached', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    assert.equal(ada.workflow, 'pending');
    assert.equal(ada.consistencyToken, `signup-${ada.id}`);
    const early = await app.inject({
      method: 'GET',
      url: `/users/${ada.id}?consistentWith=${ada.consistencyToken}`,
    });
    assert.equal(early.statusCode, 202);
    assert.equal(early.headers['retry-after'], '1');
    assert.equal(early.json<{ workflow: string }>().workflow, 'pending');
    const plain = await app.inject({ method: 'GET', url: `/users/${ada.id}` });
    assert.equal(plain.statusCode, 200, 'a read without a token answers what there is');
  });

  it('holds a read with a consistency token until the consumers have done the work (read your writes)', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    const reading = app.inject({
      method: 'GET',
      url: `/users/${ada.id}?consistentWith=${ada.consistencyToken}&waitMs=30000`,
    });
    await createOutboxRelay({ db, log }).relayOnce();
    await consume(createConsumers({ log, store, db }));
    const read = await reading;
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), {
      id: ada.id,
      email: 'ada@example.com',
      name: 'Ada',
      points: 100,
      workflow: 'done',
    });
  });

  it("refuses another user's token and a wait out of bounds with 400", async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    const bob = await signUp('bob@example.com', 'Bob');
    for (const url of [
      `/users/${ada.id}?consistentWith=${bob.consistencyToken}`,
      `/users/${ada.id}?consistentWith=${ada.consistencyToken}&waitMs=-1`,
      `/users/${ada.id}?consistentWith=${ada.consistencyToken}&waitMs=soon`,
    ]) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 400, url);
    }
  });

  it('runs as a server without the polling job, and a read with the token sees the work done', async () => {
    const appDb = join(folder, 'server.db');
    await using server = await runServer(join(import.meta.dirname, 'server.ts'), {
      APP_DB: appDb,
      HERALD_LOG_FILE: join(folder, 'server-herald.db'),
    });
    const created = await fetch(`${server.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', name: 'Ada' }),
    });
    assert.equal(created.status, 201);
    const ada = (await created.json()) as SignedUp;
    const read = await fetch(
      `${server.url}/users/${ada.id}?consistentWith=${ada.consistencyToken}&waitMs=30000`,
    );
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { points: number }).points, 100);
    const serverDb = openDatabase(appDb);
    const tables = serverDb.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    serverDb.close();
    assert.ok(tables.some((table) => table.name === 'outbox'));
    assert.ok(!tables.some((table) => table.name.startsWith('shadow_') || table.name === 'job_cursors'));
  });
});
