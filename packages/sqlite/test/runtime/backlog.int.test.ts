// Fault F11: a slow consumer with a large backlog. Memory follows the work in flight, not the
// lag: the router never has more than maxInFlight events started, and the consumer process's
// RSS stays within a bound far below the backlog's size (20 000 events of ~8 KB ≈ 160 MB).
// When the handler recovers, the lag drains.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteLog } from '@herald/sqlite';
import { linesOf, startChild } from './fixtures/children.ts';
import { seedOrders, tempDatabase } from './fixtures/orders.ts';

const TOTAL = 20_000;
const PAD_BYTES = 8_000;
const MAX_IN_FLIGHT = 32;
const RSS_GROWTH_LIMIT = 150 * 1024 * 1024;

void describe('a slow consumer with a large backlog (F11)', { timeout: 120_000 }, () => {
  void it(`keeps at most ${MAX_IN_FLIGHT} events in flight and its memory bounded, and drains the lag once the handler recovers`, async () => {
    using db = tempDatabase();
    await seedOrders(db.path, { total: TOTAL, partitions: 4, keys: 1000, padBytes: PAD_BYTES });
    const child = startChild(
      'backlog-consumer.ts',
      [db.path, JSON.stringify({ maxInFlight: MAX_IN_FLIGHT, slowMs: 25, slowForMs: 2500, total: TOTAL })],
      ['--expose-gc'],
    );
    const { code } = await child.exited;
    assert.equal(code, 0, `the consumer failed: ${child.lines.slice(-3).join(' | ')}`);

    const baseline = Number(linesOf(child, 'baseline')[0]);
    const samples = child.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { rss: number; handled: number; peak: number });
    const handledAtRecovery = Number(linesOf(child, 'recovered')[0]);
    const [handled, peak] = linesOf(child, 'drained')[0]!.split(' ').map(Number);
    assert.ok(samples.length >= 10, `only ${samples.length} memory samples`);

    assert.equal(handled, TOTAL);
    assert.ok(peak! <= MAX_IN_FLIGHT, `${peak} handlers ran at once; maxInFlight is ${MAX_IN_FLIGHT}`);
    assert.ok(peak! >= MAX_IN_FLIGHT / 2, `peak ${peak}: the bound was never approached`);
    assert.ok(
      handledAtRecovery < TOTAL / 2,
      `${handledAtRecovery} of ${TOTAL} were handled while slow: there was no backlog to speak of`,
    );
    const maxRss = Math.max(...samples.map((s) => s.rss));
    assert.ok(
      maxRss - baseline < RSS_GROWTH_LIMIT,
      `RSS grew by ${((maxRss - baseline) / 1048576).toFixed(0)} MB while draining (limit ${RSS_GROWTH_LIMIT / 1048576} MB)`,
    );

    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const group = await log.describeGroup('backlog.reader');
    assert.equal(
      group.partitions.reduce((sum, p) => sum + p.lag, 0),
      0,
      'lag left after recovery',
    );
  });
});
