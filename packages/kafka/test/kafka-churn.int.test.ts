// Faults F21, F4 and F5 on Kafka, with Postgres as the store (as production pairs them); the
// test is @herald/testing's describeChurn.
//
// The broker is HERALD_TEST_KAFKA (topics and group in a fresh namespace, deleted afterwards),
// Postgres HERALD_TEST_POSTGRES (a fresh schema, dropped afterwards). Without either the test
// fails in CI (CI=true) and is skipped elsewhere.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type ChurnRound, describeChurn } from '@herald/testing';
import {
  TEST_POSTGRES,
  postgresUnavailable,
  reportUnavailable as reportPostgresUnavailable,
} from '../../postgres/test/fixtures/test-postgres.ts';
import {
  TEST_BROKERS,
  brokerUnavailable,
  deleteNamespace,
  reportUnavailable,
  uniqueNamespace,
} from './kafka-test-broker.ts';

/** Kafka's floor (group.min.session.timeout.ms): a member stopped this long is expired by the broker. */
const SESSION_TIMEOUT_MS = 6_000;

const ROUNDS: readonly ChurnRound[] = [
  'kill',
  'pause',
  'leave-join',
  'join-leave',
  'kill',
  'pause',
  'leave-join',
  'kill',
  'pause',
  'join-leave',
];

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const WHAT = 'consumer groups under churn on Kafka with a Postgres store';
const noBroker = await brokerUnavailable();
const noPostgres = noBroker === undefined ? await postgresUnavailable() : undefined;

if (noBroker !== undefined) {
  reportUnavailable(WHAT, noBroker);
} else if (noPostgres !== undefined) {
  reportPostgresUnavailable(WHAT, noPostgres);
} else {
  describeChurn({
    name: 'Kafka with a Postgres store',
    rounds: ROUNDS,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    // A killed member's partitions wait for its session to expire before anyone reads them.
    stallTimeoutMs: 90_000,
    timeoutMs: 900_000,
    // As the order services open theirs: every handler writes what it read, so repeatable read
    // loses no update, and group commit runs one process's handler transactions in shared
    // Postgres transactions.
    postgres: { isolation: 'repeatable read', groupCommit: true },
    setup() {
      const namespace = uniqueNamespace();
      const schema = `herald_churn_${randomBytes(5).toString('hex')}`;
      return Promise.resolve({
        logUrl: `kafka://${TEST_BROKERS.join(',')}?namespace=${namespace}&heartbeatIntervalMs=500&fetchMaxWaitMs=100`,
        storeUrl: `${TEST_POSTGRES}${TEST_POSTGRES.includes('?') ? '&' : '?'}schema=${schema}`,
        async [Symbol.asyncDispose]() {
          await deleteNamespace(namespace);
          await dropSchema(schema);
        },
      });
    },
  });
}
