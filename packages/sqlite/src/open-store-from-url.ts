import { resolve } from 'node:path';
import { HeraldError, redactUrl } from '@herald/core';
import type { OpenStoreOptions } from '@herald/core';
import { SqliteLog, parseSqliteUrl } from './sqlite-log.ts';
import { type SqliteStore, openSqliteStore } from './sqlite-store.ts';

/**
 * Opens the Store a `sqlite:` URL names, for `openStore`: the SqliteStore in the embedded log's
 * own file. It shares the log's connection (emit appends inside the transaction, nothing to
 * relay), so `options.log` must be the SqliteLog open on that file; closing the store leaves the
 * log open.
 */
export async function openStoreFromUrl(url: string, options: OpenStoreOptions): Promise<SqliteStore> {
  const { path } = parseSqliteUrl(url);
  if (!(options.log instanceof SqliteLog) || resolve(options.log.path) !== resolve(path)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `the store "${redactUrl(url)}" lives in the embedded log's file ${path}: open it with the SqliteLog on that file`,
    );
  }
  return openSqliteStore(options.log);
}
