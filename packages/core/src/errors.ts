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
}

/** True when `error` is a HeraldError, optionally with the given code. */
export function isHeraldError(error: unknown, code?: HeraldErrorCode): error is HeraldError {
  return error instanceof HeraldError && (code === undefined || error.code === code);
}
