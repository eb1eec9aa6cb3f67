import assert from 'node:assert/strict';
import { describeGroups, idsOf, appendKeyed, committedOf } from '../conformance-suite.ts';
import { collect, readAll } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The durability group of the EventLog conformance suite: what survives closing and reopening the log. */
export const durabilityConformance: ConformanceGroup = {
  title: 'durability',
  define(suite) {
    suite.test(
      'keeps topics, events and committed offsets across close and reopen',
      { requires: ['durable'] },
      async ({ env, log }) => {
        await log.createTopic('orders', { partitions: 2 });
        const appended = await appendKeyed(log, 'orders', 20);
        const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const events = await collect(subscription, 20, suite.deadlineMs);
        const committed = events.find((e) => e.partition === 0)!;
        await subscription.commit(committed);
        await log.close();

        const reopened = await env.open();
        assert.deepEqual(
          (await reopened.listTopics()).map((x) => [x.name, x.partitions]),
          [['orders', 2]],
        );
        const stored = await readAll(reopened, 'orders');
        assert.deepEqual(idsOf(stored), idsOf(appended.map((a) => a.event)));
        for (const { event, result } of appended) {
          const found = stored.find((e) => e.id === event.id)!;
          assert.deepEqual([found.partition, found.offset], [result.partition, result.offset]);
          assert.deepEqual([...found.data!], [...event.data!]);
        }
        assert.equal(await committedOf(reopened, 'billing', 'orders', 0), committed.offset + 1);
      },
    );
  },
};

/** Registers the durability group alone for `target`, as `EventLog conformance: <name>: durability`. */
export function describeDurabilityConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [durabilityConformance]);
}
