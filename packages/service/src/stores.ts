// The log and the stores of one process, from HERALD_LOG and HERALD_STORE.
//
// - Embedded (no store URL): HERALD_LOG must be a `sqlite:` URL, and every service shares one
//   store in the log's file. `tx.emit` appends inside the service's transaction: the outbox is
//   the log.
// - Postgres (HERALD_STORE=postgres://…): each service has its own store in its own schema,
//   `<schemaPrefix><service>`, shared by every process of that service. `tx.emit` writes to the
//   schema's outbox in the service's transaction, and one relay per service publishes the outbox
//   to HERALD_LOG (Kafka, NATS or the embedded log) in commit order.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type EventLog,
  HeraldError,
  type PublishMiddleware,
  type Store,
  openEventLog,
  openStore,
  redactUrl,
} from '@herald/core';
import type * as PostgresModule from '@herald/postgres';
import type { OutboxRelay, PostgresIsolation, PostgresStore } from '@herald/postgres';
import type PgModule from 'pg';
import type { Logger } from './service.ts';
import { parsePostgresStoreUrl, schemaOf } from './store-url.ts';

/** The stores of one process. */
export interface ServiceStores {
  /** `embedded`: one store in the log's file; `postgres`: a schema per service. */
  readonly kind: 'embedded' | 'postgres';
  /** For a start-up banner: where the state is (passwords redacted). */
  readonly description: string;
  /** The store of a service this process opened; throws `INVALID_ARGUMENT` for another. */
  storeOf(service: string): Store;
  /**
   * Stops the relays — after they published what the outboxes hold, for at most `drainMs`
   * (default 5 s; events left over are published by the next relay of the service, nothing is
   * lost) — and closes the stores. The log stays open: its owner closes it afterwards.
   */
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

/** How one service's Postgres store is opened. */
export interface PostgresStoreSettings {
  readonly isolation?: PostgresIsolation;
  readonly groupCommit?: boolean;
}

/** What `openServiceStores` needs. */
export interface ServiceStoresOptions {
  /** HERALD_LOG; without `storeUrl`, the `sqlite:` URL whose file holds the state. */
  readonly logUrl: string;
  /** The log opened from `logUrl`. */
  readonly log: EventLog;
  /** HERALD_STORE, `postgres://…[?schemaPrefix=…]`; unset: the embedded log's file. */
  readonly storeUrl?: string;
  /** Services this process runs: a store each, and on Postgres a relay each. */
  readonly services: readonly string[];
  /** Services whose state this process only reads (no relay). */
  readonly readers?: readonly string[];
  /** Per-service store settings on Postgres. Default: the store's defaults. */
  readonly postgres?: (service: string) => PostgresStoreSettings;
  readonly logger: Logger;
  /** How often a standby relay tries to take over, and the relay's fallback poll. Default 1 s. */
  readonly relayPollIntervalMs?: number;
  /** Publish middleware of every outbox relay (tracing, producer metrics). Default none. */
  readonly relayMiddleware?: readonly PublishMiddleware[];
}

/** The log HERALD_LOG names, with an error that says which variable and never shows a password. */
export async function openServiceLog(logUrl: string): Promise<EventLog> {
  try {
    return await openEventLog(logUrl);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new HeraldError(
      isHeraldErrorCode(cause) ?? 'BACKEND_UNAVAILABLE',
      `cannot open HERALD_LOG ${redactUrl(logUrl)}: ${reason.replaceAll(logUrl, redactUrl(logUrl))}`,
      { cause },
    );
  }
}

function isHeraldErrorCode(error: unknown): HeraldError['code'] | undefined {
  return error instanceof HeraldError ? error.code : undefined;
}

/**
 * Throws `INVALID_ARGUMENT` unless the URLs can work together: without a store URL the state
 * lives in the embedded log's file, so the log must be a `sqlite:` URL; a store URL must be
 * `postgres://`. Checked before anything is opened.
 */
export function checkStoreFitsLog(logUrl: string, storeUrl: string | undefined): void {
  if (storeUrl === undefined || storeUrl === '') {
    if (!logUrl.startsWith('sqlite:')) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `without HERALD_STORE the services keep their state in the embedded log's file, so HERALD_LOG must be a sqlite: URL, not ${redactUrl(logUrl)}; ` +
          'on Kafka or NATS give them a store: HERALD_STORE=postgres://…',
      );
    }
    return;
  }
  parsePostgresStoreUrl(storeUrl);
}

