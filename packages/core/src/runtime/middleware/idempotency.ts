import { hash } from 'node:crypto';
import type { StoredEvent } from '../../envelope.ts';
import { HeraldError } from '../../errors.ts';
import type { Middleware } from '../handler.ts';
import type { InboxQuery, InboxStatus, Store } from '../store.ts';

/**
 * Gives each event one effect per group, however often it is delivered. The handler's first
 * `ctx.transaction` also records (group, event id) in the store's inbox, atomically with the
 * handler's own writes and emitted events; a redelivered event finds it and is skipped. A
 * handler that uses no transaction gets its inbox entry recorded after it finished.
 *
 * The same id with a different payload is not dropped silently: it fails with `CONFLICT`, a
 * permanent failure that `deadLetter` parks for a person to look at.
 *
 * The check before the handler runs reads the inbox; on a store with `inboxStatuses`, the checks
 * of the events a router starts together (in one turn of the event loop) share one read.
 *
 * @example router.use(deadLetter(), retry(), idempotency({ store }))
 */
export function idempotency(options: { readonly store: Store }): Middleware {
  const { store } = options;
  const inboxStatus = inboxChecks(store);
  return (next) => async (event, context) => {
    const fingerprint = fingerprintOf(event);
    const conflict = () => conflictError(event, context.group);
    const status = await inboxStatus(context.group, event.id, fingerprint);
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
          if (!record) return fn(tx);
          // The handler starts before the entry's outcome is known: a store that sends statements
          // together (Postgres) sends the entry with the handler's first statement, one round
          // trip. The outcome is checked before the transaction commits; a duplicate or a
          // conflict throws, and the handler's writes are rolled back with the transaction.
          const recording = tx.recordHandled(context.group, event.id, fingerprint);
          // A failed recording fails the transaction itself; the handler's error is the one thrown.
          recording.catch(() => undefined);
          const value = await fn(tx);
          const outcome = await recording;
          if (outcome === 'conflict') throw conflict();
          if (outcome === 'duplicate')
            throw new HeraldError('CONTENTION', `event ${event.id} was handled concurrently`);
          return value;
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

interface PendingChecks {
  readonly entries: InboxQuery[];
  readonly waiters: { resolve(status: InboxStatus): void; reject(error: unknown): void }[];
}

/**
 * `store.inboxStatus`, or, on a store with `inboxStatuses`, the same answers with the checks
 * asked for before the current turn's callbacks end gathered per group into one read. The read
 * starts once the turn's microtasks ran (a `nextTick` scheduled by the first check), so events a
 * router starts one after another, from the same loop or the same commit's continuations, share
 * it; a failed read fails every check it carried, as each one's own read would have.
 */
function inboxChecks(
  store: Store,
): (group: string, eventId: string, fingerprint: string) => Promise<InboxStatus> {
  if (store.inboxStatuses === undefined)
    return (group, eventId, fingerprint) => store.inboxStatus(group, eventId, fingerprint);
  const read = store.inboxStatuses.bind(store);
  const pending = new Map<string, PendingChecks>();
  const flush = (group: string, batch: PendingChecks) => {
    pending.delete(group);
    // A read that throws instead of rejecting fails its checks the same way.
    new Promise<InboxStatus[]>((resolve) => resolve(read(group, batch.entries))).then(
      (statuses) => {
        for (const [i, waiter] of batch.waiters.entries()) waiter.resolve(statuses[i]!);
      },
      (error: unknown) => {
        for (const waiter of batch.waiters) waiter.reject(error);
      },
    );
  };
  return (group, eventId, fingerprint) => {
    let batch = pending.get(group);
    if (batch === undefined) {
      const created: PendingChecks = { entries: [], waiters: [] };
      pending.set(group, created);
      process.nextTick(flush, group, created);
      batch = created;
    }
    batch.entries.push({ eventId, fingerprint });
    const waiters = batch.waiters;
    return new Promise<InboxStatus>((resolve, reject) => waiters.push({ resolve, reject }));
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
export function fingerprintOf(event: Pick<StoredEvent, 'type' | 'data'>): string {
  const prefix = typePrefix(event.type);
  const data = event.data;
  if (data === undefined || data.byteLength === 0) return hash('sha256', prefix, 'base64url');
  const bytes = Buffer.allocUnsafe(prefix.byteLength + data.byteLength);
  prefix.copy(bytes, 0);
  bytes.set(data, prefix.byteLength);
  return hash('sha256', bytes, 'base64url');
}
