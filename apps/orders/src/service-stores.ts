// Where the services of one process keep their state, and how what they emit reaches the log.
//
// - Embedded (HERALD_STORE unset): every service shares one SqliteStore on the embedded log's
//   file. `tx.emit` appends inside the service's transaction: the outbox is the log.
// - Postgres (HERALD_STORE=postgres://…): each service has its own PostgresStore in its own
//   schema, `<schemaPrefix><service>`, shared by every process of that service. `tx.emit` writes
//   to the schema's outbox in the service's transaction, and one relay per service publishes the
//   outbox to HERALD_LOG (Kafka, NATS or the embedded log) in commit order. Fault settings, which
//   every process must see, live in `<schemaPrefix>faults`.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog, Store } from '@herald/core';
import type { OutboxRelay, PostgresStore } from '@herald/postgres';
import type { Logger } from './services/service-kit.ts';
import { faultsSchemaOf, parsePostgresStoreUrl, redactUrl, schemaOf } from './store-url.ts';
import type { ServiceName } from '@herald/orders-domain/topology.ts';

/** The stores of one process of the order system. */
export interface ServiceStores {
  /** `embedded`: one store on the log's file; `postgres`: a schema per service. */
  readonly kind: 'embedded' | 'postgres';
  /** For the start-up banner: where the state is (passwords redacted). */
  readonly description: string;
  /** Where fault settings are shared by every process. */
  readonly faults: Store;
  /** The store of a service this process runs or reads; throws for one it did not open. */
  storeOf(service: ServiceName): Store;
  /**
   * Stops the relays — after they published what the outboxes hold, for at most `drainMs`
   * (default 5 s; events left over are published by the next relay of the service, nothing is
   * lost) — and closes the stores. The log stays open: its owner closes it afterwards.
   */
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

/** Every service on the embedded log's store (the default): nothing to relay, nothing to close. */
export function embeddedServiceStores(store: Store): ServiceStores {
  return {
    kind: 'embedded',
    description: "the embedded log's file",
    faults: store,
    storeOf: () => store,
    close: async () => undefined,
  };
}

/** What opening the Postgres stores needs. */
export interface PostgresServiceStoresOptions {
  /** HERALD_STORE, `postgres://…[?schemaPrefix=…]`. */
  readonly url: string;
  /** Where the relays publish. */
  readonly log: EventLog;
  /** Services this process runs: a store and a relay each. */
  readonly services: readonly ServiceName[];
  /** Services whose state this process only reads (the API's stock, loyalty, analytics views). */
  readonly readers?: readonly ServiceName[];
  readonly logger: Logger;
  /** How often a standby relay tries to take over, and the relay's fallback poll. Default 1 s. */
  readonly relayPollIntervalMs?: number;
}

const DEFAULT_DRAIN_MS = 5_000;
/** Connections besides the ones relays hold for as long as they run. */
const POOL_CONNECTIONS = 8;

/**
 * Opens a PostgresStore per service (creating schemas and tables when missing) on one
 * connection pool, and starts a relay per service run here. Two processes of one service share
 * its schema: one relay publishes, the other waits as a standby and takes over when the first
 * one's process ends.
 */
export async function openPostgresServiceStores(
  options: PostgresServiceStoresOptions,
): Promise<ServiceStores> {
  const { connectionString, schemaPrefix } = parsePostgresStoreUrl(options.url);
  // Loaded on demand: a process on the embedded store never loads the Postgres client.
  const [{ default: pg }, { openPostgresStore, startOutboxRelay }] = await Promise.all([
    import('pg'),
    import('@herald/postgres'),
  ]);
  const pool = new pg.Pool({ connectionString, max: POOL_CONNECTIONS + options.services.length });
  // An idle connection that dies (a server restart) is replaced on next use; without a listener
  // the pool's 'error' event would end the process.
  pool.on('error', () => undefined);
  const stores = new Map<ServiceName, PostgresStore>();
  const relays = new Map<ServiceName, { readonly store: PostgresStore; readonly relay: OutboxRelay }>();
  let faults: PostgresStore | undefined;
  let closing: Promise<void> | undefined;

  const close = (closeOptions: { readonly drainMs?: number } = {}) =>
    (closing ??= (async () => {
      const deadline = performance.now() + (closeOptions.drainMs ?? DEFAULT_DRAIN_MS);
      for (const { store, relay } of relays.values()) await drain(store, relay, deadline);
      await Promise.all([...relays.values()].map(({ relay }) => relay.stop()));
      for (const store of [...stores.values(), faults]) await store?.close();
      await pool.end();
    })());

  try {
    for (const service of new Set([...options.services, ...(options.readers ?? [])])) {
      // Repeatable read, not serializable: every handler writes what it read (a document, a
      // stock level, the inbox entry), and Postgres fails the later of two concurrent writers of
      // one row with a serialization failure that the store runs again, so no update is lost.
      // Serializable adds predicate locks on index pages that, on these small tables, fail
      // unrelated transactions too. Group commit for the services without an API: their
      // handler transactions run one after another in shared Postgres transactions, so hot
      // documents (the analytics funnel, a SKU's stock) stop failing and running again. Not
      // for `orders`: its members would queue `POST /orders` behind the consumers (ADR 0018).
      stores.set(
        service,
        await openPostgresStore({
          pool,
          schema: schemaOf(schemaPrefix, service),
          isolation: 'repeatable read',
          groupCommit: service !== 'orders',
        }),
      );
    }
    faults = await openPostgresStore({ pool, schema: faultsSchemaOf(schemaPrefix) });
    for (const service of options.services) {
      const store = stores.get(service)!;
      const relay = startOutboxRelay({
        store,
        log: options.log,
        ...(options.relayPollIntervalMs === undefined ? {} : { pollIntervalMs: options.relayPollIntervalMs }),
        onError: (error) =>
          options.logger.error(
            `${service}: outbox relay (schema ${store.schema}) retrying: ${error.code}: ${error.message}`,
          ),
      });
      relays.set(service, { store, relay });
    }
  } catch (error) {
    await close({ drainMs: 0 }).catch(() => undefined);
    throw error;
  }
  const faultStore = faults;
  return {
    kind: 'postgres',
    description: `${redactUrl(connectionString)}, schemas ${[...stores.values(), faultStore].map((s) => s.schema).join(', ')}`,
    faults: faultStore,
    storeOf(service) {
      const store = stores.get(service);
      if (store === undefined) throw new Error(`this process has no store for ${service}`);
      return store;
    },
    close,
  };
}

/** Waits until the relay published its outbox, it gave the lead to another process, or `deadline`. */
async function drain(store: PostgresStore, relay: OutboxRelay, deadline: number): Promise<void> {
  while (relay.state === 'leading' && performance.now() < deadline) {
    let backlog: number;
    try {
      backlog = await store.outboxBacklog();
    } catch {
      return;
    }
    if (backlog === 0) return;
    await sleep(20);
  }
}
