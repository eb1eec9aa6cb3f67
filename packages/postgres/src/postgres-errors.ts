import { HeraldError, isHeraldError } from '@herald/core';

/** What a failure from `pg` means for the caller. */
export type PostgresFailure =
  /** Serialization failure or deadlock: the transaction can run again from the start. */
  | 'retry'
  /** The server cannot be reached, went away, or is out of resources. */
  | 'unavailable'
  /** The data was refused (a document jsonb cannot hold, a value out of range). */
  | 'invalid'
  /** Anything else the server reported (a missing table, a permission). */
  | 'other';

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The SQLSTATE of a server error, or undefined for client-side and network failures. */
export function sqlState(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
}

/** True when `error` came from `pg` or the network rather than from the caller's own code. */
export function isPostgresError(error: unknown): boolean {
  if (sqlState(error) !== undefined) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  return /Connection terminated|Client was closed|Client has encountered a connection error|timeout exceeded when trying to connect|Connection ended/i.test(
    error.message,
  );
}

export function classify(error: unknown): PostgresFailure {
  const state = sqlState(error);
  if (state === undefined) return 'unavailable';
  if (state === '40001' || state === '40P01') return 'retry';
  const errorClass = state.slice(0, 2);
  // 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown).
  if (errorClass === '08' || errorClass === '53' || errorClass === '57') return 'unavailable';
  if (errorClass === '22' || errorClass === '54') return 'invalid';
  return 'other';
}

/** Maps a `pg` failure to Herald's codes, keeping it as `cause`. HeraldErrors pass through. */
export function toHeraldError(error: unknown, doing: string): HeraldError {
  if (isHeraldError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const state = sqlState(error);
  const details = state === undefined ? {} : { sqlState: state };
  switch (classify(error)) {
    case 'retry':
      return new HeraldError('CONTENTION', `${doing} raced another transaction: ${message}`, {
        cause: error,
        details,
      });
    case 'invalid':
      return new HeraldError('INVALID_ARGUMENT', `${doing}: Postgres refused the value: ${message}`, {
        cause: error,
        details,
      });
    case 'unavailable':
    case 'other':
      return new HeraldError('BACKEND_UNAVAILABLE', `${doing} failed on Postgres: ${message}`, {
        cause: error,
        details,
      });
  }
}
