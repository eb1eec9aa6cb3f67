import type { HeraldError } from '@herald/core';
import { wrapBackendFailure } from '@herald/core/backend';
import type { FailureClass } from '@herald/core/backend';

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_BUSY = 5;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_NOTADB = 26;

/** The SQLite result code of an error thrown by node:sqlite, if it has one. */
export function sqliteCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

/** Whether another connection holds the lock a statement needed (with no busy wait, at once). */
export function isBusy(error: unknown): boolean {
  return sqliteCode(error) === SQLITE_BUSY;
}

/**
 * Maps a node:sqlite failure to Herald's codes: a damaged file is CORRUPT_LOG, anything else
 * that stops a write (disk full, I/O error, lock timeout) is BACKEND_UNAVAILABLE. The SQLite
 * error stays as `cause`.
 */
export function toHeraldError(error: unknown, message: string): HeraldError {
  return wrapBackendFailure(error, message, {}, classifySqliteFailure);
}

function classifySqliteFailure(error: unknown): FailureClass {
  const code = sqliteCode(error);
  if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) return { code: 'CORRUPT_LOG' };
  return code === SQLITE_FULL
    ? { code: 'BACKEND_UNAVAILABLE', details: { reason: 'disk full' } }
    : { code: 'BACKEND_UNAVAILABLE' };
}
