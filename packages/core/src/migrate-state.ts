// Moving services' state from one store to others: the other half of graduating a system from
// the embedded log (where every service keeps its documents and inbox in the log's file) to a
// broker with a Postgres store per service. With the log migrated (`migrateLog`) and the state
// migrated here, each group resumes where it was and its inbox still knows every event it handled,
// so nothing is handled twice and nothing is skipped.
import { createHash } from 'node:crypto';
import { HeraldError } from './errors.ts';
import { PARKED_EVENTS_COLLECTION, PARKED_KEYS_COLLECTION } from './runtime/key-parking.ts';
import type { StateRecord, Store } from './runtime/store.ts';

/** What `migrateState` is asked to do. */
export interface MigrateStateOptions {
  /** The store to read. It must offer `exportState`. */
  readonly from: Store;
  /**
   * The store an owner's records go to, asked once per owner (the caller opens and closes it). It
   * must offer `importState` and `exportState` (to verify).
   */
  readonly to: (owner: string) => Promise<Store> | Store;
  /**
   * Who owns a record: by default the name of its collection or consumer group up to the first
   * `.`, the way Herald's services name theirs (`orders.sagas` and `orders.saga` belong to
   * `orders`); see {@link defaultOwnerOf}.
   */
  readonly ownerOf?: (record: StateRecord) => string;
  /** Records per import transaction; default 500. */
  readonly batchSize?: number;
  /** Stops between batches; the migration is then run again from the start (it is idempotent). */
  readonly signal?: AbortSignal;
}

/** What one owner received, and whether its target now holds exactly that. */
export interface OwnerStateMigration {
  readonly owner: string;
  readonly documents: number;
  readonly inboxEntries: number;
  readonly collections: readonly string[];
  readonly groups: readonly string[];
  /** SHA-256 over the owner's records as the source holds them (canonical JSON, key order). */
  readonly sha256: string;
  /** The same digest over the target's records of those collections and groups, read back. */
  readonly targetSha256: string;
  readonly verified: boolean;
}

export interface StateMigrationReport {
  readonly owners: readonly OwnerStateMigration[];
  readonly documents: number;
  readonly inboxEntries: number;
  /** Every owner's target holds exactly what the source held for it. */
  readonly verified: boolean;
}

const DEFAULT_BATCH = 500;

/** A name up to its first `.` (the whole name when it has none). */
export function prefixOf(name: string): string {
  const dot = name.indexOf('.');
  return dot <= 0 ? name : name.slice(0, dot);
}

/**
 * The default owner of a record: the prefix of its collection (a document) or group (an inbox
 * entry). A group's parked keys and events belong to the group's owner: their ids start with it.
 */
export function defaultOwnerOf(record: StateRecord): string {
  if (record.kind === 'inbox') return prefixOf(record.group);
  if (record.collection === PARKED_KEYS_COLLECTION || record.collection === PARKED_EVENTS_COLLECTION) {
    const group = record.id.slice(0, record.id.indexOf('/'));
    if (group !== '') return prefixOf(decodeURIComponent(group));
  }
  return prefixOf(record.collection);
}

/**
 * Copies every document and inbox entry of `from` into the store of its owner, then verifies
 * each owner: the target's records of the owner's collections and groups, read back, must hash
 * the same as the source's (canonical JSON, so a store that reorders object keys still verifies).
 * Stop every service of both stores first. Idempotent: a run that stopped is run again as it
 * was. A target that held other documents in those collections before does not verify: the
 * report says so and nothing is deleted.
 *
 * @example
 * const report = await migrateState({
 *   from: sqliteStore,
 *   to: (owner) => openPostgresStore({ connectionString, schema: owner }),
 * });
 */
export async function migrateState(options: MigrateStateOptions): Promise<StateMigrationReport> {
  const { from, signal } = options;
  const ownerOf = options.ownerOf ?? defaultOwnerOf;
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new HeraldError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`);
  }
  if (from.exportState === undefined) {
    throw new HeraldError('UNSUPPORTED', 'the source store cannot export its state (it has no exportState)');
  }
  interface Owner {
    readonly store: Store;
    readonly pending: StateRecord[];
    readonly hash: ReturnType<typeof createHash>;
    readonly collections: Set<string>;
    readonly groups: Set<string>;
    documents: number;
    inboxEntries: number;
  }
  const owners = new Map<string, Owner>();
  const ownerFor = async (name: string): Promise<Owner> => {
    let owner = owners.get(name);
    if (owner === undefined) {
      const store = await options.to(name);
      if (store.importState === undefined || store.exportState === undefined) {
        throw new HeraldError(
          'UNSUPPORTED',
          `the target store of ${JSON.stringify(name)} cannot import or export state (it has no importState/exportState)`,
        );
      }
      owner = {
        store,
        pending: [],
        hash: createHash('sha256'),
        collections: new Set(),
        groups: new Set(),
        documents: 0,
        inboxEntries: 0,
      };
      owners.set(name, owner);
    }
    return owner;
  };
  const flush = async (owner: Owner): Promise<void> => {
    if (owner.pending.length === 0) return;
    signal?.throwIfAborted();
    await owner.store.importState!(owner.pending);
    owner.pending.length = 0;
  };

  for await (const page of from.exportState(batchSize)) {
    for (const record of page) {
      const owner = await ownerFor(ownerOf(record));
      owner.pending.push(record);
      owner.hash.update(`${canonicalRecord(record)}\n`);
      if (record.kind === 'document') {
        owner.documents++;
        owner.collections.add(record.collection);
      } else {
        owner.inboxEntries++;
        owner.groups.add(record.group);
      }
      if (owner.pending.length >= batchSize) await flush(owner);
    }
  }
  for (const owner of owners.values()) await flush(owner);

  const report: OwnerStateMigration[] = [];
  for (const [name, owner] of [...owners].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const target = createHash('sha256');
    for await (const page of owner.store.exportState!(batchSize)) {
      for (const record of page) {
        const mine =
          record.kind === 'document'
            ? owner.collections.has(record.collection)
            : owner.groups.has(record.group);
        if (mine) target.update(`${canonicalRecord(record)}\n`);
      }
    }
    const sha256 = owner.hash.digest('hex');
    const targetSha256 = target.digest('hex');
    report.push({
      owner: name,
      documents: owner.documents,
      inboxEntries: owner.inboxEntries,
      collections: [...owner.collections].sort(),
      groups: [...owner.groups].sort(),
      sha256,
      targetSha256,
      verified: sha256 === targetSha256,
    });
  }
  return {
    owners: report,
    documents: report.reduce((n, o) => n + o.documents, 0),
    inboxEntries: report.reduce((n, o) => n + o.inboxEntries, 0),
    verified: report.every((o) => o.verified),
  };
}

/** One record as a line of canonical JSON: object keys sorted, so key order never matters. */
function canonicalRecord(record: StateRecord): string {
  return JSON.stringify(canonical(record));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties: a "__proto__" key stays a key.
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}
