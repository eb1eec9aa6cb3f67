import assert from 'node:assert/strict';
import type { StoredEvent, Subscription } from '@herald/core';
import { describeGroups, keysOf, appendNumbered, committedOf } from '../conformance-suite.ts';
import { collect } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The commits group of the EventLog conformance suite: committed offsets only move forward, survive close, and describe the group. */
export const commitsConformance: ConformanceGroup = {
  title: 'commits',
  define(suite) {
    suite.test(
      'on close, calls onRevoked before leaving and lets it commit the work in flight',
      async ({ log }) => {
        await log.createTopic('orders', { partitions: 1 });
        await appendNumbered(log, 'orders', 5);
        let commitError: unknown;
        const holder: { subscription?: Subscription; inFlight?: StoredEvent } = {};
        holder.subscription = await log.subscribe({
          group: 'billing',
          topics: ['orders'],
          onRevoked: async () => {
            try {
              if (holder.inFlight !== undefined) await holder.subscription!.commit(holder.inFlight);
            } catch (error) {
              commitError = error;
            }
          },
        });
        const events = await collect(holder.subscription, 5, suite.deadlineMs);
        holder.inFlight = events[3]!;
        await holder.subscription.close();
        assert.equal(commitError, undefined, 'the commit made in onRevoked during close succeeded');
        assert.equal(await committedOf(log, 'billing', 'orders', 0), 4);
      },
    );

    suite.test('never moves a committed offset back', async ({ env, log }) => {
      await log.createTopic('orders', { partitions: 1 });
      await appendNumbered(log, 'orders', 10);
      const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
      const events = await collect(subscription, 10, suite.deadlineMs);
      await subscription.commit(events[7]!);
      await subscription.commit(events[2]!);
      assert.equal(await committedOf(log, 'billing', 'orders', 0), 8);
      await subscription.commit([{ topic: 'orders', partition: 0, offset: 5 }]);
      assert.equal(await committedOf(log, 'billing', 'orders', 0), 8);
      await subscription.commit([{ topic: 'orders', partition: 0, offset: 9 }]);
      assert.equal(await committedOf(log, 'billing', 'orders', 0), 9);
      await subscription.close();

      const other = await env.open();
      await using again = await other.subscribe({ group: 'billing', topics: ['orders'] });
      assert.deepEqual(
        (await collect(again, 1, suite.deadlineMs)).map((e) => e.offset),
        [9],
      );
    });

    suite.test('describes groups: members, their partitions, committed offsets and lag', async ({ log }) => {
      await log.createTopic('orders', { partitions: 1 });
      await appendNumbered(log, 'orders', 10);
      await using subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
      const events = await collect(subscription, 10, suite.deadlineMs);
      await subscription.commit(events[3]!);

      const description = await log.describeGroup('billing');
      assert.equal(description.group, 'billing');
      assert.equal(description.members.length, 1);
      assert.equal(description.members[0]!.memberId, subscription.memberId);
      assert.deepEqual(keysOf(description.members[0]!.partitions), ['orders/0']);
      assert.ok(description.members[0]!.lastHeartbeat > 0);
      assert.deepEqual(
        description.partitions.map(({ topic, partition, committed, latest, lag }) => ({
          topic,
          partition,
          committed,
          latest,
          lag,
        })),
        [{ topic: 'orders', partition: 0, committed: 4, latest: 10, lag: 6 }],
      );
      assert.ok((await log.listGroups()).includes('billing'));

      await appendNumbered(log, 'orders', 5, 10);
      const [state] = (await log.describeGroup('billing')).partitions;
      assert.deepEqual([state?.committed, state?.latest, state?.lag], [4, 15, 11]);
    });
  },
};

/** Registers the commits group alone for `target`, as `EventLog conformance: <name>: commits`. */
export function describeCommitConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [commitsConformance]);
}
