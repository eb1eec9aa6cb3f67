import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionFor } from '@herald/core';
import type { AppendResult, CloudEvent } from '@herald/core';
import { openKafkaLog } from '@herald/kafka';
import { producerSendsChannel } from '@platformatic/kafka';
import {
  TEST_BROKERS,
  brokerUnavailable,
  deleteNamespace,
  reportUnavailable,
  uniqueNamespace,
} from './kafka-test-broker.ts';

const unavailable = await brokerUnavailable();

function event(i: number): CloudEvent {
  return {
    specversion: '1.0',
    id: `e-${i}`,
    source: '/test',
    type: 'dev.herald.test.happened.v1',
    partitionkey: `key-${i % 7}`,
    data: new TextEncoder().encode(`{"i":${i}}`),
  };
}

if (unavailable !== undefined) {
  reportUnavailable('KafkaLog appends', unavailable);
} else {
  void describe('KafkaLog appends', () => {
    void it('names itself kafka in telemetry, with the Kafka attributes and its first broker', async () => {
      const log = await openKafkaLog({ brokers: TEST_BROKERS, namespace: uniqueNamespace() });
      try {
        const [host, port] = TEST_BROKERS[0]!.split(':');
        assert.deepEqual(log.capabilities.telemetry, {
          system: 'kafka',
          offsetAttribute: 'messaging.kafka.offset',
          keyAttribute: 'messaging.kafka.message.key',
          server: { address: host, port: Number(port) },
        });
      } finally {
        await log.close();
      }
    });

    void it(
      'sends appends made while a request is out together in the next one, each with its own offset, in call order',
      { timeout: 60_000 },
      async () => {
        const namespace = uniqueNamespace();
        const log = await openKafkaLog({ brokers: TEST_BROKERS, namespace });
        let sends = 0;
        const countSend = (): void => void sends++;
        try {
          await log.createTopic('orders', { partitions: 3 });
          await log.append('orders', event(-1));
          producerSendsChannel.start.subscribe(countSend);
          const appends: Promise<AppendResult | readonly AppendResult[]>[] = [];
          for (let i = 0; i < 200; i++) {
            appends.push(
              i === 100
                ? log.appendBatch('orders', [event(1000), event(1001)])
                : log.append('orders', event(i)),
            );
          }
          const results = (await Promise.all(appends)).flat();
          producerSendsChannel.start.unsubscribe(countSend);

          assert.ok(sends >= 1 && sends <= 5, `${sends} produce requests for 200 appends`);
          const ids = [...Array.from({ length: 100 }, (_, i) => `e-${i}`), 'e-1000', 'e-1001'];
          ids.push(...Array.from({ length: 99 }, (_, i) => `e-${i + 101}`));
          assert.equal(results.length, ids.length);
          const lastOffset = new Map<number, number>();
          for (const [i, result] of results.entries()) {
            const id = ids[i]!;
            const n = Number(id.slice(2));
            assert.equal(
              result.partition,
              partitionFor(`key-${n % 7}`, 3),
              `${id} went to its key's partition`,
            );
            assert.ok(
              result.offset > (lastOffset.get(result.partition) ?? -1),
              `${id} comes after earlier calls`,
            );
            lastOffset.set(result.partition, result.offset);
            const [stored] = await log.read('orders', {
              partition: result.partition,
              from: { offset: result.offset },
              limit: 1,
            });
            assert.equal(
              stored?.id,
              id,
              `offset ${result.offset} of partition ${result.partition} holds ${id}`,
            );
            assert.equal(stored?.timestamp, result.timestamp);
          }
        } finally {
          producerSendsChannel.start.unsubscribe(countSend);
          await log.close();
          await deleteNamespace(namespace);
        }
      },
    );
  });
}
