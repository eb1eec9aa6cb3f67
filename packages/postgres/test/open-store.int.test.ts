import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError, openStore } from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';
import { openPostgresStore, parsePostgresStoreUrl } from '@herald/postgres';
import { makeEvent } from '@herald/testing';
import {
  TEST_POSTGRES,
  postgresUnavailable,
  reportUnavailable,
  testSchema,
} from './fixtures/test-postgres.ts';

/** The test server's URL with Herald's `schema` parameter. */
function urlWithSchema(schema: string): string {
  const url = new URL(TEST_POSTGRES);
  url.searchParams.set('schema', schema);
  return url.toString();
}

void describe('parsePostgresStoreUrl', () => {
  void it('takes schema out and passes every other parameter to pg', () => {
    assert.deepEqual(parsePostgresStoreUrl('postgres://app@db:5432/shop?schema=eu&sslmode=require'), {
      connectionString: 'postgres://app@db:5432/shop?sslmode=require',
      schema: 'eu',
    });
    assert.deepEqual(parsePostgresStoreUrl('postgresql://app@db/shop'), {
      connectionString: 'postgresql://app@db/shop',
      schema: undefined,
    });
  });

  void it('refuses what is not a postgres URL with INVALID_ARGUMENT, hiding the password', () => {
    assert.throws(
      () => parsePostgresStoreUrl('mysql://root:hunter2@db/shop'),
      (error: unknown) => isHeraldError(error, 'INVALID_ARGUMENT') && !error.message.includes('hunter2'),
    );
  });
});

const unavailable = await postgresUnavailable();
if (unavailable !== undefined) {
  reportUnavailable('openStore on postgres:// URLs', unavailable);
} else {
  void describe('openStore on postgres:// URLs', () => {
    void it("opens the store in the URL's schema and publishes what it emits to the log, all of it by close", async () => {
      await using db = testSchema();
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      const store = await openStore(urlWithSchema(db.schema), { log });
      for (let i = 0; i < 5; i++) {
        await store.transaction(async (tx) => {
          await tx.put('orders', `o-${i}`, { status: 'placed' });
          await tx.emit('orders', makeEvent(i));
        });
      }
      assert.deepEqual(await store.get('orders', 'o-4'), { status: 'placed' });
      await store.close();
      assert.deepEqual(
        (await log.read('orders', { partition: 0, from: 'earliest' })).map((e) => e.id),
        ['event-0', 'event-1', 'event-2', 'event-3', 'event-4'],
      );
      await using direct = await openPostgresStore({ pool: db.pool, schema: db.schema });
      assert.equal(await direct.outboxBacklog(), 0);
    });

    void it('publishes what one transaction emitted right after opening, by close', async () => {
      await using db = testSchema();
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      const store = await openStore(urlWithSchema(db.schema), { log });
      await store.transaction((tx) => tx.emit('orders', makeEvent(1)));
      await store.close();
      assert.deepEqual(
        (await log.read('orders', { partition: 0, from: 'earliest' })).map((e) => e.id),
        ['event-1'],
      );
    });

    void it('leaves emitted events in the outbox for another relay when publish is false', async () => {
      await using db = testSchema();
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      const store = await openStore(urlWithSchema(db.schema), { log, publish: false });
      await store.transaction((tx) => tx.emit('orders', makeEvent(1)));
      await store.close();
      assert.deepEqual(await log.read('orders', { partition: 0, from: 'earliest' }), []);
      await using direct = await openPostgresStore({ pool: db.pool, schema: db.schema });
      assert.equal(await direct.outboxBacklog(), 1);
    });

    void it('refuses an invalid schema with INVALID_ARGUMENT', async () => {
      await using log = await openMemoryLog();
      await assert.rejects(openStore(urlWithSchema('Not-A-Schema'), { log }), (error: unknown) =>
        isHeraldError(error, 'INVALID_ARGUMENT'),
      );
    });
  });
}
