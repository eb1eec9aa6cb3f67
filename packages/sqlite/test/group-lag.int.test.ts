// groupLag on a real embedded log file: the age of the oldest unconsumed event is read from the
// file, at the group's committed position.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { groupLag } from '@herald/core/ops';
import { openSqliteLog } from '@herald/sqlite';
import { makeEvent } from '@herald/testing';

void describe('groupLag on the embedded log', () => {
  void it('measures a group behind on one partition by the age of the event at its position', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-lag-'));
    try {
      await using log = await openSqliteLog({ path: join(dir, 'herald.db'), retentionIntervalMs: 0 });
      await log.createTopic('orders', { partitions: 2 });
      for (let i = 0; i < 4; i++) await log.append('orders', makeEvent(i), { partition: 0 });
      await log.append('orders', makeEvent(9), { partition: 1 });
      const member = await log.subscribe({ group: 'billing', topics: ['orders'] });
      await member.commit([
        { topic: 'orders', partition: 0, offset: 1 },
        { topic: 'orders', partition: 1, offset: 1 },
      ]);
      await member.close();

      const [oldest] = await log.read('orders', { partition: 0, from: { offset: 1 }, limit: 1 });
      const now = oldest!.timestamp + 2_500;
      const lag = await groupLag(log, 'billing', { now });
      assert.deepEqual(
        lag.partitions.map((p) => [
          p.partition,
          p.committed,
          p.latest,
          p.lag,
          p.lagSeconds,
          p.oldestUnconsumedTimestamp,
        ]),
        [
          [0, 1, 4, 3, 2.5, oldest!.timestamp],
          [1, 1, 1, 0, 0, null],
        ],
      );
      assert.deepEqual(lag.totals, { lag: 3, lagSeconds: 2.5 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
