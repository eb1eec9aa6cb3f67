// Fault F15: SIGTERM to a consumer process under load. The router (stopped by the process's
// SIGTERM handler) stops fetching, lets the handlers already running finish, commits them and
// leaves the group; the process exits 0. Nothing acknowledged is lost: what it committed is
// exactly what it handled, and a restart handles the rest, each event once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { linesOf, startChild } from './fixtures/children.ts';
import { seedOrders, tempDatabase } from './fixtures/orders.ts';

const TOTAL = 2000;
const GROUP = 'effects.writer';

interface Effect {
  readonly partition: number;
  readonly offset: number;
}

void describe('a consumer process stopped by SIGTERM (F15)', { timeout: 60_000 }, () => {
  void it('finishes the handlers in flight, commits exactly what it handled, exits 0, and a restart handles the rest once', async () => {
    using db = tempDatabase();
    await seedOrders(db.path, { total: TOTAL, partitions: 3, keys: 50 });
    const child = startChild('effect-consumer.ts', [
      db.path,
      JSON.stringify({ delayMs: 25, maxInFlight: 16, untilDrained: false, stopOnSignals: true }),
    ]);
    await child.waitFor((line) => line.startsWith('handled ') && linesOf(child, 'handled').length >= 200);
    const signalledAt = performance.now();
    child.signal('SIGTERM');
    const { code } = await child.exited;
    const stopMs = performance.now() - signalledAt;
    assert.equal(code, 0, `exit code ${code}; last lines: ${child.lines.slice(-3).join(' | ')}`);
    assert.equal(child.lines.at(-1), 'stopped');
    const handled = linesOf(child, 'handled');
    const finishedAfterSignal = child.lines
      .slice(child.lines.indexOf('sigterm'))
      .filter((l) => l.startsWith('handled '));
    assert.ok(child.lines.includes('sigterm'));
    assert.ok(finishedAfterSignal.length > 0, 'no handler that was running at SIGTERM finished');
    assert.ok(
      handled.length < TOTAL,
      'it handled everything before the signal arrived: no load to stop under',
    );
    assert.ok(stopMs < 10_000, `stopping took ${stopMs.toFixed(0)} ms`);

    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      const group = await log.describeGroup(GROUP);
      assert.deepEqual(group.members, [], 'the stopped consumer is still a member of the group');
      const committed = new Map(group.partitions.map((p) => [p.partition, p.committed ?? 0]));
      const effects = await store.list<Effect>('effects');
      assert.equal(effects.length, handled.length, 'every printed "handled" has its effect, and no more');
      const done = new Set(effects.map((e) => `${e.value.partition}/${e.value.offset}`));
      for (const { value } of effects) {
        assert.ok(
          value.offset < committed.get(value.partition)!,
          `event ${value.partition}/${value.offset} was handled but not committed`,
        );
      }
      for (const [partition, upTo] of committed) {
        for (let offset = 0; offset < upTo; offset++) {
          assert.ok(
            done.has(`${partition}/${offset}`),
            `event ${partition}/${offset} was committed unhandled`,
          );
        }
      }
    }

    const restarted = startChild('effect-consumer.ts', [
      db.path,
      JSON.stringify({ delayMs: 0, maxInFlight: 64, untilDrained: true, stopOnSignals: true }),
    ]);
    assert.equal((await restarted.exited).code, 0);
    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    const counters = await store.list<number>('counters');
    assert.equal(counters.length, TOTAL);
    assert.deepEqual(
      counters.filter((c) => c.value !== 1),
      [],
      'events applied more than once',
    );
    assert.equal(
      linesOf(restarted, 'handled').length + handled.length,
      TOTAL,
      'the restart handled something the first process had committed',
    );
  });
});
