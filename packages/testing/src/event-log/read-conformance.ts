import assert from 'node:assert/strict';
import type { StoredEvent } from '@herald/core';
import { describeGroups, heraldError } from '../conformance-suite.ts';
import { makeEvent } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The read group of the EventLog conformance suite: reading a partition from earliest, latest and an offset. */
export const readConformance: ConformanceGroup = {
  title: 'read',
  define(suite) {
    suite.test('reads from earliest, latest and an exact offset, at most limit events', async ({ log }) => {
      await log.createTopic('orders', { partitions: 2 });
      for (let i = 0; i < 10; i++) await log.append('orders', makeEvent(i), { partition: 1 });
      const offsets = (events: readonly StoredEvent[]) => events.map((e) => e.offset);

      assert.deepEqual(
        offsets(await log.read('orders', { partition: 1, from: 'earliest', limit: 3 })),
        [0, 1, 2],
      );
      assert.deepEqual(offsets(await log.read('orders', { partition: 1, from: { offset: 7 } })), [7, 8, 9]);
      assert.deepEqual(
        offsets(await log.read('orders', { partition: 1, from: { offset: 4 }, limit: 2 })),
        [4, 5],
      );
      assert.deepEqual(await log.read('orders', { partition: 1, from: 'latest' }), []);
      assert.deepEqual(await log.read('orders', { partition: 1, from: { offset: 10 } }), []);
      assert.deepEqual(await log.read('orders', { partition: 0, from: 'earliest' }), []);
      const all = await log.read('orders', { partition: 1, from: 'earliest' });
      assert.deepEqual(offsets(all), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.deepEqual(
        all.map((e) => e.id),
        Array.from({ length: 10 }, (_, i) => `event-${i}`),
      );

      await assert.rejects(
        log.read('orders', { partition: 2, from: 'earliest' }),
        heraldError('INVALID_ARGUMENT'),
      );
      await assert.rejects(
        log.read('orders', { partition: 1, from: { offset: -1 } }),
        heraldError('INVALID_ARGUMENT'),
      );
    });
  },
};

/** Registers the read group alone for `target`, as `EventLog conformance: <name>: read`. */
export function describeReadConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [readConformance]);
}
