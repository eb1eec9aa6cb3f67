/**
 * Every failure Herald reports is a `HeraldError` with one of these codes. The union is closed:
 * callers can switch on `code` exhaustively, and the underlying failure stays in `cause`.
 */
export type HeraldErrorCode =
  /** A caller passed an argument that can never work (bad name, negative count, bad URL). */
  | 'INVALID_ARGUMENT'
  /** Event data did not match its schema (at produce or at consume). */
  | 'VALIDATION_FAILED'
  /** Stored bytes could not be decoded into an event. */
  | 'DECODE_FAILED'
  /** The envelope breaks the CloudEvents 1.0 rules. */
  | 'INVALID_ENVELOPE'
  | 'UNKNOWN_TOPIC'
  | 'TOPIC_EXISTS'
  /** A consumer-group member lost ownership of a partition; its commits are refused. */
  | 'FENCED'
  /** The log, subscription or store was used after close. */
  | 'CLOSED'
  /** The durable file failed its integrity check; nothing is served from it. */
  | 'CORRUPT_LOG'
  /** The backend cannot do this; see its `capabilities`. */
  | 'UNSUPPORTED'
  | 'TIMEOUT'
  /** The backend could not be reached or refused the write (disk full, I/O error, broker down). */
  | 'BACKEND_UNAVAILABLE'
  /** A record is larger than the backend accepts. */
  | 'TOO_LARGE'
  /**
   * The same event id arrived again with a different payload (a producer bug), or an operation
   * was refused because of what it found (a redrive past its cap, a group reset while members
   * are live). Trying the same thing again does not help; `retry()` does not.
   */
  | 'CONFLICT'
  /**
   * A write lost a race with concurrent writers (a serialization failure or deadlock that the
   * store stopped retrying, the same event being handled at the same moment elsewhere).
   * Nothing of it took effect, and trying again later can succeed: `retry()` retries it.
   */
  | 'CONTENTION';

/** What trying again can do about a failure with a given code. */
export interface ErrorCodeRetry {
  /**
   * The failure lies in the backend's state at that moment (down, busy, closing, a lost race,
   * time ran out, its file failing its check), not in what was asked: the same call, unchanged,
   * can succeed later or on another instance. An HTTP service answers these with 503.
   */
  readonly retryable: boolean;
  /**
   * The event itself is at fault (undecodable, invalid, a conflicting duplicate): no attempt can
   * ever succeed, so `retry()` stops at once and `deadLetter()` parks it.
   */
  readonly permanent: boolean;
}

const TRANSIENT: ErrorCodeRetry = { retryable: true, permanent: false };
const PERMANENT: ErrorCodeRetry = { retryable: false, permanent: true };
/**
 * A fault of code or configuration (a bad argument, a missing topic, a lost partition, an
 * operation the backend lacks, a record over its limit): trying again changes nothing until
 * someone acts. `retry()` still retries it, because the event is not at fault and the fix (a
 * topic created, a rebalance settled) can land while it waits; what stays broken is dead-lettered.
 */
const NEEDS_A_FIX: ErrorCodeRetry = { retryable: false, permanent: false };

/**
 * Every code with what retrying can do about it: the one place retryability is decided.
 * `retry()` reads `permanent`; callers that answer for a failure (an HTTP service choosing 503
 * over 500) read `retryable`, most easily as {@link HeraldError.retryable}.
 */
export const HERALD_ERROR_CODES: { readonly [C in HeraldErrorCode]: ErrorCodeRetry } = {
  INVALID_ARGUMENT: NEEDS_A_FIX,
  VALIDATION_FAILED: PERMANENT,
  DECODE_FAILED: PERMANENT,
  INVALID_ENVELOPE: NEEDS_A_FIX,
  UNKNOWN_TOPIC: NEEDS_A_FIX,
  TOPIC_EXISTS: NEEDS_A_FIX,
  FENCED: NEEDS_A_FIX,
  CLOSED: TRANSIENT,
  CORRUPT_LOG: TRANSIENT,
  UNSUPPORTED: NEEDS_A_FIX,
  TIMEOUT: TRANSIENT,
  BACKEND_UNAVAILABLE: TRANSIENT,
  TOO_LARGE: NEEDS_A_FIX,
  CONFLICT: PERMANENT,
  CONTENTION: TRANSIENT,
};

export interface HeraldErrorOptions {
  cause?: unknown;
  /** Machine-readable facts about the failure (topic, partition, offending path…). */
  details?: Readonly<Record<string, unknown>>;
}

/** The one error class Herald throws. `code` is stable API; `message` is for people. */
export class HeraldError extends Error {
  override readonly name = 'HeraldError';
  readonly code: HeraldErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: HeraldErrorCode, message: string, options: HeraldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** The same call can succeed later, unchanged: see {@link ErrorCodeRetry.retryable}. */
  get retryable(): boolean {
    return HERALD_ERROR_CODES[this.code].retryable;
  }

  /** The event itself is at fault and no attempt can succeed: see {@link ErrorCodeRetry.permanent}. */
  get permanent(): boolean {
    return HERALD_ERROR_CODES[this.code].permanent;
  }
}

/** True when `error` is a HeraldError, optionally with the given code. */
export function isHeraldError(error: unknown, code?: HeraldErrorCode): error is HeraldError {
  return error instanceof HeraldError && (code === undefined || error.code === code);
}
