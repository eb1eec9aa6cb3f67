import { setTimeout as sleep } from 'node:timers/promises';
import { isHeraldError } from '../../errors.ts';
import { type HandlerContext, type Middleware, PermanentFailure } from '../handler.ts';
import type { FailureRecord } from '../store.ts';

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the second attempt. Default 100 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound of one delay. Default 30 000 ms. */
  readonly maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  readonly multiplier?: number;
  /** Whether an error is worth retrying. Default: all but permanent ones (see below). */
  readonly retryable?: (error: unknown) => boolean;
  /** Random source, replaceable in tests. Default Math.random. */
  readonly random?: () => number;
}

/**
 * Errors that retrying cannot fix: the handler said so, or the event itself is poison (a
 * HeraldError whose code is `permanent` in `HERALD_ERROR_CODES`).
 */
export function isPermanent(error: unknown): boolean {
  return error instanceof PermanentFailure || (isHeraldError(error) && error.permanent);
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, initial × multiplier^(n-1))]. */
export function backoffDelay(attempt: number, options: RetryOptions = {}): number {
  const initial = options.initialDelayMs ?? 100;
  const ceiling = Math.min(
    options.maxDelayMs ?? 30_000,
    initial * (options.multiplier ?? 2) ** (attempt - 1),
  );
  return Math.round((options.random ?? Math.random)() * ceiling);
}

/**
 * Retries a failing handler with exponential backoff and jitter. Delays are timers, which run on
 * the monotonic clock: a wall-clock jump neither shortens nor stretches them.
 *
 * It does not block other keys: the router runs keys concurrently, so while one key waits here
 * the rest of the partition keeps flowing; later events of the same key wait behind it, so
 * per-key order holds. Attempts are counted by the runtime (`ctx.recordFailure`, kept in the
 * store when the router has one), never read from event headers; after a crash the count goes
 * on where it was. When the store cannot record a failure (its write lock held by a stalled
 * process, the database away), the attempt is counted here instead: a store outage neither ends
 * the retries early nor stops the router. Permanent failures (`PermanentFailure`, poison events)
 * are not retried.
 *
 * @example router.use(deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 200 }))
 */
export function retry(options: RetryOptions = {}): Middleware {
  const maxAttempts = options.maxAttempts ?? 5;
  const retryable = options.retryable ?? ((error: unknown) => !isPermanent(error));
  return (next) => async (event, context) => {
    let ctx = context;
    for (;;) {
      try {
        await next(event, ctx);
        return;
      } catch (error) {
        if (context.signal.aborted) throw error;
        // Never fewer attempts than this delivery made: attempts it counted itself while the
        // store was away are missing from the store's record.
        const failures = await ctx.recordFailure(error).then(
          (recorded) =>
            recorded.attempts >= ctx.attempt ? recorded : { ...recorded, attempts: ctx.attempt },
          () => countedHere(ctx, error),
        );
        if (!retryable(error) || failures.attempts >= maxAttempts) throw error;
        await sleep(backoffDelay(failures.attempts, options), undefined, { signal: context.signal });
        ctx = { ...ctx, attempt: failures.attempts + 1, failures };
      }
    }
  };
}

/**
 * The failure record after the attempt `ctx` made, counted from what the delivery knew, for when
 * the store could not write it. Only a crash before the store records a later failure loses
 * these attempts from the count (the event is then tried a few more times, never fewer).
 */
function countedHere(ctx: HandlerContext, error: unknown): FailureRecord {
  const now = Date.now();
  return {
    attempts: ctx.attempt,
    firstFailureAt: ctx.failures?.firstFailureAt ?? now,
    lastFailureAt: now,
    lastError: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  };
}
