import { createHash } from 'node:crypto';
import type { StoredEvent } from '../../envelope.ts';
import { HeraldError } from '../../errors.ts';
import type { Middleware } from '../handler.ts';
import type { Store } from '../store.ts';

/**
 * Gives each event one effect per group, however often it is delivered. The handler's first
 * `ctx.transaction` also records (group, event id) in the store's inbox, atomically with the
 * handler's own writes and emitted events; a redelivered event finds it and is skipped. A
 * handler that uses no transaction gets its inbox entry recorded after it finished.
 *
 * The same id with a different payload is not dropped silently: it fails with `CONFLICT`, a
 * permanent failure that `deadLetter` parks for a person to look at.
 *
 * @example router.use(deadLetter(), retry(), idempotency({ store }))
 */
export function idempotency(options: { readonly store: Store }): Middleware {
  const { store } = options;
  return (next) => async (event, context) => {
    const fingerprint = fingerprintOf(event);
    const conflict = () =>
      new HeraldError(
        'CONFLICT',
        `event ${event.id} was handled before by ${context.group} with a different payload; this one is not applied`,
        { details: { eventId: event.id, group: context.group } },
      );
    const status = await store.inboxStatus(context.group, event.id, fingerprint);
    if (status === 'duplicate') return;
    if (status === 'conflict') throw conflict();
    let recorded = false;
    await next(event, {
      ...context,
      // Through the transaction this middleware was given, so outer middleware that wraps it
      // (tracing injects trace context into emitted events) still applies.
      // `recorded` is set once the transaction has committed, not when its function returned: a
      // store that retries a transaction (Postgres on a serialization failure) runs the function
      // again, and the inbox entry must be part of the run that commits.
      transaction: async (fn) => {
        const record = !recorded;
        const result = await context.transaction(async (tx) => {
          if (record) {
            const outcome = await tx.recordHandled(context.group, event.id, fingerprint);
            if (outcome === 'conflict') throw conflict();
            if (outcome === 'duplicate')
              throw new HeraldError('CONTENTION', `event ${event.id} was handled concurrently`);
          }
          return fn(tx);
        });
        recorded = true;
        return result;
      },
    });
    if (!recorded) {
      await store.transaction(async (tx) => {
        await tx.recordHandled(context.group, event.id, fingerprint);
      });
    }
  };
}

/**
 * A fingerprint of an event's payload (its type and data), to tell a redelivery from a different
 * event reusing an id: the inbox keeps it next to the id.
 */
export function fingerprintOf(event: StoredEvent): string {
  const hash = createHash('sha256');
  hash.update(event.type);
  hash.update('\0');
  if (event.data !== undefined) hash.update(event.data);
  return hash.digest('base64url');
}
