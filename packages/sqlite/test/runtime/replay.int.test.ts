// Fault F12: replaying a topic from offset 0 into a new group (a rebuilt projection, a new
// service) gives the same state as the live run, and does not fire declared side effects
// (`ctx.effect`) again — also when the backfilling process restarts halfway, because the
// backfill boundary is kept in the store, on the same file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@herald/testing';
import { type Router, createRouter, deadLetter, idempotency, retry } from '@herald/core';
import { type SqliteLog, type SqliteStore, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { ORDER_PLACED, order, tempDatabase } from './fixtures/orders.ts';

const decoder = new TextDecoder();

/** The service under test: running totals per customer, and an e-mail per order (an effect). */
function service(log: SqliteLog, store: SqliteStore, group: string, emails: string[], slowMs = 0): Router {
  const router = createRouter({
    log,
    group,
    topics: ['orders'],
    store,
    middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 5 }), idempotency({ store })],
  });
  router.on(ORDER_PLACED, async (event, ctx) => {
    const { qty } = JSON.parse(decoder.decode(event.data)) as { qty: number };
    if (slowMs > 0) await new Promise((resolve) => setTimeout(resolve, slowMs));
    await ctx.transaction(async (tx) => {
      const collection = `totals.${group}`;
      const total = (await tx.get<{ qty: number; orders: string[] }>(collection, event.partitionkey!)) ?? {
        qty: 0,
        orders: [],
      };
      await tx.put(collection, event.partitionkey!, {
        qty: total.qty + qty,
        orders: [...total.orders, event.id],
      });
    });
    await ctx.effect('email', (key) => emails.push(key));
  });
  return router;
}

async function lagOf(log: SqliteLog, group: string): Promise<number> {
  const { partitions } = await log.describeGroup(group);
  return partitions.length === 0 ? Infinity : partitions.reduce((sum, p) => sum + p.lag, 0);
}

async function totals(store: SqliteStore, group: string) {
  return (await store.list<{ qty: number; orders: string[] }>(`totals.${group}`)).map((d) => ({
    id: d.id,
    ...d.value,
  }));
}

void describe('replay into a new group (F12)', { timeout: 60_000 }, () => {
  void it('rebuilds the same state as the live run without firing its effects again, even across a restart mid-backfill', async () => {
    using db = tempDatabase();
    const TOTAL = 300;
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      await log.createTopic('orders', { partitions: 3 });
    }

    // The live run: the service is running before the orders arrive, so every e-mail is sent.
    const liveEmails: string[] = [];
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      const router = service(log, store, 'mailer.live', liveEmails);
      const run = router.run();
      await waitFor(
        async () => (await log.describeGroup('mailer.live')).members.some((m) => m.partitions.length === 3),
        10_000,
        'the live service to own the partitions',
      );
      for (let i = 0; i < TOTAL; i += 30) {
        await log.appendBatch(
          'orders',
          Array.from({ length: 30 }, (_, j) => order(i + j, 17)),
        );
      }
      await waitFor(async () => (await lagOf(log, 'mailer.live')) === 0, 20_000, 'the live run to finish');
      await router.stop();
      await run;
    }
    assert.equal(liveEmails.length, TOTAL, 'the live run sent one e-mail per order');
    assert.equal(new Set(liveEmails).size, TOTAL);

    // The replay: a new group reads everything from offset 0.
    const replayEmails: string[] = [];
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      const router = service(log, store, 'mailer.rebuild', replayEmails);
      const run = router.run();
      await waitFor(async () => (await lagOf(log, 'mailer.rebuild')) === 0, 20_000, 'the replay to finish');
      await router.stop();
      await run;
      assert.deepEqual(await totals(store, 'mailer.rebuild'), await totals(store, 'mailer.live'));
    }
    assert.deepEqual(replayEmails, [], 'the replay sent e-mails again');

    // A backfill that restarts halfway: the boundary survives in the store.
    const backfillEmails: string[] = [];
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      // 40 ms per event caps the backfill at ~17 keys / 40 ms, so the restart lands mid-way.
      const router = service(log, store, 'mailer.restarted', backfillEmails, 40);
      const run = router.run();
      await waitFor(
        async () =>
          (await store.list('totals.mailer.restarted')).length > 0 &&
          (await lagOf(log, 'mailer.restarted')) < TOTAL - 60,
        20_000,
        'the backfill to be under way',
      );
      await router.stop();
      await run;
      assert.ok((await lagOf(log, 'mailer.restarted')) > 0, 'the backfill finished before the restart');
    }
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      const router = service(log, store, 'mailer.restarted', backfillEmails);
      const run = router.run();
      await waitFor(
        async () => (await lagOf(log, 'mailer.restarted')) === 0,
        20_000,
        'the backfill to finish',
      );
      assert.deepEqual(await totals(store, 'mailer.restarted'), await totals(store, 'mailer.live'));
      assert.deepEqual(backfillEmails, [], 'the restarted backfill sent e-mails for history');

      // Orders placed now are live for this group: their e-mails are sent.
      await log.appendBatch('orders', [order(TOTAL, 17), order(TOTAL + 1, 17)]);
      await waitFor(async () => (await lagOf(log, 'mailer.restarted')) === 0, 20_000, 'the new orders');
      await router.stop();
      await run;
    }
    assert.deepEqual(backfillEmails.toSorted(), [
      `mailer.restarted/order-${TOTAL}/email`,
      `mailer.restarted/order-${TOTAL + 1}/email`,
    ]);
  });
});
