import { hash } from 'node:crypto';
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
    const conflict = () => conflictError(event, context.group);
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

function conflictError(event: StoredEvent, group: string): HeraldError {
  return new HeraldError(
    'CONFLICT',
    `event ${event.id} was handled before by ${group} with a different payload; this one is not applied`,
    { details: { eventId: event.id, group } },
  );
}

/** `<type>\0` as UTF-8, per event type; a router sees a handful of types. */
const typePrefixes = new Map<string, Buffer>();
const MAX_CACHED_TYPES = 1024;

function typePrefix(type: string): Buffer {
  let prefix = typePrefixes.get(type);
  if (prefix === undefined) {
    prefix = Buffer.from(`${type}\0`);
    if (typePrefixes.size < MAX_CACHED_TYPES) typePrefixes.set(type, prefix);
  }
  return prefix;
}

/**
 * A fingerprint of an event's payload (its type and data), to tell a redelivery from a different
 * event reusing an id: the inbox keeps it next to the id. SHA-256 of the UTF-8 type, a zero
 * byte and the data bytes, in base64url: inbox entries written by any version compare equal.
 */
export function fingerprintOf(event: StoredEvent): string {
  const prefix = typePrefix(event.type);
  const data = event.data;
  if (data === undefined || data.byteLength === 0) return hash('sha256', prefix, 'base64url');
  const bytes = Buffer.allocUnsafe(prefix.byteLength + data.byteLength);
  prefix.copy(bytes, 0);
  bytes.set(data, prefix.byteLength);
  return hash('sha256', bytes, 'base64url');
}
