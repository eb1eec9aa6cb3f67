// Another process that stalls while it holds the file's write lock (stopped by SIGSTOP inside a
// transaction, say) makes every write of a consumer fail with BACKEND_UNAVAILABLE once the busy
// timeout passed: its handler's transaction, and then the record of that failed attempt. The
// consumer must ride it out with its retries and apply the event once the lock is free.
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter, idempotency, retry } from '@herald/core';
import { waitFor } from '@herald/testing';
import { type SqliteLog, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { ORDER_PLACED, order, tempDatabase } from './fixtures/orders.ts';

const GROUP = 'inventory.reservations';
const BUSY_TIMEOUT_MS = 100;

/** A connection of its own that takes the file's write lock and keeps it until released. */
function holdWriteLock(path: string): { release(): void } {
  const stalled = new DatabaseSync(path);
  stalled.exec('BEGIN IMMEDIATE');
  return {
    release() {
      stalled.exec('ROLLBACK');
      stalled.close();
    },
  };
}

async function committedAll(log: SqliteLog): Promise<void> {
  await waitFor(
    async () => {
      const { partitions } = await log.describeGroup(GROUP);
      return partitions.length > 0 && partitions.every((p) => p.lag === 0);
    },
    20_000,
    'the group to commit everything',
  );
}

void describe('a consumer while another process holds the write lock', { timeout: 60_000 }, () => {
  void it('keeps retrying its handler past the busy timeout, without stopping, and applies the event once the lock is free', async () => {
    using db = tempDatabase();
    await using log = await openSqliteLog({
      path: db.path,
      retentionIntervalMs: 0,
      busyTimeoutMs: BUSY_TIMEOUT_MS,
    });
    const store = await openSqliteStore(log);
    await log.createTopic('orders', { partitions: 1 });
    const errors: string[] = [];
    const applied: number[] = [];
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [retry({ maxAttempts: 30, initialDelayMs: 10, maxDelayMs: 50 }), idempotency({ store })],
    });
    let lockTaken!: () => void;
    const locked = new Promise<void>((resolve) => (lockTaken = resolve));
    router.on(ORDER_PLACED, async (event, ctx) => {
      if (event.offset === 1) await locked;
      try {
        await ctx.transaction(async (tx) => {
          await tx.put('reservations', event.id, { offset: event.offset });
        });
        applied.push(event.offset);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
        throw error;
      }
    });
    const running = router.run();
    await log.append('orders', order(0, 1));
    await committedAll(log);
    await log.append('orders', order(1, 1));

    const lock = holdWriteLock(db.path);
    lockTaken();
    try {
      // Long enough for the handler's transaction and the record of its failure to time out.
      await waitFor(() => errors.length >= 3, 20_000, 'three attempts refused by the held lock');
      await sleep(5 * BUSY_TIMEOUT_MS);
      assert.deepEqual(applied, [0]);
    } finally {
      lock.release();
    }
    await waitFor(() => applied.length === 2, 20_000, 'the event applied after the lock was freed');
    await committedAll(log);
    await router.stop();
    await running;
    assert.match(errors[0]!, /write lock for over 100 ms/);
    assert.deepEqual(applied, [0, 1]);
    assert.equal((await store.list('reservations')).length, 2);
  });
});
