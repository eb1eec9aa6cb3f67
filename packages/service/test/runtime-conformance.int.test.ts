// The runtime suite on Kafka and on NATS JetStream, each with a Postgres store whose outbox relay
// publishes to that log — the store a service on a broker uses. Needs the test servers:
// HERALD_TEST_KAFKA (default 127.0.0.1:19092), HERALD_TEST_NATS (127.0.0.1:4222) and
// HERALD_TEST_POSTGRES (postgres://postgres@127.0.0.1:5432/test); it fails when one is missing.
import { randomBytes } from 'node:crypto';
import { openEventLog, openStore } from '@herald/core';
import { describeRuntimeConformance } from '@herald/testing';
import pg from 'pg';
import { deleteNamespace as deleteKafkaNamespace } from '../../kafka/test/kafka-test-broker.ts';

const TEST_POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0];
const NATS = (process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222').split(',')[0];

for (const [name, logUrl] of [
  ['kafka + postgres', (id: string) => `kafka://${KAFKA}?namespace=${id}.`],
  ['nats + postgres', (id: string) => `nats://${NATS}?namespace=${id}`],
] as const) {
  describeRuntimeConformance({
    name,
    // A broker's group coordinator takes seconds to settle a rebalance.
    deadlineMs: 45_000,
    setup: async () => {
      const id = `rt${randomBytes(4).toString('hex')}`;
      const log = await openEventLog(logUrl(id));
      const store = await openStore(
        `${TEST_POSTGRES}${TEST_POSTGRES.includes('?') ? '&' : '?'}schema=${id}`,
        { log },
      );
      return {
        log,
        store,
        [Symbol.asyncDispose]: async () => {
          await store.close();
          await log.close();
          const pool = new pg.Pool({ connectionString: TEST_POSTGRES, max: 1 });
          await pool.query(`DROP SCHEMA IF EXISTS "${id}" CASCADE`);
          await pool.end();
          if (name.startsWith('kafka')) await deleteKafkaNamespace(`${id}.`);
        },
      };
    },
  });
}
