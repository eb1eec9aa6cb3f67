import assert from 'node:assert/strict';
import {
  describeGroups,
  idsOf,
  appendKeyed,
  appendNumbered,
  committedOf,
  QUIET_MS,
} from '../conformance-suite.ts';
import { collect, collectFor, sleep, waitFor } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The delivery group of the EventLog conformance suite: what a consumer group receives, in which order, and from where it starts. */
export const deliveryConformance: ConformanceGroup = {
  title: 'delivery',
  define(suite) {
    suite.test(
      'delivers events in offset order per partition, and new events reach a waiting subscriber',
      async ({ env, log: producer }) => {
        await producer.createTopic('orders', { partitions: 3 });
        await appendKeyed(producer, 'orders', 30);
        const consumer = await env.open();
        await using subscription = await consumer.subscribe({ group: 'billing', topics: ['orders'] });
        const first = await collect(subscription, 30, suite.deadlineMs);

        const waiting = collect(subscription, 30, suite.deadlineMs);
        await sleep(20);
        await appendKeyed(producer, 'orders', 30, 8, 30);
        const second = await waiting;

        const delivered = [...first, ...second];
        assert.equal(new Set(delivered.map((e) => e.id)).size, 60);
        for (let partition = 0; partition < 3; partition++) {
          const offsets = delivered.filter((e) => e.partition === partition).map((e) => e.offset);
          assert.deepEqual(
            offsets,
            offsets.map((_, i) => i),
            `partition ${partition} in offset order`,
          );
        }
        assert.deepEqual(await collectFor(subscription, QUIET_MS), []);
      },
    );

    suite.test(
      'delivers in batches via batches(), never more than maxBufferedEvents at once',
      async ({ log }) => {
        await log.createTopic('orders', { partitions: 1 });
        await appendNumbered(log, 'orders', 30);
        await using subscription = await log.subscribe({
          group: 'batch',
          topics: ['orders'],
          maxBufferedEvents: 7,
        });
        const offsets: number[] = [];
        for await (const batch of subscription.batches()) {
          assert.ok(batch.length >= 1 && batch.length <= 7, `batch of ${batch.length}`);
          offsets.push(...batch.map((e) => e.offset));
          if (offsets.length >= 30) break;
        }
        assert.deepEqual(
          offsets,
          Array.from({ length: 30 }, (_, i) => i),
        );
      },
    );

    suite.test('redelivers uncommitted events after a restart', async ({ env, log: first }) => {
      await first.createTopic('orders', { partitions: 1 });
      await appendNumbered(first, 'orders', 10);
      const subscription = await first.subscribe({ group: 'billing', topics: ['orders'] });
      const events = await collect(subscription, 10, suite.deadlineMs);
      await subscription.commit(events[3]!);
      await first.close();

      const second = await env.open();
      assert.equal(await committedOf(second, 'billing', 'orders', 0), 4);
      await using again = await second.subscribe({ group: 'billing', topics: ['orders'] });
      const redelivered = await collect(again, 6, suite.deadlineMs);
      assert.deepEqual(
        redelivered.map((e) => e.offset),
        [4, 5, 6, 7, 8, 9],
      );
      assert.deepEqual(await collectFor(again, QUIET_MS), []);
    });

    suite.test('keeps independent positions for different groups', async ({ log }) => {
      await log.createTopic('orders', { partitions: 1 });
      await appendNumbered(log, 'orders', 10);
      await using billing = await log.subscribe({ group: 'billing', topics: ['orders'] });
      const billed = await collect(billing, 10, suite.deadlineMs);
      await billing.commit(billed.at(-1)!);

      await using shipping = await log.subscribe({ group: 'shipping', topics: ['orders'] });
      assert.deepEqual(
        (await collect(shipping, 10, suite.deadlineMs)).map((e) => e.offset),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.equal(await committedOf(log, 'billing', 'orders', 0), 10);
      assert.equal(await committedOf(log, 'shipping', 'orders', 0), null);
      assert.deepEqual((await log.listGroups()).filter((g) => g === 'billing' || g === 'shipping').sort(), [
        'billing',
        'shipping',
      ]);
    });

    suite.test(
      "starts a new group with startAt 'latest' at the end: it sees only events appended after it joined",
      async ({ log }) => {
        await log.createTopic('orders', { partitions: 2 });
        await appendKeyed(log, 'orders', 10);
        await using subscription = await log.subscribe({
          group: 'late',
          topics: ['orders'],
          startAt: 'latest',
        });
        await waitFor(
          () => subscription.assignment().length === 2,
          suite.deadlineMs,
          'the member to own both partitions',
        );
        await sleep(50);
        const fresh = await appendKeyed(log, 'orders', 5, 8, 100);
        const delivered = await collect(subscription, 5, suite.deadlineMs);
        assert.deepEqual(idsOf(delivered), idsOf(fresh.map((f) => f.event)));
        assert.deepEqual(await collectFor(subscription, QUIET_MS), []);
      },
    );
  },
};

/** Registers the delivery group alone for `target`, as `EventLog conformance: <name>: delivery`. */
export function describeDeliveryConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [deliveryConformance]);
}
