// Fault F3: consumer processes are killed with SIGKILL at random moments (while joining, before
// a handler's transaction, between it and the offset commit, during a commit). The handler's
// effect, its per-event counter and the inbox entry commit in one transaction; the offset is
// committed later. Exactly-once effect means: every event has one effect row and its counter is
// exactly 1, however often it was delivered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { startChild } from './fixtures/children.ts';
import { seedOrders, tempDatabase } from './fixtures/orders.ts';

const TOTAL = 3000;
const KILLS = 12;
const GROUP = 'effects.writer';

const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

interface Effect {
  readonly partition: number;
  readonly offset: number;
}

void describe('a consumer with idempotency under SIGKILL (F3)', { timeout: 120_000 }, () => {
  void it(`applies every event exactly once across ${KILLS} kills at random moments`, async () => {
    using db = tempDatabase();
    await seedOrders(db.path, { total: TOTAL, partitions: 3, keys: 37 });
    const consumer = (final: boolean) =>
      startChild('effect-consumer.ts', [
        db.path,
        JSON.stringify({
          delayMs: final ? 1 : 10,
          maxInFlight: 8,
          untilDrained: final,
          stopOnSignals: false,
        }),
      ]);

    let kills = 0;
    // Events whose effect was committed but whose offset was not when the process died: they
    // are delivered again, and only the inbox keeps them from a second effect.
    let redeliveredAfterKill = 0;
    while (kills < KILLS) {
      const child = consumer(false);
      await child.waitFor((line) => line === 'ready');
      await sleep(randomBetween(20, 700));
      child.signal('SIGKILL');
      const { signal } = await child.exited;
      assert.equal(
        signal,
        'SIGKILL',
        `the consumer died before it was killed: ${child.lines.slice(-3).join(' | ')}`,
      );
      kills++;

      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      const committed = new Map(
        (await log.describeGroup(GROUP)).partitions.map((p) => [p.partition, p.committed ?? 0]),
      );
      for (const { value } of await store.list<Effect>('effects')) {
        if (value.offset >= committed.get(value.partition)!) redeliveredAfterKill++;
      }
    }

    const last = consumer(true);
    const { code } = await last.exited;
    assert.equal(code, 0, `the final consumer failed: ${last.lines.slice(-5).join(' | ')}`);

    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0, integrityCheck: 'full' });
    const store = await openSqliteStore(log);
    const effects = await store.list<Effect>('effects');
    const counters = await store.list<number>('counters');
    assert.equal(effects.length, TOTAL, 'events without an effect');
    assert.equal(counters.length, TOTAL);
    const notOnce = counters.filter((c) => c.value !== 1);
    assert.deepEqual(notOnce, [], 'events whose effect applied more than once');
    for (const p of (await log.describeGroup(GROUP)).partitions) assert.equal(p.lag, 0);
    assert.equal(
      (await log.listTopics()).some((t) => t.name === 'orders.dead-letter'),
      false,
    );
    assert.ok(
      redeliveredAfterKill > 0,
      'no kill left a handled but uncommitted event behind: the test did not exercise redelivery',
    );
  });
});
