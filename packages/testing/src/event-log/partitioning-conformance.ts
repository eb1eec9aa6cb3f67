import assert from 'node:assert/strict';
import { partitionFor } from '@herald/core';
import type { AppendResult } from '@herald/core';
import { describeGroups, heraldError } from '../conformance-suite.ts';
import { makeEvent, readAll } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The partitioning group of the EventLog conformance suite: where an event goes, by key, by round-robin or by the partition named. */
export const partitioningConformance: ConformanceGroup = {
  title: 'partitioning',
  define(suite) {
    suite.test(
      'places the same key in the same partition, the one partitionFor(key, n) picks',
      async ({ log }) => {
        await log.createTopic('orders', { partitions: 8 });
        const keys = Array.from({ length: 40 }, (_, i) => `order-${i * 7919}`).concat([
          '',
          'ключ',
          '🔑',
          'a'.repeat(300),
        ]);
        for (const [i, key] of keys.entries()) {
          const first = await log.append('orders', makeEvent(i, key));
          const second = await log.append('orders', makeEvent(i + 1000, key));
          assert.equal(first.partition, partitionFor(key, 8), `partition of key ${JSON.stringify(key)}`);
          assert.equal(second.partition, first.partition);
          const [stored] = await log.read('orders', {
            partition: first.partition,
            from: { offset: first.offset },
            limit: 1,
          });
          assert.equal(stored?.partitionkey, key);
        }
      },
    );

    suite.test('spreads events without a key over all partitions', async ({ log }) => {
      await log.createTopic('audit', { partitions: 4 });
      const results: AppendResult[] = [];
      for (let i = 0; i < 40; i++) results.push(await log.append('audit', makeEvent(i)));
      assert.deepEqual([...new Set(results.map((r) => r.partition))].sort(), [0, 1, 2, 3]);
    });

    suite.test(
      'appends to the partition named in the options, and refuses one that does not exist',
      async ({ log }) => {
        await log.createTopic('orders', { partitions: 3 });
        const key = 'order-1';
        const chosen = (partitionFor(key, 3) + 1) % 3;
        const result = await log.append('orders', makeEvent(1, key), { partition: chosen });
        assert.equal(result.partition, chosen);
        assert.equal((await log.read('orders', { partition: chosen, from: 'earliest' }))[0]?.id, 'event-1');
        for (const partition of [3, -1, 0.5]) {
          await assert.rejects(
            log.append('orders', makeEvent(2), { partition }),
            heraldError('INVALID_ARGUMENT'),
            String(partition),
          );
        }
        assert.equal((await readAll(log, 'orders')).length, 1);
      },
    );
  },
};

/** Registers the partitioning group alone for `target`, as `EventLog conformance: <name>: partitioning`. */
export function describePartitioningConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [partitioningConformance]);
}
