import { HeraldError } from '../../errors.ts';
import type { Middleware } from '../handler.ts';

/**
 * Fails an attempt that takes longer than `ms` with `TIMEOUT` (retryable) and aborts the
 * handler's `signal`, so a handler that passes it on (fetch, database calls) stops its work.
 *
 * @example router.on(OrderPlaced, handler, { middleware: [timeout({ ms: 2000 })] })
 */
export function timeout(options: { readonly ms: number }): Middleware {
  if (!Number.isFinite(options.ms) || options.ms <= 0) {
    throw new HeraldError('INVALID_ARGUMENT', 'timeout needs a positive ms');
  }
  return (next) => async (event, context) => {
    const timer = new AbortController();
    const signal = AbortSignal.any([context.signal, timer.signal]);
    let handle: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      handle = setTimeout(() => {
        const error = new HeraldError(
          'TIMEOUT',
          `handling ${event.type} ${event.id} took longer than ${options.ms} ms`,
        );
        timer.abort(error);
        reject(error);
      }, options.ms);
    });
    try {
      await Promise.race([next(event, { ...context, signal }), expired]);
    } finally {
      clearTimeout(handle);
    }
  };
}
