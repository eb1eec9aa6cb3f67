import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isHeraldError } from '@herald/core';
import { faultInjection } from '@herald/core/backend';
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
  reportUnavailable('KafkaSubscription fencing', unavailable);
} else {
  void describe('KafkaSubscription fencing', () => {
    void it(
      'refuses the commit of an event delivered before its partition was lost and claimed again, and accepts the same offset redelivered',
      { timeout: 90_000 },
      async () => {
        const namespace = uniqueNamespace();
        const log = await openKafkaLog({
          brokers: TEST_BROKERS,
          namespace,
          heartbeatIntervalMs: 200,
          fetchMaxWaitMs: 100,
        });
        try {
          await log.createTopic('orders', { partitions: 1 });
          await log.appendBatch('orders', [makeEvent(0, 'k'), makeEvent(1, 'k'), makeEvent(2, 'k')]);
          // The broker raises this to its floor (group.min.session.timeout.ms, 6 s by default).
          const subscription = await log.subscribe({
            group: 'billing',
            topics: ['orders'],
            sessionTimeoutMs: 1_000,
          });
          try {
            const before = await collect(subscription, 3, 20_000);
            await subscription.commit(before[0]!);

            // Stalled past its session: the broker expires the member; on waking it learns so,
            // gives the partition up and joins again as a new member, which claims it anew and
            // redelivers what was not committed.
            log[faultInjection].freeze();
            await sleep(8_000);
            log[faultInjection].thaw();
            const after = await collect(subscription, 2, 30_000);

            assert.deepEqual(
              after.map((e) => [e.id, e.offset]),
              [
                ['event-1', 1],
                ['event-2', 2],
              ],
              'the uncommitted events come again, at the same offsets',
            );
            await assert.rejects(
              subscription.commit(before[2]!),
              (error: unknown) => isHeraldError(error, 'FENCED'),
              'an event of the lost claim cannot be committed, though its offset is owned again',
            );
            await subscription.commit(after[1]!);
            const described = await log.describeGroup('billing');
            assert.equal(described.partitions.find((p) => p.topic === 'orders')?.committed, 3);
          } finally {
            await subscription.close();
          }
        } finally {
          await log.close();
          await deleteNamespace(namespace);
        }
      },
    );
  });
}
