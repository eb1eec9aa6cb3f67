// Stage 5: consumers with one effect per event however often it arrives, the answer the user
// gets while the work is under way, and the application without its polling job. The
// application's database is a real SQLite file, then a real Postgres schema; Herald's log is a
// SQLite file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { onEachDatabase, signUpAt, useDatabase, useHerald } from '../fixtures.ts';
import { runServer } from '../run-server.ts';
import { type User, workflowOutputs } from '../stage-1-rest/database.ts';
import type { SqlDatabase } from '../stage-1-rest/sql-database.ts';
import { outboxBatch } from '../stage-2-outbox/events.ts';
import { buildApp } from './app.ts';
import { createConsumers } from './consumers.ts';
import { openDatabase } from './database.ts';
import { databaseSteps } from './steps.ts';

type SignedUp = User & { workflow: string; consistencyToken: string };

/** The names of the tables in the database's schema. */
async function tableNames(db: SqlDatabase): Promise<string[]> {
  const rows = await db.all<{ name: string }>(
    db.dialect.name === 'sqlite'
      ? "SELECT name FROM sqlite_master WHERE type = 'table'"
      : 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()',
  );
  return rows.map((row) => row.name);
}

onEachDatabase('stage 5: idempotent consumers, eventual consistency, no more polling job', (database) => {
  const the = useDatabase(database, openDatabase);
  const herald = useHerald(the, createConsumers);

  it('has one effect per sign-up when the relay publishes its event twice (a crash before the delete)', async () => {
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp<SignedUp>('ada@example.com', 'Ada');
    // The relay published, then died before deleting the row: on restart it publishes it again.
    for (const { topic, event } of await outboxBatch(the.db, 10)) await herald.log.append(topic, event);
    assert.equal(await herald.relay().relayOnce(), 1);
    await herald.consume(herald.consumers());
    assert.deepEqual(await workflowOutputs(the.db), {
      mailbox: [{ user_id: ada.id, recipient: 'ada@example.com', subject: 'Welcome, Ada!' }],
      search_index: [{ user_id: ada.id, terms: 'ada ada@example.com' }],
      points: [{ user_id: ada.id, reason: 'sign-up', amount: 100 }],
    });
  });

  it('has each step take effect once even when it runs twice (a crash before the inbox entry)', async () => {
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp<SignedUp>('ada@example.com', 'Ada');
    const steps = databaseSteps(the.db);
    for (let run = 0; run < 2; run++) {
      await steps.sendWelcome(ada);
      await steps.indexUser(ada);
      await steps.awardPoints(ada);
    }
    const outputs = await workflowOutputs(the.db);
    assert.equal(outputs.mailbox.length, 1, 'the mailbox refuses a message id it has');
    assert.equal(outputs.points.length, 1, 'the ledger refuses a second sign-up award');
  });

  it('answers the sign-up at once with a consistency token, and 202 to a read the work has not reached', async () => {
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp<SignedUp>('ada@example.com', 'Ada');
    assert.equal(ada.workflow, 'pending');
    assert.equal(ada.consistencyToken, `signup-${ada.id}`);
    const early = await the.app.inject({
      method: 'GET',
      url: `/users/${ada.id}?consistentWith=${ada.consistencyToken}`,
    });
    assert.equal(early.statusCode, 202);
    assert.equal(early.headers['retry-after'], '1');
    assert.equal(early.json<{ workflow: string }>().workflow, 'pending');
    const plain = await the.app.inject({ method: 'GET', url: `/users/${ada.id}` });
    assert.equal(plain.statusCode, 200, 'a read without a token answers what there is');
  });

  it('holds a read with a consistency token until the consumers have done the work (read your writes)', async () => {
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp<SignedUp>('ada@example.com', 'Ada');
    const reading = the.app.inject({
      method: 'GET',
      url: `/users/${ada.id}?consistentWith=${ada.consistencyToken}&waitMs=30000`,
    });
    await herald.relay().relayOnce();
    await herald.consume(herald.consumers());
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
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp<SignedUp>('ada@example.com', 'Ada');
    const bob = await the.signUp<SignedUp>('bob@example.com', 'Bob');
    for (const url of [
      `/users/${ada.id}?consistentWith=${bob.consistencyToken}`,
      `/users/${ada.id}?consistentWith=${ada.consistencyToken}&waitMs=-1`,
      `/users/${ada.id}?consistentWith=${ada.consistencyToken}&waitMs=soon`,
    ]) {
      assert.equal((await the.app.inject({ method: 'GET', url })).statusCode, 400, url);
    }
  });

  it('runs as a server without the polling job, and a read with the token sees the work done', async () => {
    await using server = await runServer(join(import.meta.dirname, 'server.ts'), {
      APP_DB: the.location,
      HERALD_LOG_FILE: join(herald.folder, 'server-herald.db'),
    });
    const ada = await signUpAt<SignedUp>(server.url, 'ada@example.com', 'Ada');
    const read = await fetch(
      `${server.url}/users/${ada.id}?consistentWith=${ada.consistencyToken}&waitMs=30000`,
    );
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { points: number }).points, 100);
    const tables = await tableNames(the.db);
    assert.ok(tables.includes('outbox'));
    assert.ok(!tables.some((table) => table.startsWith('shadow_') || table === 'job_cursors'));
  });
});
