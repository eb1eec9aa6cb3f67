import type { StoredEvent } from '../envelope.ts';
import type { AppendResult, EventLog } from '../event-log.ts';
import type { FailureRecord, StoreTransaction } from './store.ts';

/**
 * What a handler gets besides the event. Middleware may replace fields for the handlers it wraps
 * (timeout narrows `signal`, idempotency wraps `transaction`).
 */
export interface HandlerContext {
  readonly group: string;
  /** 1 for the first attempt; counted by the runtime, never taken from event headers. */
  readonly attempt: number;
  /** Aborted on shutdown, on timeout, or when the partition is taken away. */
  readonly signal: AbortSignal;
  /**
   * True while the group re-reads events it handled before (a replay after a reset) or reads
   * history it never handled live (a backfill): declared effects are suppressed.
   */
  readonly replaying: boolean;
  readonly log: EventLog;
  /** Failures recorded for this delivery so far (for dead-letter metadata). */
  readonly failures: FailureRecord | undefined;
  /**
   * Runs `fn` in a store transaction; with the idempotency middleware the inbox entry is written
   * in the same transaction. Throws UNSUPPORTED when the router has no store.
   */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T> | T): Promise<T>;
  /**
   * Declares a side effect outside the store (an e-mail, a payment call) and runs it — except
   * while `replaying`, when it is skipped and resolves undefined. `fn` receives a key stable
   * across redeliveries (`group/event id/name`) to pass to the other system as its idempotency key.
   */
  effect<T>(name: string, fn: (idempotencyKey: string) => Promise<T> | T): Promise<T | undefined>;
  /** Records a failed attempt in the runtime's storage; the retry middleware calls it. */
  recordFailure(error: unknown): Promise<FailureRecord>;
  /**
   * Tells the router that the event was dead-lettered at `position`: `deadLetter()` calls it
   * after the append, before the event counts as handled. The router parks the event's key by
   * its route's policy (`RouteOptions.deadLetters`); it resolves once the parking is durable.
   * Absent outside a router (a shadow run, a test's own context): nothing is parked.
   */
  readonly deadLettered?: (position: AppendResult) => Promise<void>;
}

/** Handles one event. Resolving means done (the offset may be committed); throwing means failed. */
export type Handler = (event: StoredEvent, context: HandlerContext) => Promise<void>;

/**
 * Wraps a handler. Retry must call `next` more than once, so middleware is a function of the
 * next handler rather than a `next()` callback that may run once.
 *
 * @example
 * const logging: Middleware = (next) => async (event, ctx) => {
 *   console.log('handling', event.type);
 *   await next(event, ctx);
 * };
 */
export type Middleware = (next: Handler) => Handler;

/** Applies middleware outermost first: `compose([a, b], h)` is `a(b(h))`. */
export function compose(middleware: readonly Middleware[], handler: Handler): Handler {
  return middleware.reduceRight<Handler>((next, wrap) => wrap(next), handler);
}

/**
 * Thrown by a handler for a failure that retrying cannot fix (a business rule, bad data):
 * the retry middleware gives up at once and the event goes to the dead-letter topic.
 */
export class PermanentFailure extends Error {
  override readonly name = 'PermanentFailure';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