/** Opens the stores of the services a process runs: embedded or Postgres, as `storeUrl` says. */
export async function openServiceStores(options: ServiceStoresOptions): Promise<ServiceStores> {
  checkStoreFitsLog(options.logUrl, options.storeUrl);
  if (options.storeUrl === undefined || options.storeUrl === '') {
    const store = await openStore(options.logUrl, { log: options.log });
    return embeddedServiceStores(store);
  }
  return openPostgresServiceStores({ ...options, url: options.storeUrl });
}

/** Every service on the embedded log's store: nothing to relay, nothing to close (the log's owner closes the file). */
export function embeddedServiceStores(store: Store): ServiceStores {
  return {
    kind: 'embedded',
    description: "the embedded log's file",
    storeOf: () => store,
    close: async () => undefined,
  };
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
async function openPostgresServiceStores(
  options: ServiceStoresOptions & { readonly url: string },
): Promise<ServiceStores> {
  const { connectionString, schemaPrefix } = parsePostgresStoreUrl(options.url);
  // Loaded on demand: a process on the embedded store never loads the Postgres client.
  let pg: typeof PgModule;
  let postgres: typeof PostgresModule;
  try {
    [{ default: pg }, postgres] = await Promise.all([import('pg'), import('@herald/postgres')]);
  } catch (cause) {
    throw new HeraldError(
      'UNSUPPORTED',
      'a postgres:// HERALD_STORE needs the packages @herald/postgres and pg; install them',
      {
        cause,
      },
    );
  }
  const pool = new pg.Pool({ connectionString, max: POOL_CONNECTIONS + options.services.length });
  // An idle connection that dies (a server restart) is replaced on next use; without a listener
  // the pool's 'error' event would end the process.
  pool.on('error', () => undefined);
  const stores = new Map<string, PostgresStore>();
  const relays = new Map<string, { readonly store: PostgresStore; readonly relay: OutboxRelay }>();
  let closing: Promise<void> | undefined;

  const close = (closeOptions: { readonly drainMs?: number } = {}) =>
    (closing ??= (async () => {
      const deadline = performance.now() + (closeOptions.drainMs ?? DEFAULT_DRAIN_MS);
      for (const { store, relay } of relays.values()) await drain(store, relay, deadline);
      await Promise.all([...relays.values()].map(({ relay }) => relay.stop()));
      for (const store of stores.values()) await store.close();
      await pool.end();
    })());

  try {
    for (const service of new Set([...options.services, ...(options.readers ?? [])])) {
      const settings = options.postgres?.(service) ?? {};
      stores.set(
        service,
        await postgres.openPostgresStore({
          pool,
          schema: schemaOf(schemaPrefix, service),
          ...(settings.isolation === undefined ? {} : { isolation: settings.isolation }),
          ...(settings.groupCommit === undefined ? {} : { groupCommit: settings.groupCommit }),
        }),
      );
    }
    for (const service of options.services) {
      const store = stores.get(service)!;
      const relay = postgres.startOutboxRelay({
        store,
        log: options.log,
        ...(options.relayPollIntervalMs === undefined ? {} : { pollIntervalMs: options.relayPollIntervalMs }),
        ...(options.relayMiddleware === undefined ? {} : { middleware: options.relayMiddleware }),
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
  return {
    kind: 'postgres',
    description: `${redactUrl(connectionString)}, schemas ${[...stores.values()].map((s) => s.schema).join(', ')}`,
    storeOf(service) {
      const store = stores.get(service);
      if (store === undefined)
        throw new HeraldError('INVALID_ARGUMENT', `this process has no store for ${service}`);
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
