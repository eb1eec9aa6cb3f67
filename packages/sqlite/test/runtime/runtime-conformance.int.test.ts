// The runtime suite on the embedded log (a real SQLite file), with the store in the same file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRuntimeConformance } from '@herald/testing';
import { openSqliteLog, openSqliteStore } from '../../src/index.ts';

describeRuntimeConformance({
  name: 'sqlite',
  setup: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-runtime-'));
    const log = await openSqliteLog({ path: join(dir, 'herald.db'), retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    return {
      log,
      store,
      [Symbol.asyncDispose]: async () => {
        await log.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
