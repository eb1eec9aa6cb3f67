// Stage 1, the application as it is before the migration: a REST API and a polling job, on a
// real SQLite file and on a real Postgres schema. The tests show the workflow working, then each
// bug the job has: all three come from the job, not from the database, and show on both.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { eventually, runServer } from '../run-server.ts';
import { gate, onEachDatabase, signUpAt, useDatabase } from '../fixtures.ts';
import { buildApp } from './app.ts';
import { openDatabase, workflowOutputs } from './database.ts';
import { type WorkflowSteps, createPoller, databaseSteps } from './poller.ts';

onEachDatabase('stage 1: the REST application with a polling job', (database) => {
  const the = useDatabase(database, openDatabase);

  it('signs a user up, and the next tick of the job welcomes, indexes and awards points', async () => {
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp('ada@example.com', 'Ada');
    assert.equal(await createPoller({ db: the.db }).tick(), 1);
    assert.deepEqual(await workflowOutputs(the.db), {
      mailbox: [{ user_id: ada.id, recipient: 'ada@example.com', subject: 'Welcome, Ada!' }],
      search_index: [{ user_id: ada.id, terms: 'ada ada@example.com' }],
      points: [{ user_id: ada.id, reason: 'sign-up', amount: 100 }],
    });
    const profile = await the.app.inject({ method: 'GET', url: `/users/${ada.id}` });
    assert.equal(profile.json<{ points: number }>().points, 100);
  });

  it('refuses an invalid sign-up with 400 and a second one for the same address with 409', async () => {
    the.app = buildApp({ db: the.db });
    const invalid = await the.app.inject({
      method: 'POST',
      url: '/users',
      payload: { email: 'nope', name: '' },
    });
    assert.equal(invalid.statusCode, 400);
    await the.signUp('ada@example.com', 'Ada');
    const again = await the.app.inject({
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
    the.app = buildApp({
      db: the.db,
      verifyEmail: async (email) => {
        if (email !== 'ada@example.com') return;
        adaChecking.open();
        await adaChecked.promise;
      },
    });
    const adaSigningUp = the.signUp('ada@example.com', 'Ada');
    await adaChecking.promise;
    const bob = await the.signUp('bob@example.com', 'Bob');
    const poller = createPoller({ db: the.db });
    assert.equal(await poller.tick(), 1, 'the job sees only Bob, the one committed');
    adaChecked.open();
    const ada = await adaSigningUp;
    assert.ok(ada.id < bob.id, 'Ada got the lower id');
    assert.equal(await poller.tick(), 0, 'Ada is below the cursor: no later tick looks at her');
    const { mailbox, points } = await workflowOutputs(the.db);
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
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp('ada@example.com', 'Ada');
    const bob = await the.signUp('bob@example.com', 'Bob');
    const steps = databaseSteps(the.db);
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
    const poller = createPoller({ db: the.db, steps: crashing });
    await assert.rejects(poller.tick(), /killed/);
    assert.equal(await poller.tick(), 2, 'the restarted job starts again from the old cursor');
    const { mailbox, points } = await workflowOutputs(the.db);
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
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp('ada@example.com', 'Ada');
    await the.signUp('bob@example.com', 'Bob');
    const indexing = gate();
    const indexed = gate();
    const steps = databaseSteps(the.db);
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
    const ticking = createPoller({ db: the.db, steps: slowIndex }).tick();
    await indexing.promise;
    const during = await workflowOutputs(the.db);
    assert.deepEqual(
      during.mailbox.map((mail) => mail.recipient),
      ['ada@example.com'],
      "Bob's welcome e-mail waits for Ada's index update",
    );
    assert.deepEqual(during.points, [], "Ada's points wait for her index update too");
    indexed.open();
    assert.equal(await ticking, 2);
    assert.equal((await workflowOutputs(the.db)).points.length, 2);
  });

  it('runs as a server whose job finishes a sign-up within a few ticks', async () => {
    await using server = await runServer(join(import.meta.dirname, 'server.ts'), {
      APP_DB: the.location,
      POLL_MS: '50',
    });
    const { id } = await signUpAt(server.url, 'ada@example.com', 'Ada');
    const profile = await eventually(
      async () => (await (await fetch(`${server.url}/users/${id}`)).json()) as { points: number },
      (user) => user.points === 100,
    );
    assert.equal(profile.points, 100);
  });
});
