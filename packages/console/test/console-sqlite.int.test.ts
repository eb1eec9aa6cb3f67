// The console on the embedded log, its store in the same SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { describeConsoleBehaviour } from './console-behaviour.ts';

describeConsoleBehaviour('the console on the embedded log (SQLite file)', {
  prefix: 'console-sqlite',
  reset: true,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'herald-console-'));
    const log = await openSqliteLog({ path: join(dir, 'herald.db'), retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    return {
      log,
      store,
      async close() {
        await store.close();
        await log.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
