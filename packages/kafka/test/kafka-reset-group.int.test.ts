// resetGroup on a real Kafka broker: moved with Kafka's own admin protocol (an OffsetCommit
// outside any generation), refused while the group has members, the replay mark kept in the
// committed offsets' metadata. Needs HERALD_TEST_KAFKA (default 127.0.0.1:19092).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { openKafkaLog } from '@herald/kafka';
import type { KafkaLog } from '@herald/kafka';
import { Admin, findErrorBy } from '@platformatic/kafka';
import { collect, makeEvent } from '@herald/testing';
import {
  TEST_BROKERS,
  brokerUnavailable,
  deleteNamespace,
  reportUnavailable,
  uniqueNamespace,
} from './kafka-test-broker.ts';

const unavailable = await brokerUnavailable();

interface Env extends AsyncDisposable {
  readonly log: KafkaLog;
  readonly namespace: string;
}

async function setup(): Promise<Env> {
  const namespace = uniqueNamespace();
  const log = await openKafkaLog({
    brokers: TEST_BROKERS,
    namespace,
    heartbeatIntervalMs: 200,
    fetchMaxWaitMs: 100,
  });
  return {
    log,
    namespace,
    async [Symbol.asyncDispose]() {
      await log.close();
      await deleteNamespace(namespace);
    },
  };
}

