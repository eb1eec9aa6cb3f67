import assert from 'node:assert/strict';
import type { StoredEvent } from '@herald/core';
import {
  describeGroups,
  heraldError,
  idsOf,
  committedOf,
  twoMembersHoldingEvents,
  SHORT_SESSION_MS,
} from '../conformance-suite.ts';
import { collect, makeEvent, waitFor } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The fencing group of the EventLog conformance suite: a member that lost its partitions cannot commit what it got under the lost claim. */
export const fencingConformance: ConformanceGroup = {
  title: 'fencing',
  define(suite) {
    suite.test(
      'fences a member paused past its session timeout: its commits throw FENCED and do not move the group',
      { requires: ['faults'] },
      async ({ env, log: a, faults }) => {
        const b = await env.open();
        const { first: stale, second, firstGot: staleGot } = await twoMembersHoldingEvents(suite, a, b);
        await using live = second;
        const lastOfStale = staleGot.at(-1)!;

        faults!.freeze();
        let redelivered: StoredEvent[];
        try {
          await waitFor(
            () => live.assignment().length === 4,
            suite.deadlineMs,
            'the live member to take over every partition',
          );
          redelivered = await collect(live, staleGot.length, suite.deadlineMs);
        } finally {
          faults!.thaw();
        }
        assert.deepEqual(
          idsOf(redelivered),
          idsOf(staleGot),
          'the live member gets what the stale one never committed',
        );
        // Right after waking, before or after it rejoins: the events it got under its lost ownership stay uncommittable.
        await assert.rejects(stale.commit(lastOfStale), heraldError('FENCED'));
        assert.equal(
          await committedOf(b, 'billing', lastOfStale.topic, lastOfStale.partition),
          null,
          'the stale commit did not move the group',
        );
      },
    );

    suite.test(
      'refuses the commit of an event delivered before its partition was lost and claimed again, and accepts the same offset delivered again',
      { requires: ['faults'] },
      async ({ env, log: a, faults }) => {
        const b = await env.open();
        await b.createTopic('orders', { partitions: 1 });
        await b.appendBatch('orders', [makeEvent(0, 'k'), makeEvent(1, 'k'), makeEvent(2, 'k')]);
        const settings = { group: 'billing', topics: ['orders'], sessionTimeoutMs: SHORT_SESSION_MS };
        const stale = await a.subscribe(settings);
        const before = await collect(stale, 3, suite.deadlineMs);
        await stale.commit(before[0]!);

        // Stalled past its session: the other member takes the partition over, then leaves
        // without committing, and the stalled one, awake again, claims it anew and gets
        // offsets 1 and 2 a second time.
        faults!.freeze();
        const live = await b.subscribe(settings);
        try {
          assert.deepEqual(
            (await collect(live, 2, suite.deadlineMs)).map((e) => e.offset),
            [1, 2],
          );
        } finally {
          faults!.thaw();
        }
        await live.close();
        const again = await collect(stale, 2, suite.deadlineMs);
        assert.deepEqual(
          again.map((e) => [e.id, e.offset]),
          [
            ['event-1', 1],
            ['event-2', 2],
          ],
        );

        await assert.rejects(
          stale.commit(before[2]!),
          heraldError('FENCED'),
          'an event of the lost claim cannot be committed, though its offset is owned again',
        );
        await stale.commit(again[1]!);
        assert.equal(await committedOf(b, 'billing', 'orders', 0), 3);
        await stale.close();
      },
    );
  },
};

/** Registers the fencing group alone for `target`, as `EventLog conformance: <name>: fencing`. */
export function describeFencingConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [fencingConformance]);
}
