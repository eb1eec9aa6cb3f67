// What every example runs on, so each main.ts can stay about the one thing it teaches.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EventLog, HeraldError } from '@herald/core';
import {
  type SqliteLog,
  type SqliteStore,
  openLogFromUrl,
  openSqliteLog,
  openSqliteStore,
} from '@herald/sqlite';

/** The embedded log and the store that shares its file; disposing closes both. */
export interface ExampleLog extends AsyncDisposable {
  readonly log: SqliteLog;
  readonly store: SqliteStore;
}

/**
 * Opens the log an example runs on: the `sqlite:` URL in HERALD_LOG when it is set (the file is
 * kept, to look at afterwards with `npx herald tail`), else a fresh file in a temporary folder
 * that disposing removes. Expected outputs assume a fresh file: the examples create their topics.
 *
 * @example await using example = await openExampleLog();
 */
export async function openExampleLog(): Promise<ExampleLog> {
  const url = process.env['HERALD_LOG'];
  let folder: string | undefined;
  let log: SqliteLog;
  if (url === undefined) {
    folder = await mkdtemp(join(tmpdir(), 'herald-example-'));
    log = await openSqliteLog({ path: join(folder, 'herald.db') });
  } else {
    log = await openLogFromUrl(url);
  }
  const store = await openSqliteStore(log);
  return {
    log,
    store,
    async [Symbol.asyncDispose]() {
      await store.close();
      await log.close();
      if (folder !== undefined) await rm(folder, { recursive: true, force: true });
    },
  };
}

/**
 * Resolves once `group` has committed every event of the topics it reads (lag 0 everywhere),
 * which is when a running router has finished all the work there is. Polls; throws `TIMEOUT`
 * after `timeoutMs` (default 20 s) so a stuck example fails instead of hanging.
 */
export async function caughtUp(log: EventLog, group: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { partitions } = await log.describeGroup(group);
    if (partitions.length > 0 && partitions.every((p) => p.lag === 0)) return;
    if (Date.now() > deadline) {
      throw new HeraldError('TIMEOUT', `group ${group} did not catch up within ${timeoutMs} ms`);
    }
    await sleep(20);
  }
}
