import { HeraldError } from '../../errors.ts';
import type { StoredEvent } from '../../envelope.ts';
import type { Handler, HandlerContext, Middleware } from '../handler.ts';

/**
 * Per outer signal (a partition's, usually), the attempts running under it. One `abort` listener
 * per outer signal aborts them all, instead of one listener or one `AbortSignal.any` per
 * attempt: combining a fresh signal with a long-lived one registers weak references that cost
 * more than the handling of a small event (nodejs/node#55351).
 */
const attemptsUnder = new WeakMap<AbortSignal, Set<AbortController>>();

/** Aborts `attempt` when `outer` aborts, until the returned function is called. */
function follow(outer: AbortSignal, attempt: AbortController): () => void {
  if (outer.aborted) {
    attempt.abort(outer.reason);
    return () => undefined;
  }
  let attempts = attemptsUnder.get(outer);
  if (attempts === undefined) {
    const running = new Set<AbortController>();
    outer.addEventListener(
      'abort',
      () => {
        for (const controller of running) controller.abort(outer.reason);
        running.clear();
      },
      { once: true },
    );
    attemptsUnder.set(outer, running);
    attempts = running;
  }
  const followed = attempts;
  followed.add(attempt);
  return () => followed.delete(attempt);
}

/**
 * Fails an attempt that takes longer than `ms` with `TIMEOUT` (retryable) and aborts the
 * handler's `signal`, so a handler that passes it on (fetch, database calls) stops its work.
 * The handler's `signal` is also aborted, with the same reason, when the signal it was given
 * (shutdown, the partition taken away) aborts.
 *
 * @example router.on(OrderPlaced, handler, { middleware: [timeout({ ms: 2000 })] })
 */
export function timeout(options: { readonly ms: number }): Middleware {
  if (!Number.isFinite(options.ms) || options.ms <= 0) {
    throw new HeraldError('INVALID_ARGUMENT', 'timeout needs a positive ms');
  }
  return (next) => (event, context) =>
    new Promise<void>((resolve, reject) => {
      const attempt = new AbortController();
      const unfollow = follow(context.signal, attempt);
      const timer = setTimeout(() => {
        const error = new HeraldError(
          'TIMEOUT',
          `handling ${event.type} ${event.id} took longer than ${options.ms} ms`,
        );
        unfollow();
        attempt.abort(error);
        reject(error);
      }, options.ms);
      const handled = attemptOf(next, event, { ...context, signal: attempt.signal });
      // Settling after the timer fired changes nothing: the promise is settled already.
      handled.then(
        () => {
          clearTimeout(timer);
          unfollow();
          resolve();
        },
        () => {
          clearTimeout(timer);
          unfollow();
          resolve(handled); // rejects as the attempt did
        },
      );
    });
}

/** `next`'s promise, also when it throws or returns no promise. */
function attemptOf(next: Handler, event: StoredEvent, context: HandlerContext): Promise<void> {
  try {
    return Promise.resolve(next(event, context));
  } catch (error) {
    return rejected(error);
  }
}

async function rejected(error: unknown): Promise<never> {
  throw error;
}
