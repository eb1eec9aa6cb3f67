import assert from 'node:assert/strict';
import { describeGroups } from '../conformance-suite.ts';
import { collect, makeEvent, sleep } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The timestamps group of the EventLog conformance suite: reading and subscribing from a point in time. */
export const timestampsConformance: ConformanceGroup = {
  title: 'timestamps',
  define(suite) {
    suite.test(
      'reads from a timestamp: the first event appended at or after it',
      { requires: ['timestampSeek'] },
      async ({ log }) => {
        await log.createTopic('orders', { partitions: 1 });
        const before = await log.appendBatch('orders', [makeEvent(1), makeEvent(2), makeEvent(3)]);
        await sleep(100);
        const after = await log.appendBatch('orders', [makeEvent(4), makeEvent(5)]);
        const from = after[0]!.timestamp;
        assert.ok(from > before.at(-1)!.timestamp, 'the later batch got a later timestamp');

        const read = await log.read('orders', { partition: 0, from: { timestamp: from } });
        assert.deepEqual(
          read.map((e) => e.id),
          ['event-4', 'event-5'],
        );
        assert.equal((await log.read('orders', { partition: 0, from: { timestamp: 0 } })).length, 5);
        assert.deepEqual(
          await log.read('orders', { partition: 0, from: { timestamp: from + 3_600_000 } }),
          [],
        );

        await using subscription = await log.subscribe({
          group: 'since',
          topics: ['orders'],
          startAt: { timestamp: from },
        });
        assert.deepEqual(
          (await collect(subscription, 2, suite.deadlineMs)).map((e) => e.id),
          ['event-4', 'event-5'],
        );
      },
    );
  },
};

/** Registers the timestamps group alone for `target`, as `EventLog conformance: <name>: timestamps`. */
export function describeTimestampConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [timestampsConformance]);
}
