// Two createTopic calls for one name in the same turn of the event loop share one group-committed
// write transaction: the second must see the first (TOPIC_EXISTS), not fail on the table's unique
// index. The dead-letter middleware relies on it when two partitions park their first event at once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { openSqliteLog } from '@herald/sqlite';

void describe('SqliteLog.createTopic racing itself', () => {
  void it('creates the topic once and answers the concurrent call with TOPIC_EXISTS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-'));
    try {
      await using log = await openSqliteLog({ path: join(dir, 'log.db'), retentionIntervalMs: 0 });
      const outcomes = await Promise.allSettled([
        log.createTopic('orders.dead-letter', { partitions: 2 }),
        log.createTopic('orders.dead-letter', { partitions: 2 }),
      ]);
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      const rejected = outcomes.find((o) => o.status === 'rejected');
      assert.ok(isHeraldError(rejected?.reason, 'TOPIC_EXISTS'), String(rejected?.reason));
      assert.deepEqual(
        (await log.listTopics()).map((t) => [t.name, t.partitions]),
        [['orders.dead-letter', 2]],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
