// Faults F21, F4 and F5 on Kafka, with Postgres as the store (as production pairs them):
// consumer-group members in their own processes, killed with SIGKILL, stopped with SIGSTOP past
// their session timeout and resumed, leaving and joining, while a producer appends all along.
// Afterwards a history checker reads the topic, the group's inbox and the effects in Postgres:
// every event must have exactly one effect, each key's effects committed in the key's order.
//
// The broker is HERALD_TEST_KAFKA (topics and group in a fresh namespace, deleted afterwards),
// Postgres HERALD_TEST_POSTGRES (a fresh schema, dropped afterwards). Without either the test
// fails in CI (CI=true) and is skipped elsewhere.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { type ChurnRound, describeFaults, describeReport, runChurn } from '@herald/testing';
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
  void describe(
    'consumer groups under churn on Kafka with a Postgres store (F21, F4, F5)',
    { timeout: 900_000 },
    () => {
      void it('gives every event exactly one effect, in key order, while members die, stall, leave and join', async (t) => {
        const namespace = uniqueNamespace();
        const schema = `herald_churn_${randomBytes(5).toString('hex')}`;
        try {
          const result = await runChurn({
            logUrl: `kafka://${TEST_BROKERS.join(',')}?namespace=${namespace}&heartbeatIntervalMs=500&fetchMaxWaitMs=100`,
            storeUrl: `${TEST_POSTGRES}${TEST_POSTGRES.includes('?') ? '&' : '?'}schema=${schema}`,
            topic: 'steps',
            group: 'churn.effects',
            partitions: 6,
            keys: 40,
            members: 3,
            sessionTimeoutMs: SESSION_TIMEOUT_MS,
            rounds: ROUNDS,
            produce: { batch: 10, everyMs: 50 },
            progressPerFault: 100,
            // A killed member's partitions wait for its session to expire before anyone reads them.
            stallTimeoutMs: 90_000,
            handlerDelayMs: 15,
            // As the order services open theirs: every handler writes what it read, so repeatable
            // read loses no update, and group commit runs one process's handler transactions in
            // shared Postgres transactions.
            postgres: { isolation: 'repeatable read', groupCommit: true },
            say: (line) => t.diagnostic(line),
          });
          const { faults, report } = result;
          const summary =
            `${describeFaults(faults)}; ${describeReport(report)}; ` +
            `late work after SIGCONT: ${result.lateFenced} commits fenced, ${result.lateDeduplicated} deliveries deduplicated ` +
            `(${result.fencedCommits} fenced and ${result.deduplicated} deduplicated in all); ` +
            `${result.pausesThatStalledTheGroup} pauses stalled the group; committed offsets went back ${result.offsetRegressions} times; ` +
            `nemesis ${(result.nemesisMs / 1000).toFixed(1)} s, run ${(result.totalMs / 1000).toFixed(1)} s`;
          console.log(`Kafka churn: ${summary}`);
          t.diagnostic(summary);

          assert.deepEqual(result.unexpectedExits, [], 'members exited on their own');
          assert.deepEqual(
            { lost: report.lost, duplicated: report.duplicated, reordered: report.reordered },
            { lost: 0, duplicated: 0, reordered: 0 },
            report.examples.join('\n'),
          );
          assert.equal(report.effectWithoutInbox, 0, report.examples.join('\n'));
          assert.equal(report.unknownEffects, 0, report.examples.join('\n'));
          assert.equal(report.logOutOfOrder, 0, report.examples.join('\n'));
          assert.equal(result.offsetRegressions, 0, 'a committed offset went back');
          assert.ok(report.acknowledged > 0 && report.logged >= report.acknowledged);
          const count = (round: ChurnRound) => ROUNDS.filter((r) => r === round).length;
          assert.equal(faults.kills, count('kill'));
          assert.equal(faults.pauses, count('pause'));
          assert.ok(
            result.lateFenced + result.lateDeduplicated > 0,
            'no paused member did late work that was fenced or deduplicated: the pauses proved nothing',
          );
        } finally {
          await deleteNamespace(namespace);
          await dropSchema(schema);
        }
      });
    },
  );
}
