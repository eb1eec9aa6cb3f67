import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError, redactUrl } from '@herald/core';
import type {
  DeliveryKey,
  FailureRecord,
  InboxQuery,
  OpenStoreOptions,
  StateRecord,
  Store,
  StoreTransaction,
  TransactionOptions,
} from '@herald/core';
import { type OutboxRelay, startOutboxRelay } from './outbox-relay.ts';
import { type PostgresStore, openPostgresStore } from './postgres-store.ts';

/** A parsed `postgres://` store URL. */
export interface PostgresStoreUrl {
  /** What `pg` connects with: the URL without Herald's own `schema` parameter. */
  readonly connectionString: string;
  /** The `schema` parameter, when the URL has one. */
  readonly schema: string | undefined;
}

/** How long `close()` lets the relay publish what the outbox still holds. */
const DRAIN_MS = 5_000;
/**
 * How long `close()` waits for a relay still standing by (it may be taking the lead right now)
 * before it leaves the outbox to the relay that leads.
 */
const STANDBY_MS = 1_000;

/**
 * Parses `postgres://user@host:5432/db?schema=orders` (or `postgresql://`). `schema` is
 * Herald's parameter and is taken out; every other one (`sslmode`, …) goes to `pg` unchanged.
 * Throws `INVALID_ARGUMENT`, never showing the password.
 *
 * @example parsePostgresStoreUrl('postgres://app@db/shop?schema=eu').schema // 'eu'
 */
export function parsePostgresStoreUrl(url: string): PostgresStoreUrl {
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new HeraldError('INVALID_ARGUMENT', `not a postgres:// URL: "${redactUrl(url)}"`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new HeraldError('INVALID_ARGUMENT', `not a valid URL: "${redactUrl(url)}"`, { cause });
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  return { connectionString: parsed.toString(), schema };
}

/**
 * Opens the Store a `postgres://` URL names, for `openStore`: a PostgresStore on its own pool,
 * in the URL's `schema` (default `herald`), creating the tables when missing. Unless
 * `options.publish` is false, an outbox relay publishes what the store's transactions emit to
 * `options.log` while it is open (standing by while another process relays the same schema);
 * `close()` gives it up to 5 s to publish what the outbox holds (1 s while another process's
 * relay leads: that one publishes it), stops it and ends the pool. Events left over stay in the
 * outbox for the next relay: nothing is lost.
 */
export async function openStoreFromUrl(url: string, options: OpenStoreOptions): Promise<Store> {
  const { connectionString, schema } = parsePostgresStoreUrl(url);
  const store = await openPostgresStore({ connectionString, ...(schema === undefined ? {} : { schema }) });
  if (options.publish === false) return store;
  return new PublishingStore(store, startOutboxRelay({ store, log: options.log }));
}

/** A PostgresStore with the relay that publishes its outbox, closed together. */
class PublishingStore implements Store {
  readonly #store: PostgresStore;
  readonly #relay: OutboxRelay;
  #closing: Promise<void> | undefined;

  constructor(store: PostgresStore, relay: OutboxRelay) {
    this.#store = store;
    this.#relay = relay;
  }

  transaction<T>(fn: (tx: StoreTransaction) => Promise<T> | T, options?: TransactionOptions): Promise<T> {
    return this.#store.transaction(fn, options);
  }

  get<T = unknown>(collection: string, id: string): Promise<T | undefined> {
    return this.#store.get<T>(collection, id);
  }

  list<T = unknown>(collection: string, options?: { readonly prefix?: string; readonly limit?: number }) {
    return this.#store.list<T>(collection, options);
  }

  inboxStatus(group: string, eventId: string, fingerprint: string) {
    return this.#store.inboxStatus(group, eventId, fingerprint);
  }

  inboxStatuses(group: string, entries: readonly InboxQuery[]) {
    return this.#store.inboxStatuses(group, entries);
  }

  inboxEntries(group: string, eventIds: readonly string[]) {
    return this.#store.inboxEntries(group, eventIds);
  }

  pruneInbox(handledBefore: number, limit: number) {
    return this.#store.pruneInbox(handledBefore, limit);
  }

  exportState(pageSize?: number) {
    return this.#store.exportState(pageSize);
  }

  importState(records: readonly StateRecord[]) {
    return this.#store.importState(records);
  }

  recordFailure(key: DeliveryKey, error: string): Promise<FailureRecord> {
    return this.#store.recordFailure(key, error);
  }

  failures(key: DeliveryKey): Promise<FailureRecord | undefined> {
    return this.#store.failures(key);
  }

  latestFailure(group: string, topic: string, partition: number): Promise<number | undefined> {
    return this.#store.latestFailure(group, topic, partition);
  }

  clearFailures(key: DeliveryKey): Promise<void> {
    return this.#store.clearFailures(key);
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      const start = performance.now();
      while (performance.now() - start < DRAIN_MS) {
        const backlog = await this.#store.outboxBacklog().catch(() => 0);
        if (backlog === 0) break;
        // Still standing by after a while: another process's relay leads and publishes it.
        if (this.#relay.state !== 'leading' && performance.now() - start > STANDBY_MS) break;
        await sleep(20);
      }
      await this.#relay.stop();
      await this.#store.close();
    })());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
