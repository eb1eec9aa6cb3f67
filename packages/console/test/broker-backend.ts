// A broker's log (a fresh namespace on the shared test Kafka or NATS) with a Postgres store in a
// schema of its own, whose outbox relay publishes what the console's transactions emit.
// HERALD_TEST_KAFKA (default 127.0.0.1:19092), HERALD_TEST_NATS (127.0.0.1:4222),
// HERALD_TEST_POSTGRES (postgres://postgres@127.0.0.1:5432/test): a missing server fails the test.
import { randomBytes } from 'node:crypto';
import { openEventLog, openStore } from '@herald/core';
import { waitFor } from '@herald/testing';
import pg from 'pg';
import type { ConsoleBackend } from './console-behaviour.ts';

export const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0]!;
export const NATS = (process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222').split(',')[0]!;
export const POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Opens the log at `logUrl` and a Postgres store in a fresh schema, dropped on close. */
export async function openBrokerBackend(logUrl: string): Promise<ConsoleBackend> {
  const schema = `console_${randomBytes(4).toString('hex')}`;
  const log = await openEventLog(logUrl);
  const store = await openStore(`${POSTGRES}${POSTGRES.includes('?') ? '&' : '?'}schema=${schema}`, { log });
  const pool = new pg.Pool({ connectionString: POSTGRES, max: 1 });
  return {
    log,
    store,
    async flush() {
      await waitFor(
        async () => {
          const { rows } = await pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM "${schema}".herald_outbox`,
          );
          return Number(rows[0]!.n) === 0;
        },
        60_000,
        'the outbox relay to publish',
      );
    },
    async close() {
      await store.close();
      await log.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
