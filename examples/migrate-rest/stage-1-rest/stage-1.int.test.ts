// Stage 1, the application as it is before the migration: a REST API and a polling job, on a
// real SQLite file. The tests show the workflow working, then each bug the job has.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { eventually, runServer } from '../run-server.ts';
import { buildApp } from './app.ts';
import { type User, openDatabase, workflowOutputs } from './database.ts';
import { type WorkflowSteps, createPoller, databaseSteps } from './poller.ts';

/** A promise with its resolve, to hold a step until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

let folder: string;
let db: DatabaseSync;
let app: FastifyInstance;

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'migrate-rest-1-'));
  db = openDatabase(join(folder, 'app.db'));
});
afterEach(async () => {
  await app.close();
  db.close();
  await rm(folder, { recursive: true, force: true });
});

async function signUp(email: string, name: string): Promise<User> {
  const response = await app.inject({ method: 'POST', url: '/users', payload: { email, name } });
  assert.equal(response.statusCode, 201, response.body);
  return response.json<User>();
}

describe('stage 1: the REST application with a polling job', () => {
  it('signs a user up, and the next tick of the job welcomes, indexes and awards points', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    assert.equal(await createPoller({ db }).tick(), 1);
    assert.deepEqual(workflowOutputs(db), {
      mailbox: [{ user_id: ada.id, recipient: 'ada@example.com', subject: 'Welcome, Ada!' }],
      search_index: [{ user_id: ada.id, terms: 'ada ada@example.com' }],
      points: [{ user_id: ada.id, reason: 'sign-up', amount: 100 }],
    });
    const profile = await app.inject({ method: 'GET', url: `/users/${ada.id}` });
    assert.equal(profile.json<{ points: number }>().points, 100);
  });

  it('refuses an invalid sign-up with 400 and a second one for the same address with 409', async () => {
    app = buildApp({ db });
    const invalid = await app.inject({ method: 'POST', url: '/users', payload: { email: 'nope', name: '' } });
    assert.equal(invalid.statusCode, 400);
    await signUp('ada@example.com', 'Ada');
    const again = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { email: 'ada@example.com', name: 'Ada' },
    });
    assert.equal(again.statusCode, 409);
  });

  it('skips for ever a user whose row commits after a higher id was polled (missed row)', async () => {
    // Ada's id is taken first, but her sign-up waits on the address check while Bob's commits.
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
    const adaSigningUp = signUp('ada@example.com', 'Ada');
    await adaChecking.promise;
    const bob = await signUp('bob@example.com', 'Bob');
    const poller = createPoller({ db });
    assert.equal(await poller.tick(), 1, 'the job sees only Bob, the one committed');
    adaChecked.open();
    const ada = await adaSigningUp;
    assert.ok(ada.id < bob.id, 'Ada got the lower id');
    assert.equal(await poller.tick(), 0, 'Ada is below the cursor: no later tick looks at her');
    const { mailbox, points } = workflowOutputs(db);
    assert.deepEqual(
      mailbox.map((mail) => mail.recipient),
      ['bob@example.com'],
    );
    assert.deepEqual(
      points.map((award) => award.user_id),
      [bob.id],
    );
  });

  it('sends the welcome e-mail twice when the job crashes before saving its cursor (duplicate)', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    const bob = await signUp('bob@example.com', 'Bob');
    const steps = databaseSteps(db);
    let crashed = false;
    const crashing: WorkflowSteps = {
      ...steps,
      async awardPoints(user) {
        if (user.id === bob.id && !crashed) {
          crashed = true;
          throw new Error('the job was killed (a deploy, an out-of-memory)');
        }
        await steps.awardPoints(user);
      },
    };
    const poller = createPoller({ db, steps: crashing });
    await assert.rejects(poller.tick(), /killed/);
    assert.equal(await poller.tick(), 2, 'the restarted job starts again from the old cursor');
    const { mailbox, points } = workflowOutputs(db);
    assert.deepEqual(
      mailbox.map((mail) => mail.user_id),
      [ada.id, ada.id, bob.id, bob.id],
      'both users got their welcome e-mail twice',
    );
    assert.deepEqual(
      points.map((award) => award.user_id),
      [ada.id, ada.id, bob.id],
      'and Ada got her points twice',
    );
  });

  it('holds every other step and every later user behind one slow step', async () => {
    app = buildApp({ db });
    const ada = await signUp('ada@example.com', 'Ada');
    await signUp('bob@example.com', 'Bob');
    const indexing = gate();
    const indexed = gate();
    const steps = databaseSteps(db);
    const slowIndex: WorkflowSteps = {
      ...steps,
      async indexUser(user) {
        if (user.id === ada.id) {
          indexing.open();
          await indexed.promise; // the search cluster is slow today
        }
        await steps.indexUser(user);
      },
    };
    const ticking = createPoller({ db, steps: slowIndex }).tick();
    await indexing.promise;
    const during = workflowOutputs(db);
    assert.deepEqual(
      during.mailbox.map((mail) => mail.recipient),
      ['ada@example.com'],
      "Bob's welcome e-mail waits for Ada's index update",
    );
    assert.deepEqual(during.points, [], "Ada's points wait for her index update too");
    indexed.open();
    assert.equal(await ticking, 2);
    assert.equal(workflowOutputs(db).points.length, 2);
  });

  it('runs as a server whose job finishes a sign-up within a few ticks', async () => {
    app = buildApp({ db }); // closed by afterEach; the server under test is its own process
    await using server = await runServer(join(import.meta.dirname, 'server.ts'), {
      APP_DB: join(folder, 'server.db'),
      POLL_MS: '50',
    });
    const created = await fetch(`${server.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', name: 'Ada' }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as User;
    const profile = await eventually(
      async () => (await (await fetch(`${server.url}/users/${id}`)).json()) as { points: number },
      (user) => user.points === 100,
    );
    assert.equal(profile.points, 100);
  });
});