if (unavailable !== undefined) {
  reportUnavailable('KafkaLog resetGroup', unavailable);
} else {
  void describe('KafkaLog resetGroup', { timeout: 120_000 }, () => {
    void it('is refused while members are live, then rewinds and marks what was handled as a replay', async () => {
      await using env = await setup();
      const { log } = env;
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch(
        'orders',
        Array.from({ length: 6 }, (_, i) => makeEvent(i)),
      );
      const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
      const events = await collect(subscription, 6, 30_000);
      await subscription.commit(events[4]!);
      await assert.rejects(log.resetGroup('billing', { to: 'earliest' }), (error) =>
        isHeraldError(error, 'CONFLICT'),
      );
      await subscription.close();

      assert.deepEqual(await log.resetGroup('billing', { to: 'earliest', dryRun: true }), [
        { topic: 'orders', partition: 0, from: 5, to: 0 },
      ]);
      assert.equal(
        (await log.describeGroup('billing')).partitions[0]?.committed,
        5,
        'a dry run changes nothing',
      );
      assert.deepEqual(await log.resetGroup('billing', { to: 'earliest' }), [
        { topic: 'orders', partition: 0, from: 5, to: 0 },
      ]);
      const [state] = (await log.describeGroup('billing')).partitions;
      assert.deepEqual([state?.committed, state?.replayUntil], [0, 5]);

      const again = await log.subscribe({ group: 'billing', topics: ['orders'] });
      const replayed = await collect(again, 6, 30_000);
      assert.deepEqual(
        replayed.map((e) => e.offset),
        [0, 1, 2, 3, 4, 5],
      );
      await again.commit(replayed[1]!);
      const [during] = (await log.describeGroup('billing')).partitions;
      assert.deepEqual([during?.committed, during?.replayUntil], [2, 5], "the group's commits keep the mark");
      await again.close();
    });

    void it('moves to the latest offsets, to a time, and to named offsets, only on the topics asked for', async () => {
      await using env = await setup();
      const { log } = env;
      await log.createTopic('orders', { partitions: 2 });
      await log.createTopic('payments', { partitions: 1 });
      for (let i = 0; i < 4; i++) await log.append('orders', makeEvent(i), { partition: i % 2 });
      await log.append('payments', makeEvent(10));
      const at = (await log.read('orders', { partition: 1, from: 'earliest' }))[1]!.timestamp;
      // The first offset of partition 0 appended at or after `at`, as a read from that time finds it.
      const fromTime = (await log.read('orders', { partition: 0, from: { timestamp: at } }))[0]?.offset ?? 2;

      // A group that never ran: the topics must be named.
      await assert.rejects(log.resetGroup('audit', { to: 'latest' }), (error) =>
        isHeraldError(error, 'INVALID_ARGUMENT'),
      );
      assert.deepEqual(await log.resetGroup('audit', { to: 'latest', topics: ['orders', 'payments'] }), [
        { topic: 'orders', partition: 0, from: null, to: 2 },
        { topic: 'orders', partition: 1, from: null, to: 2 },
        { topic: 'payments', partition: 0, from: null, to: 1 },
      ]);
      assert.deepEqual(await log.resetGroup('audit', { to: { timestamp: at }, topics: ['orders'] }), [
        { topic: 'orders', partition: 0, from: 2, to: fromTime },
        { topic: 'orders', partition: 1, from: 2, to: 1 },
      ]);
      assert.deepEqual(
        await log.resetGroup('audit', {
          to: { offsets: [{ topic: 'payments', partition: 0, offset: 0 }] },
          topics: ['payments'],
        }),
        [{ topic: 'payments', partition: 0, from: 1, to: 0 }],
      );
      const states = (await log.describeGroup('audit')).partitions.map((p) => [
        p.topic,
        p.partition,
        p.committed,
        p.replayUntil,
      ]);
      assert.deepEqual(states, [
        ['orders', 0, fromTime, fromTime < 2 ? 2 : undefined],
        ['orders', 1, 1, 2],
        ['payments', 0, 0, 1],
      ]);
      // A later reset keeps the higher mark.
      await log.resetGroup('audit', { to: 'latest', topics: ['payments'] });
      await log.resetGroup('audit', { to: 'earliest', topics: ['payments'] });
      const payments = (await log.describeGroup('audit')).partitions.find((p) => p.topic === 'payments');
      assert.deepEqual([payments?.committed, payments?.replayUntil], [0, 1]);
    });

    void it('refuses offsets past the end, an unknown topic, and a record to store with the reset, changing nothing', async () => {
      await using env = await setup();
      const { log } = env;
      await log.createTopic('orders', { partitions: 1 });
      await log.append('orders', makeEvent(1));
      await assert.rejects(
        log.resetGroup('billing', {
          to: { offsets: [{ topic: 'orders', partition: 0, offset: 99 }] },
          topics: ['orders'],
        }),
        (error) => isHeraldError(error, 'INVALID_ARGUMENT'),
      );
      await assert.rejects(log.resetGroup('billing', { to: 'earliest', topics: ['nowhere'] }), (error) =>
        isHeraldError(error, 'UNKNOWN_TOPIC'),
      );
      await assert.rejects(
        log.resetGroup('billing', {
          to: 'earliest',
          topics: ['orders'],
          record: { collection: 'audit', id: '1', value: (plan) => plan },
        }),
        (error) => isHeraldError(error, 'UNSUPPORTED'),
      );
      assert.deepEqual((await log.describeGroup('billing')).partitions, []);
    });

    void it('relies on a broker that refuses an offset commit outside a generation while the group has a member', async () => {
      // What makes a reset safe against a consumer joining between its check and its commit:
      // the coordinator refuses the reset's own kind of commit (UNKNOWN_MEMBER_ID, which the
      // reset reports as CONFLICT) once the group has a member.
      await using env = await setup();
      const { log, namespace } = env;
      await log.createTopic('orders', { partitions: 1 });
      await log.append('orders', makeEvent(1));
      const member = await log.subscribe({ group: 'billing', topics: ['orders'] });
      const admin = new Admin({
        clientId: 'herald-test-resetter',
        bootstrapBrokers: TEST_BROKERS,
        retries: 0,
      });
      try {
        await assert.rejects(
          admin.alterConsumerGroupOffsets({
            groupId: `${namespace}billing`,
            topics: [{ name: `${namespace}orders`, partitionOffsets: [{ partition: 0, offset: 0n }] }],
          }),
          (error: Error) => findErrorBy(error, 'apiId', 'UNKNOWN_MEMBER_ID') !== null,
        );
      } finally {
        await admin.close();
        await member.close();
      }
    });

    void it('leaves the replay mark readable by Kafka tools as the offset metadata, and the offsets themselves standard', async () => {
      await using env = await setup();
      const { log, namespace } = env;
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch(
        'orders',
        Array.from({ length: 3 }, (_, i) => makeEvent(i)),
      );
      await log.resetGroup('billing', { to: 'latest', topics: ['orders'] });
      await log.resetGroup('billing', { to: 'earliest' });
      const admin = new Admin({ clientId: 'herald-test-reader', bootstrapBrokers: TEST_BROKERS });
      try {
        const [group] = await admin.listConsumerGroupOffsets({ groups: [`${namespace}billing`] });
        const [partition] = group?.topics.find((t) => t.name === `${namespace}orders`)?.partitions ?? [];
        assert.equal(partition?.committedOffset, 0n);
        assert.equal(partition?.metadata, 'herald:{"replayUntil":3}');
      } finally {
        await admin.close();
      }
    });
  });
}
