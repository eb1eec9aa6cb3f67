import type { EventLog } from '@herald/core';
import { openKafkaLog } from '@herald/kafka';
import { describeEventLogConformance } from '@herald/testing';
import {
  TEST_BROKERS,
  brokerUnavailable,
  deleteNamespace,
  reportUnavailable,
  uniqueNamespace,
} from './kafka-test-broker.ts';

const MAX_TOPIC_NAME = 249;
const unavailable = await brokerUnavailable();

if (unavailable !== undefined) {
  reportUnavailable('EventLog conformance: kafka', unavailable);
} else {
  // Every test gets its own namespace (a prefix on its topics and groups), so tests never see
  // each other's topics on the shared broker; every client of a test is a separate Kafka client,
  // as separate processes would be.
  describeEventLogConformance({
    name: 'kafka',
    maxTopicNameLength: MAX_TOPIC_NAME - uniqueNamespace().length,
    // Kafka raises the suite's 1 s session timeouts to group.min.session.timeout.ms (6 s by default).
    deadlineMs: 20_000,
    testTimeoutMs: 60_000,
    async setup() {
      const namespace = uniqueNamespace();
      const clients: EventLog[] = [];
      return {
        async open() {
          const log = await openKafkaLog({
            brokers: TEST_BROKERS,
            namespace,
            clientId: `herald-conformance-${clients.length}`,
            heartbeatIntervalMs: 200,
            fetchMaxWaitMs: 100,
          });
          clients.push(log);
          return log;
        },
        async [Symbol.asyncDispose]() {
          await Promise.allSettled(clients.map((client) => client.close()));
          await deleteNamespace(namespace);
        },
      };
    },
  });
}
