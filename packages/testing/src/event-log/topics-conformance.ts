import assert from 'node:assert/strict';
import { ensureTopic } from '@herald/core';
import { describeGroups, heraldError } from '../conformance-suite.ts';
import { makeEvent } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The topics group of the EventLog conformance suite: creating, listing and describing topics, and the names and counts they accept. */
export const topicsConformance: ConformanceGroup = {
  title: 'topics',
  define(suite) {
    suite.test(
      'creates topics, lists them and describes every partition to every client',
      async ({ env, log }) => {
        const info = await log.createTopic('orders', { partitions: 3, retention: { ms: 86_400_000 } });
        assert.equal(info.name, 'orders');
        assert.equal(info.partitions, 3);
        await log.createTopic('payments', { partitions: 1 });

        const other = await env.open();
        const listed = await other.listTopics();
        assert.deepEqual(listed.map((t) => [t.name, t.partitions]).sort(), [
          ['orders', 3],
          ['payments', 1],
        ]);
        const description = await other.describeTopic('orders');
        assert.equal(description.retention.ms, 86_400_000);
        assert.deepEqual(
          description.partitionInfo.map((p) => [p.partition, p.earliest, p.latest]),
          [
            [0, 0, 0],
            [1, 0, 0],
            [2, 0, 0],
          ],
        );

        await log.append('orders', makeEvent(1), { partition: 1 });
        await log.append('orders', makeEvent(2), { partition: 1 });
        const after = await other.describeTopic('orders');
        assert.deepEqual(
          after.partitionInfo.map((p) => [p.partition, p.earliest, p.latest]),
          [
            [0, 0, 0],
            [1, 0, 2],
            [2, 0, 0],
          ],
        );
      },
    );

    suite.test(
      'declares how telemetry names it: its own messaging.system, the attributes of offset and key, and its server',
      async ({ env, log }) => {
        const { system, offsetAttribute, keyAttribute, server } = log.capabilities.telemetry;
        assert.match(system, /^[a-z][a-z0-9_]*$/, "a messaging.system in the conventions' form");
        assert.notEqual(system, 'herald', 'the backend, not the library');
        for (const attribute of [offsetAttribute, keyAttribute]) {
          assert.match(attribute, /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'a dotted attribute name');
        }
        if (server !== undefined) {
          assert.ok(server.address.length > 0, 'a server address');
          assert.ok(Number.isInteger(server.port) && server.port >= 1 && server.port <= 65_535);
        }
        assert.deepEqual(
          (await env.open()).capabilities.telemetry,
          log.capabilities.telemetry,
          'every client says the same',
        );
      },
    );

    suite.test('refuses to create a topic that exists with TOPIC_EXISTS', async ({ env, log }) => {
      await log.createTopic('orders', { partitions: 2 });
      await assert.rejects(log.createTopic('orders', { partitions: 2 }), heraldError('TOPIC_EXISTS'));
      const other = await env.open();
      await assert.rejects(other.createTopic('orders', { partitions: 4 }), heraldError('TOPIC_EXISTS'));
      assert.equal((await log.describeTopic('orders')).partitions, 2);
    });

    suite.test(
      'ensureTopic creates a missing topic once, returns it on every later call from any client, and refuses another partition count with CONFLICT',
      async ({ env, log }) => {
        const created = await ensureTopic(log, 'orders', { partitions: 3 });
        assert.deepEqual([created.name, created.partitions], ['orders', 3]);
        await log.append('orders', makeEvent(1), { partition: 2 });

        const other = await env.open();
        const again = await Promise.all([
          ensureTopic(log, 'orders', { partitions: 3 }),
          ensureTopic(other, 'orders', { partitions: 3 }),
        ]);
        assert.deepEqual(
          again.map((t) => [t.name, t.partitions]),
          [
            ['orders', 3],
            ['orders', 3],
          ],
        );
        // Two clients racing to create one topic both succeed; the topic exists once.
        await Promise.all([
          ensureTopic(log, 'payments', { partitions: 2 }),
          ensureTopic(other, 'payments', { partitions: 2 }),
        ]);
        assert.deepEqual((await other.listTopics()).map((t) => [t.name, t.partitions]).sort(), [
          ['orders', 3],
          ['payments', 2],
        ]);

        await assert.rejects(ensureTopic(other, 'orders', { partitions: 4 }), (error: unknown) => {
          assert.ok(heraldError('CONFLICT')(error));
          assert.match((error as Error).message, /3 partitions, not the 4/);
          return true;
        });
        const description = await log.describeTopic('orders');
        assert.equal(description.partitions, 3);
        assert.equal(description.partitionInfo[2]?.latest, 1, 'the existing topic keeps its events');
      },
    );

    suite.test('refuses invalid topic names and partition counts with INVALID_ARGUMENT', async ({ log }) => {
      for (const name of [
        '',
        'has space',
        'slash/name',
        'x'.repeat(suite.maxTopicNameLength + 1),
        'ümlaut',
      ]) {
        await assert.rejects(log.createTopic(name, { partitions: 1 }), heraldError('INVALID_ARGUMENT'), name);
      }
      for (const partitions of [0, -1, 1.5, 10_001, Number.NaN]) {
        await assert.rejects(
          log.createTopic('orders', { partitions }),
          heraldError('INVALID_ARGUMENT'),
          String(partitions),
        );
      }
      assert.deepEqual(await log.listTopics(), []);
      await log.createTopic('Orders.v1_dead-letter', { partitions: 1 });
      await log.createTopic('y'.repeat(suite.maxTopicNameLength), { partitions: 1 });
    });

    suite.test('reports UNKNOWN_TOPIC for a topic that does not exist', async ({ log }) => {
      const unknown = heraldError('UNKNOWN_TOPIC');
      await assert.rejects(log.describeTopic('nowhere'), unknown);
      await assert.rejects(log.append('nowhere', makeEvent(1)), unknown);
      await assert.rejects(log.appendBatch('nowhere', [makeEvent(1)]), unknown);
      await assert.rejects(log.read('nowhere', { partition: 0, from: 'earliest' }), unknown);
      await assert.rejects(log.subscribe({ group: 'g', topics: ['nowhere'] }), unknown);
    });
  },
};

/** Registers the topics group alone for `target`, as `EventLog conformance: <name>: topics`. */
export function describeTopicConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [topicsConformance]);
}
