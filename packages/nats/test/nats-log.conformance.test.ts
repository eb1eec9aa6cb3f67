import type { EventLog } from '@herald/core';
import { openNatsLog } from '@herald/nats';
import { describeEventLogConformance } from '@herald/testing';
import {
  TEST_SERVERS,
  deleteNamespace,
  reportUnavailable,
  serverUnavailable,
  uniqueNamespace,
} from './nats-test-server.ts';

const unavailable = await serverUnavailable();

if (unavailable !== undefined) {
  reportUnavailable('EventLog conformance: nats', unavailable);
} else {
  // Every test gets its own namespace (a prefix on its streams, subjects and keys), so tests
  // never see each other's topics on the shared server; every client of a test is a separate
  // NATS connection, as separate processes would be.
  describeEventLogConformance({
    name: 'nats',
    async setup() {
      const namespace = uniqueNamespace();
      const clients: EventLog[] = [];
      return {
        async open() {
          const log = await openNatsLog({
            servers: TEST_SERVERS,
            namespace,
            clientId: `herald-conformance-${clients.length}`,
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
