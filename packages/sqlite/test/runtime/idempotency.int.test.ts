// The idempotency middleware on SqliteStore: the inbox entry, the handler's documents and the
// events it emits (the outbox is the log itself) commit in one SQLite transaction.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAll, waitFor } from '@herald/testing';
import { createRouter, deadLetter, fingerprintOf, idempotency, retry } from '@herald/core';
import { faultInjection } from '@herald/core/backend';
import type { StoredEvent } from '@herald/core';
import { type SqliteLog, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { ORDER_PLACED, order, tempDatabase } from './fixtures/orders.ts';

const GROUP = 'inventory.reservations';

async function noLag(log: SqliteLog): Promise<void> {
  await waitFor(
    async () => {
      const { partitions } = await log.describeGroup(GROUP);
      return partitions.length > 0 && partitions.every((p) => p.lag === 0);
    },
    10_000,
    'the group to commit everything',
  );
}

void describe('idempotency on SqliteStore', { timeout: 60_000 }, () => {
  void it('commits nothing of an attempt that throws inside its transaction — no document, no emitted event, no inbox entry — and the retry applies it once', async () => {
    using db = tempDatabase();
    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    await log.createTopic('orders', { partitions: 1 });
    await log.createTopic('inventory', { partitions: 1 });
    await log.append('orders', order(1, 1));
    let attempts = 0;
    let afterFirst: { doc: unknown; emitted: number; inbox: string } | undefined;
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [retry({ maxAttempts: 3, initialDelayMs: 20 }), idempotency({ store })],
    });
    router.on(ORDER_PLACED, async (event, ctx) => {
      attempts++;
      if (attempts === 2) {
        afterFirst = {
          doc: await store.get('stock', 'sku-1'),
          emitted: (await readAll(log, 'inventory')).length,
          inbox: await store.inboxStatus(GROUP, event.id, fingerprintOf(event)),
        };
      }
      await ctx.transaction(async (tx) => {
        await tx.put('stock', 'sku-1', { reserved: attempts });
        await tx.emit('inventory', { ...order(1000, 1), id: `reserved-${event.id}` });
        if (attempts === 1) throw new Error('fails after writing');
      });
    });
    const run = router.run();
    await noLag(log);
    await router.stop();
    await run;
    assert.deepEqual(afterFirst, { doc: undefined, emitted: 0, inbox: 'unseen' });
    assert.equal(attempts, 2);
    assert.deepEqual(await store.get('stock', 'sku-1'), { reserved: 2 });
    assert.deepEqual(
      (await readAll(log, 'inventory')).map((e) => e.id),
      ['reserved-order-1'],
    );
  });

  void it('gives an event appended twice one effect, and parks the same id with a different payload as CONFLICT', async () => {
    using db = tempDatabase();
    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    await log.createTopic('orders', { partitions: 2 });
    const original = order(1, 1);
    const impostor = { ...order(1, 1), data: new TextEncoder().encode('{"i":1,"qty":999}') };
    await log.appendBatch('orders', [original, order(2, 1), original, impostor]);
    const applied: StoredEvent[] = [];
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 5 }), idempotency({ store })],
    });
    router.on(ORDER_PLACED, async (event, ctx) => {
      await ctx.transaction(async (tx) => {
        await tx.put('effects', event.id, ((await tx.get<number>('effects', event.id)) ?? 0) + 1);
      });
      applied.push(event);
    });
    const run = router.run();
    await noLag(log);
    await router.stop();
    await run;
    assert.deepEqual(
      applied.map((e) => e.offset),
      [0, 1],
    );
    assert.equal(await store.get('effects', 'order-1'), 1);
    assert.equal(await store.get('effects', 'order-2'), 1);
    const parked = await readAll(log, 'orders.dead-letter');
    assert.equal(parked.length, 1);
    assert.equal(parked[0]?.extensions?.['dlcode'], 'CONFLICT');
    assert.equal(parked[0]?.extensions?.['dloffset'], '3');
    assert.equal(new TextDecoder().decode(parked[0]?.data), '{"i":1,"qty":999}');
  });

  void it('skips events handled before a restart whose offsets were never committed', async () => {
    using db = tempDatabase();
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch(
        'orders',
        Array.from({ length: 10 }, (_, i) => order(i, 3)),
      );
    }
    const runOnce = async (stopAfter: number) => {
      const log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      let handled = 0;
      // Commits only at shutdown, and the shutdown below is a simulated crash: nothing is committed.
      const router = createRouter({
        log,
        group: GROUP,
        topics: ['orders'],
        store,
        commitIntervalMs: 3_600_000,
        sessionTimeoutMs: 500,
        middleware: [idempotency({ store })],
      });
      router.on(ORDER_PLACED, async (event, ctx) => {
        await ctx.transaction(async (tx) => {
          await tx.put('effects', event.id, ((await tx.get<number>('effects', event.id)) ?? 0) + 1);
        });
        handled++;
      });
      const run = router.run();
      await waitFor(() => handled >= stopAfter, 10_000, `${stopAfter} events handled`);
      return { log, run };
    };
    const first = await runOnce(10);
    first.log[faultInjection].crash();
    await first.run.catch(() => undefined);
    await first.log.close();
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      assert.equal((await log.describeGroup(GROUP)).partitions[0]?.committed ?? null, null);
    }

    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    let reapplied = 0;
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      sessionTimeoutMs: 500,
      middleware: [idempotency({ store })],
    });
    router.on(ORDER_PLACED, async () => {
      reapplied++;
    });
    const run = router.run();
    await noLag(log);
    await router.stop();
    await run;
    assert.equal(reapplied, 0, 'a redelivered event reached the handler again');
    const effects = await store.list<number>('effects');
    assert.equal(effects.length, 10);
    assert.ok(effects.every((e) => e.value === 1));
  });
});
