import { openMemoryLog } from '@herald/core/memory';
import { openPostgresStore, startOutboxRelay } from '@herald/postgres';
import { describeStoreConformance, waitFor } from '@herald/testing';
import { postgresUnavailable, reportUnavailable, testSchema } from './fixtures/test-postgres.ts';

const unavailable = await postgresUnavailable();

if (unavailable !== undefined) {
  reportUnavailable('Store conformance: postgres', unavailable);
} else {
  // Every test gets its own schema, with and without group commit. Emitted events wait in the schema's outbox until a relay
  // publishes them to the log (here an in-memory one) after the commit.
  for (const groupCommit of [false, true]) {
    describeStoreConformance({
      name: groupCommit ? 'postgres, group commit' : 'postgres',
      // Group commit runs one process's transactions one after another: they never collide.
      capabilities: {
        emitResolvesPosition: false,
        concurrency: groupCommit ? 'serialized' : 'retried',
        checksTopicsAtEmit: false,
      },
      async setup(options = {}) {
        const db = testSchema();
        const log = await openMemoryLog();
        const store = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit, ...options });
        const relay = startOutboxRelay({ store, log, pollIntervalMs: 20 });
        return {
          store,
          log,
          async published() {
            await waitFor(
              async () => relay.state === 'leading' && (await store.outboxBacklog()) === 0,
              10_000,
              'the relay to publish the outbox',
            );
          },
          async [Symbol.asyncDispose]() {
            await relay.stop();
            await store.close();
            await log.close();
            await db[Symbol.asyncDispose]();
          },
        };
      },
    });
  }
}
