import { HeraldError, isHeraldError } from '@herald/core';

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_NOTADB = 26;

/** The SQLite result code of an error thrown by node:sqlite, if it has one. */
export function sqliteCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

/**
 * Maps a node:sqlite failure to Herald's codes: a damaged file is CORRUPT_LOG, anything else
 * that stops a write (disk full, I/O error, lock timeout) is BACKEND_UNAVAILABLE. The SQLite
 * error stays as `cause`.
 */
export function toHeraldError(error: unknown, message: string): HeraldError {
  if (isHeraldError(error)) return error;
  const code = sqliteCode(error);
  const reason = error instanceof Error ? error.message : String(error);
  if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) {
    return new HeraldError('CORRUPT_LOG', `${message}: ${reason}`, { cause: error });
  }
  return new HeraldError('BACKEND_UNAVAILABLE', `${message}: ${reason}`, {
    cause: error,
    details: code === SQLITE_FULL ? { reason: 'disk full' } : {},
  });
}
