import { redactUrl } from './redact-url.ts';
import type { EventLog } from './event-log.ts';
import { HeraldError } from './errors.ts';
import type { Store } from './runtime/store.ts';

/** Where `openStore` sends the events a store's transactions emit, and how. */
export interface OpenStoreOptions {
  /**
   * The log the store's emitted events reach. A `sqlite:` store lives in this log's own file
   * (emit appends inside the transaction), so the log must be the SQLite log that URL names.
   */
  readonly log: EventLog;
  /**
   * Whether the store publishes what its transactions emit to `log` itself. Default true: a
   * Postgres store then runs an outbox relay while it is open, and `close()` lets it publish
   * what the outbox holds (for a few seconds at most) before stopping it. False where another
   * process relays this store's outbox, or the store is only read. A SQLite store has nothing
   * to relay either way.
   */
  readonly publish?: boolean;
}

/**
 * What a store backend package exports so that `openStore` can open it by URL scheme.
 * Backends are loaded on demand, so an application installs only the one it uses.
 */
export interface StoreBackendModule {
  openStoreFromUrl(url: string, options: OpenStoreOptions): Promise<Store>;
}

const BACKENDS: Readonly<Record<string, string>> = {
  'sqlite:': '@herald/sqlite',
  'postgres:': '@herald/postgres',
  'postgresql:': '@herald/postgres',
};

/**
 * Opens the Store a URL names: `sqlite:./path.db` (the store in the embedded log's own file;
 * `options.log` must be that log) or `postgres://user@host/db?schema=orders` (documents, inbox
 * and outbox in one Postgres schema, default `herald`). Throws `INVALID_ARGUMENT` for a URL no
 * backend handles (the message never shows a password), and says which package to install when
 * the backend is not installed. Closing the store leaves `options.log` open.
 *
 * @example
 * await using log = await openEventLog('kafka://broker:9092');
 * await using store = await openStore('postgres://app@db/shop?schema=orders', { log });
 */
export async function openStore(url: string, options: OpenStoreOptions): Promise<Store> {
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase();
  const specifier = scheme === undefined ? undefined : BACKENDS[scheme];
  if (specifier === undefined) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `unsupported store URL "${redactUrl(url)}": expected one of ${Object.keys(BACKENDS).join(', ')} (e.g. sqlite:./.herald/herald.db)`,
    );
  }
  let backend: StoreBackendModule;
  try {
    backend = (await import(specifier)) as StoreBackendModule;
  } catch (cause) {
    throw new HeraldError('UNSUPPORTED', `the ${scheme} store needs the package ${specifier}; install it`, {
      cause,
    });
  }
  return backend.openStoreFromUrl(url, options);
}
