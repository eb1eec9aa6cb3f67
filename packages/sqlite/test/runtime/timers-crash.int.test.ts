// Durable timers under SIGKILL on the embedded log (the scenario: @herald/testing's
// describeTimersCrash): the schedulers share the log's file, the timers' events are appended to
// the log, and the file is checked whole after the crashes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pendingTimers } from '@herald/core';
import { describeTimersCrash, readAll } from '@herald/testing';
import { openSqliteLog, openSqliteStore } from '../../src/index.ts';

describeTimersCrash({
  name: 'the embedded log',
  emittedTo: 'the log',
  timers: 400,
  killRounds: 6,
  spreadMs: 12_000,
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'herald-timers-crash-'));
    const path = join(dir, 'log.db');
    return {
      async schedule(work) {
        await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
        await log.createTopic('reminders', { partitions: 2 });
        await work(await openSqliteStore(log));
      },
      scheduler: { script: new URL('../fixtures/timer-process.ts', import.meta.url), args: [path] },
      async outcome() {
        await using log = await openSqliteLog({ path, integrityCheck: 'full', retentionIntervalMs: 0 });
        const pending = await pendingTimers(await openSqliteStore(log));
        const emitted = (await readAll(log, 'reminders')).map(({ id, data, timestamp }) => ({
          id,
          data,
          emittedAt: timestamp,
        }));
        return { pending, emitted };
      },
      [Symbol.asyncDispose]: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});
