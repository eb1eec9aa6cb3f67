// Durable timers under SIGKILL on Postgres (the scenario: @herald/testing's describeTimersCrash):
// the schedulers share one schema, racing in serializable transactions that collide and run
// again, and the timers' events are committed to the schema's outbox.
import { pendingTimers } from '@herald/core';
import { openPostgresStore } from '@herald/postgres';
import { describeTimersCrash } from '@herald/testing';
import {
  TEST_POSTGRES,
  postgresUnavailable,
  reportUnavailable,
  testSchema,
} from './fixtures/test-postgres.ts';

const unavailable = await postgresUnavailable();
if (unavailable !== undefined) {
  reportUnavailable('durable timers under SIGKILL on Postgres', unavailable);
} else {
  describeTimersCrash({
    name: 'Postgres',
    emittedTo: 'the outbox',
    timers: 300,
    killRounds: 5,
    spreadMs: 8_000,
    // created_at is the firing transaction's start (the server's clock, the same host here), read in whole ms.
    stampSlackMs: 1,
    async setup() {
      const db = testSchema();
      const store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      return {
        schedule: (work) => work(store),
        scheduler: {
          script: new URL('./fixtures/timer-process.ts', import.meta.url),
          args: [TEST_POSTGRES, db.schema],
        },
        async outcome() {
          const { rows } = await db.pool.query<{ id: string; data: Buffer | null; emitted_ms: string }>(
            `SELECT attributes->>'id' AS id, data,
                    floor(extract(epoch FROM created_at) * 1000)::bigint AS emitted_ms
             FROM "${db.schema}".herald_outbox`,
          );
          return {
            pending: await pendingTimers(store),
            emitted: rows.map((row) => ({
              id: row.id,
              data: row.data ?? undefined,
              emittedAt: Number(row.emitted_ms),
            })),
          };
        },
        async [Symbol.asyncDispose]() {
          await store.close();
          await db[Symbol.asyncDispose]();
        },
      };
    },
  });
}
