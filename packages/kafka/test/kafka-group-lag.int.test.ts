// groupLag on a real Kafka broker: the age of the oldest unconsumed event is its broker append
// time (LogAppendTime), read at the group's committed offset. Needs HERALD_TEST_KAFKA.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupLag } from '@herald/core/ops';
import { openKafkaLog } from '@herald/kafka';
import { collect, makeEvent } from '@herald/testing';
import {
  TEST_BROKERS,
  brokerUnavailable,
  deleteNamespace,
  reportUnavailable,
  uniqueNamespace,
} from './kafka-test-broker.ts';

const unavailable = await brokerUnavailable();

if (unavailable !== undefined) {
  reportUnavailable('groupLag on Kafka', unavailable);
} else {
  void describe('groupLag on Kafka', { timeout: 120_000 }, () => {
    void it('measures a group behind by the age of the event at its committed offset', async () => {
      const namespace = uniqueNamespace();
      const log = await openKafkaLog({ brokers: TEST_BROKERS, namespace, fetchMaxWaitMs: 100 });
      try {
        await log.createTopic('orders', { partitions: 1 });
        await log.appendBatch(
          'orders',
          Array.from({ length: 4 }, (_, i) => makeEvent(i)),
        );
        const member = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const events = await collect(member, 4, 30_000);
        await member.commit(events[0]!);
        await member.close();

        const now = events[1]!.timestamp + 7_000;
        const lag = await groupLag(log, 'billing', { now });
        assert.deepEqual(lag.partitions, [
          {
            topic: 'orders',
            partition: 0,
            committed: 1,
            latest: 4,
            lag: 3,
            lagSeconds: 7,
            oldestUnconsumedTimestamp: events[1]!.timestamp,
          },
        ]);
        assert.deepEqual(lag.totals, { lag: 3, lagSeconds: 7 });

        const caughtUp = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const rest = await collect(caughtUp, 3, 30_000);
        await caughtUp.commit(rest[2]!);
        await caughtUp.close();
        assert.deepEqual((await groupLag(log, 'billing', { now })).totals, { lag: 0, lagSeconds: 0 });
      } finally {
        await log.close();
        await deleteNamespace(namespace);
      }
    });
  });
}
