import assert from 'node:assert/strict';
import { describeGroups, heraldError } from '../conformance-suite.ts';
import { makeEvent, waitFor, within } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The closing group of the EventLog conformance suite: aborting a subscription and using a closed log. */
export const closingConformance: ConformanceGroup = {
  title: 'closing',
  define(suite) {
    suite.test(
      'closes the subscription and leaves the group when its AbortSignal aborts',
      async ({ log }) => {
        await log.createTopic('orders', { partitions: 2 });
        const controller = new AbortController();
        const subscription = await log.subscribe({
          group: 'billing',
          topics: ['orders'],
          signal: controller.signal,
        });
        let delivered = 0;
        const loop = (async () => {
          for await (const _ of subscription) delivered++;
        })();
        await log.append('orders', makeEvent(1));
        await waitFor(() => delivered === 1, suite.deadlineMs, 'the first event');
        controller.abort();
        await within(loop, suite.deadlineMs, 'the iteration to end after abort');
        await waitFor(
          async () => (await log.describeGroup('billing')).members.length === 0,
          suite.deadlineMs,
          'the member to leave the group',
        );
        await assert.rejects(
          subscription.commit([{ topic: 'orders', partition: 0, offset: 0 }]),
          heraldError('CLOSED'),
        );
      },
    );

    suite.test(
      'refuses use after close with CLOSED, and ends iterations in progress',
      async ({ env, log }) => {
        await log.createTopic('orders', { partitions: 1 });
        const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const iteration = subscription[Symbol.asyncIterator]().next();
        await log.close();
        const result = await within(
          iteration,
          suite.deadlineMs,
          'closing the log to end the iteration in progress',
        );
        assert.equal(result.done, true, 'closing the log ends iterations in progress');

        const closed = heraldError('CLOSED');
        await assert.rejects(log.append('orders', makeEvent(1)), closed);
        await assert.rejects(log.appendBatch('orders', [makeEvent(1)]), closed);
        await assert.rejects(log.read('orders', { partition: 0, from: 'earliest' }), closed);
        await assert.rejects(log.createTopic('more', { partitions: 1 }), closed);
        await assert.rejects(log.describeTopic('orders'), closed);
        await assert.rejects(log.listTopics(), closed);
        await assert.rejects(log.subscribe({ group: 'billing', topics: ['orders'] }), closed);
        await assert.rejects(log.describeGroup('billing'), closed);
        await assert.rejects(subscription.commit([{ topic: 'orders', partition: 0, offset: 0 }]), closed);
        await log.close();
        await subscription.close();

        const other = await env.open();
        assert.deepEqual(
          (await other.listTopics()).map((t) => t.name),
          ['orders'],
        );
        assert.equal((await other.describeGroup('billing')).members.length, 0, 'closing left the group');
      },
    );
  },
};

/** Registers the closing group alone for `target`, as `EventLog conformance: <name>: closing`. */
export function describeClosingConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [closingConformance]);
}
