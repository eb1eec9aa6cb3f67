// The seam between the application and its database: the same promises kept on a real SQLite
// file and on a real Postgres schema.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TEST_POSTGRES, gate, onEachDatabase, useDatabase } from '../fixtures.ts';
import { insertUser, openDatabase } from './database.ts';
import { isUniqueViolation, openSqlDatabase } from './sql-database.ts';

const ada = { id: 1, email: 'ada@example.com', name: 'Ada' };
const bob = { id: 2, email: 'bob@example.com', name: 'Bob' };

onEachDatabase("the application's database", (database) => {
  const the = useDatabase(database, openDatabase);
  const emails = async () =>
    (await the.db.all<{ email: string }>('SELECT email FROM users ORDER BY id')).map((row) => row.email);

  it('rolls back everything a transaction wrote when it throws', async () => {
    await assert.rejects(
      the.db.transaction(async (tx) => {
        await insertUser(tx, ada);
        throw new Error('the address check failed after the insert');
      }),
      /address check failed/,
    );
    assert.deepEqual(await emails(), []);
  });

  it('keeps a statement run beside an open transaction out of it', async () => {
    const inserted = gate();
    const held = gate();
    const rolledBack = the.db.transaction(async (tx) => {
      await insertUser(tx, ada);
      inserted.open();
      await held.promise;
      throw new Error('rolled back');
    });
    await inserted.promise;
    // Another request's write, while the transaction is open: on SQLite it waits for the
    // transaction to end, on Postgres it runs on another connection; in neither is it rolled back.
    const beside = insertUser(the.db, bob);
    held.open();
    await assert.rejects(rolledBack, /rolled back/);
    await beside;
    assert.deepEqual(await emails(), ['bob@example.com']);
  });

  it('recognises a duplicate in a unique column as a unique violation, and nothing else', async () => {
    await insertUser(the.db, ada);
    const duplicate = await insertUser(the.db, { ...bob, email: ada.email }).catch((error: unknown) => error);
    assert.ok(isUniqueViolation(duplicate), String(duplicate));
    const missing = await the.db.run('INSERT INTO nowhere VALUES (1)').catch((error: unknown) => error);
    assert.ok(missing instanceof Error);
    assert.equal(isUniqueViolation(missing), false);
  });

  it('hands out every value of a sequence once, even to a transaction that rolled back', async () => {
    const first = await the.db.nextValue('user_ids');
    await assert.rejects(
      the.db.transaction(async (tx) => {
        await insertUser(tx, { ...ada, id: first });
        throw new Error('rolled back');
      }),
    );
    assert.equal(await the.db.nextValue('user_ids'), first + 1);
  });

  it('reads integers as numbers, sums and counts included', async () => {
    await insertUser(the.db, ada);
    assert.deepEqual(await the.db.get('SELECT count(*) AS n, coalesce(sum(id), 0) AS total FROM users'), {
      n: 1,
      total: 1,
    });
  });

  it('says where it is, with no password in it', async () => {
    if (database.name === 'sqlite') return assert.equal(the.db.location, the.location);
    const url = new URL(the.location);
    url.password = 'not-to-be-printed';
    // The test server trusts local connections: the password is accepted and ignored.
    await using db = await openDatabase(url.toString());
    assert.doesNotMatch(db.location, /not-to-be-printed/);
    assert.equal(db.location, the.location);
  });

  it(
    'refuses a schema name it would have to quote, saying why',
    { skip: database.name === 'sqlite' && 'a SQLite database is a file: there is no schema to name' },
    async () => {
      const url = new URL(TEST_POSTGRES);
      url.searchParams.set('schema', 'Robert"; DROP TABLE users');
      await assert.rejects(
        openSqlDatabase(url.toString(), { schema: () => '' }),
        /a schema name is lower-case letters, digits and _/,
      );
    },
  );
});
