import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { describeStoreConformance } from '@herald/testing';

// The store lives in the log's own file: emit appends inside the transaction, and every
// transaction holds the file's write lock while it runs.
describeStoreConformance({
  name: 'sqlite',
  capabilities: { emitResolvesPosition: true, concurrency: 'serialized', checksTopicsAtEmit: true },
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'herald-store-conformance-'));
    const log = await openSqliteLog({ path: join(dir, 'log.db'), retentionIntervalMs: 0 });
    try {
      const store = await openSqliteStore(log);
      return {
        store,
        log,
        published: async () => undefined,
        async [Symbol.asyncDispose]() {
          await store.close();
          await log.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  },
});
