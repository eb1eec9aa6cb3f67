import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog } from '@herald/core';
import { openSqliteLog } from '@herald/sqlite';
import { describeEventLogConformance } from '@herald/testing';

// Every client opens its own connection to one real database file, as separate processes would.
describeEventLogConformance({
  name: 'sqlite',
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'herald-conformance-'));
    const path = join(dir, 'log.db');
    const clients: EventLog[] = [];
    return {
      async open() {
        const log = await openSqliteLog({ path, retentionIntervalMs: 0 });
        clients.push(log);
        return log;
      },
      async [Symbol.asyncDispose]() {
        await Promise.allSettled(clients.map((client) => client.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
