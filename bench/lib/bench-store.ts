import type { Store } from '@herald/core';
import { type SqliteLog, openSqliteLog, openSqliteStore } from '@herald/sqlite';

/** The embedded log in one file and the store in that file; disposing closes the log (and so the store). */
export interface BenchStore extends AsyncDisposable {
  readonly log: SqliteLog;
  readonly store: Store;
}

/**
 * Opens the embedded log at `path` as the runtime and timers benchmarks measure it: synchronous
 * full (the default), no background retention timer (nothing but the contender runs during a
 * measurement), and the store that shares its file.
 *
 * @example
 * using dir = benchDir('drain');
 * await using opened = await openBenchStore(dir.file('log.db'));
 */
export async function openBenchStore(path: string): Promise<BenchStore> {
  const log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  try {
    return { log, store: await openSqliteStore(log), [Symbol.asyncDispose]: () => log.close() };
  } catch (error) {
    await log.close();
    throw error;
  }
}
