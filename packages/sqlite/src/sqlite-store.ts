import { prepared } from './statement-cache.ts';
import type { DatabaseSync } from 'node:sqlite';
import {
  type DeliveryKey,
  type FailureRecord,
  type InboxEntry,
  type InboxOutcome,
  type InboxQuery,
  type InboxStatus,
  type StateRecord,
  type Store,
  type StoreTransaction,
  type TransactionOptions,
  HeraldError,
} from '@herald/core';
import {
  checkCollection,
  checkPruneArguments,
  checkStatePageSize,
  checkStateRecords,
  encodeDocument,
  withTimers,
} from '@herald/core/backend';
import { sqliteCode } from './sqlite-errors.ts';
import { DOCUMENTS_TABLE_DDL } from './schema.ts';
import { type SqliteLog, readerConnection, transactWithLog } from './sqlite-log.ts';

const STORE_DDL = [
  DOCUMENTS_TABLE_DDL,
  `CREATE TABLE IF NOT EXISTS herald_inbox (
    group_name TEXT NOT NULL,
    event_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    handled_at INTEGER NOT NULL,
    PRIMARY KEY (group_name, event_id)
  ) WITHOUT ROWID`,
  // What inbox retention deletes by (pruneInbox): oldest first, without scanning the inbox.
  'CREATE INDEX IF NOT EXISTS herald_inbox_handled_at ON herald_inbox (handled_at)',
  `CREATE TABLE IF NOT EXISTS herald_failures (
    group_name TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    first_failure_at INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    PRIMARY KEY (group_name, topic, partition, offset)
  ) WITHOUT ROWID`,
];

function list(db: DatabaseSync, collection: string, options: { prefix?: string; limit?: number } = {}) {
  checkCollection(collection);
  const limit = options.limit ?? -1;
  const rows = (options.prefix === undefined
    ? prepared(db, 'SELECT id, value FROM herald_documents WHERE collection = ? ORDER BY id LIMIT ?').all(
        collection,
        limit,
      )
    : prepared(
        db,
        `SELECT id, value FROM herald_documents WHERE collection = ? AND substr(id, 1, ?) = ? ORDER BY id LIMIT ?`,
      ).all(collection, options.prefix.length, options.prefix, limit)) as unknown as {
    id: string;
    value: string;
  }[];
  return rows.map((row) => ({ id: row.id, value: JSON.parse(row.value) as unknown }));
}

function inboxStatus(db: DatabaseSync, group: string, eventId: string, fingerprint: string) {
  const row = prepared(db, 'SELECT fingerprint FROM herald_inbox WHERE group_name = ? AND event_id = ?').get(
    group,
    eventId,
  ) as { fingerprint: string } | undefined;
  if (row === undefined) return 'unseen' as const;
  return row.fingerprint === fingerprint ? ('duplicate' as const) : ('conflict' as const);
}

/** Ids looked up per statement: a batch is one read, bounded so one statement stays short. */
const INBOX_BATCH = 500;

function inboxStatuses(db: DatabaseSync, group: string, entries: readonly InboxQuery[]): InboxStatus[] {
  const found = new Map<string, string>();
  for (let start = 0; start < entries.length; start += INBOX_BATCH) {
    const ids = entries.slice(start, start + INBOX_BATCH).map((entry) => entry.eventId);
    const rows = prepared(
      db,
      'SELECT event_id, fingerprint FROM herald_inbox WHERE group_name = ? AND event_id IN (SELECT value FROM json_each(?))',
    ).all(group, JSON.stringify(ids)) as unknown as { event_id: string; fingerprint: string }[];
    for (const row of rows) found.set(row.event_id, row.fingerprint);
  }
  return entries.map(({ eventId, fingerprint }) => {
    const stored = found.get(eventId);
    if (stored === undefined) return 'unseen';
    return stored === fingerprint ? 'duplicate' : 'conflict';
  });
}

function inboxEntries(
  db: DatabaseSync,
  group: string,
  eventIds: readonly string[],
): (InboxEntry | undefined)[] {
  const found = new Map<string, InboxEntry>();
  for (let start = 0; start < eventIds.length; start += INBOX_BATCH) {
    const ids = eventIds.slice(start, start + INBOX_BATCH);
    const rows = prepared(
      db,
      'SELECT event_id, fingerprint, handled_at FROM herald_inbox WHERE group_name = ? AND event_id IN (SELECT value FROM json_each(?))',
    ).all(group, JSON.stringify(ids)) as unknown as {
      event_id: string;
      fingerprint: string;
      handled_at: number;
    }[];
    for (const row of rows)
      found.set(row.event_id, { fingerprint: row.fingerprint, handledAt: Number(row.handled_at) });
  }
  return eventIds.map((id) => found.get(id));
}

/**
 * The Store on the embedded log's own file. A transaction is one SQLite write transaction on
 * the log's writer connection, so a service's documents, its inbox entries and the events it
 * emits commit together: the outbox is the log itself, with nothing to relay.
 *
 * While a transaction's function runs, every other write of this process waits for it: do
 * network calls before or after, never inside.
 *
 * @example
 * const store = await openSqliteStore(log);
 * await store.transaction(async (tx) => {
 *   await tx.put('orders', order.id, order);
 *   await tx.emit('orders', OrderPlaced.create(order, { source: '/orders', key: order.id }));
 * });
 */
export class SqliteStore implements Store {
  readonly #log: SqliteLog;

  constructor(log: SqliteLog) {
    this.#log = log;
  }

  transaction<T>(fn: (tx: StoreTransaction) => Promise<T> | T, options?: TransactionOptions): Promise<T> {
    // What `fn` throws itself (a business rule, a PermanentFailure) reaches the caller as it was
    // thrown; only SQLite's own failures are mapped to Herald's codes by the write queue.
    let thrown: { error: unknown } | undefined;
    const run = this.#log[transactWithLog](async (db, append) => {
      // The tx works only while `fn` runs: afterwards its statements would run outside any
      // transaction, beside other writers, so a kept tx is refused instead.
      let open = true;
      const checkOpen = (): void => {
        if (!open) {
          throw new HeraldError(
            'CLOSED',
            'this store transaction has ended; use its tx only inside the transaction function',
          );
        }
      };
      // Timers (tx.schedule) are documents of this same transaction: see withTimers.
      const tx: StoreTransaction = withTimers({
        emit: async (topic, event, options) => {
          checkOpen();
          return append(topic, event, options?.partition);
        },
        get: async <V>(collection: string, id: string) => {
          checkOpen();
          checkCollection(collection);
          const row = prepared(db, 'SELECT value FROM herald_documents WHERE collection = ? AND id = ?').get(
            collection,
            id,
          ) as { value: string } | undefined;
          return row === undefined ? undefined : (JSON.parse(row.value) as V);
        },
        put: async (collection, id, value) => {
          checkOpen();
          checkCollection(collection);
          prepared(
            db,
            `INSERT INTO herald_documents (collection, id, value, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
          ).run(collection, id, encodeDocument(value), Date.now());
        },
        delete: async (collection, id) => {
          checkOpen();
          checkCollection(collection);
          return (
            prepared(db, 'DELETE FROM herald_documents WHERE collection = ? AND id = ?').run(collection, id)
              .changes > 0
          );
        },
        list: async <V>(collection: string, options?: { prefix?: string; limit?: number }) => {
          checkOpen();
          return list(db, collection, options) as { id: string; value: V }[];
        },
        recordHandled: async (group, eventId, fingerprint): Promise<InboxOutcome> => {
          checkOpen();
          // One statement on the usual path (a first delivery); the entry is read only when
          // one was there already, to tell a redelivery from a conflict.
          const { changes } = prepared(
            db,
            `INSERT INTO herald_inbox (group_name, event_id, fingerprint, handled_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (group_name, event_id) DO NOTHING`,
          ).run(group, eventId, fingerprint, Date.now());
          if (Number(changes) > 0) return 'first';
          const status = inboxStatus(db, group, eventId, fingerprint);
          if (status === 'unseen') {
            // Not on one writer connection inside its transaction; refused rather than assumed.
            throw new HeraldError('CONTENTION', `the inbox entry of ${eventId} for ${group} vanished`);
          }
          return status;
        },
      });
      try {
        return await fn(tx);
      } catch (error) {
        if (sqliteCode(error) === undefined) thrown = { error };
        throw error;
      } finally {
        open = false;
      }
    }, options?.urgent === true);
    return run.catch((error: unknown) => {
      throw thrown === undefined ? error : thrown.error;
    });
  }

  async get<T = unknown>(collection: string, id: string): Promise<T | undefined> {
    checkCollection(collection);
    const row = prepared(
      this.#log[readerConnection],
      'SELECT value FROM herald_documents WHERE collection = ? AND id = ?',
    ).get(collection, id) as { value: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  async list<T = unknown>(collection: string, options?: { prefix?: string; limit?: number }) {
    return list(this.#log[readerConnection], collection, options) as { id: string; value: T }[];
  }

  async inboxStatus(group: string, eventId: string, fingerprint: string) {
    return inboxStatus(this.#log[readerConnection], group, eventId, fingerprint);
  }

  async inboxStatuses(group: string, entries: readonly InboxQuery[]): Promise<InboxStatus[]> {
    // On the reader connection, one statement (one pair of WAL read locks) per 500 ids.
    return entries.length === 0 ? [] : inboxStatuses(this.#log[readerConnection], group, entries);
  }

  async inboxEntries(group: string, eventIds: readonly string[]): Promise<(InboxEntry | undefined)[]> {
    return eventIds.length === 0 ? [] : inboxEntries(this.#log[readerConnection], group, eventIds);
  }

  pruneInbox(handledBefore: number, limit: number): Promise<number> {
    checkPruneArguments(handledBefore, limit);
    return this.#log[transactWithLog]((db) =>
      Number(
        prepared(
          db,
          `DELETE FROM herald_inbox WHERE (group_name, event_id) IN (
               SELECT group_name, event_id FROM herald_inbox WHERE handled_at < ? ORDER BY handled_at LIMIT ?)`,
        ).run(handledBefore, limit).changes,
      ),
    );
  }

  async *exportState(pageSize?: number): AsyncIterable<readonly StateRecord[]> {
    const size = checkStatePageSize(pageSize);
    const db = this.#log[readerConnection];
    // Keyset pages on the primary keys: each page is one short read, never one long snapshot.
    let after: [string, string] = ['', ''];
    for (;;) {
      const rows = prepared(
        db,
        `SELECT collection, id, value FROM herald_documents WHERE (collection, id) > (?, ?)
         ORDER BY collection, id LIMIT ?`,
      ).all(after[0], after[1], size) as unknown as { collection: string; id: string; value: string }[];
      if (rows.length === 0) break;
      yield rows.map((row) => ({
        kind: 'document' as const,
        collection: row.collection,
        id: row.id,
        value: JSON.parse(row.value) as unknown,
      }));
      const last = rows.at(-1)!;
      after = [last.collection, last.id];
    }
    after = ['', ''];
    for (;;) {
      const rows = prepared(
        db,
        `SELECT group_name, event_id, fingerprint, handled_at FROM herald_inbox
         WHERE (group_name, event_id) > (?, ?) ORDER BY group_name, event_id LIMIT ?`,
      ).all(after[0], after[1], size) as unknown as {
        group_name: string;
        event_id: string;
        fingerprint: string;
        handled_at: number;
      }[];
      if (rows.length === 0) break;
      yield rows.map((row) => ({
        kind: 'inbox' as const,
        group: row.group_name,
        eventId: row.event_id,
        fingerprint: row.fingerprint,
        handledAt: Number(row.handled_at),
      }));
      const last = rows.at(-1)!;
      after = [last.group_name, last.event_id];
    }
  }

  async importState(records: readonly StateRecord[]): Promise<void> {
    checkStateRecords(records);
    if (records.length === 0) return;
    await this.#log[transactWithLog]((db) => {
      const now = Date.now();
      for (const record of records) {
        if (record.kind === 'document') {
          prepared(
            db,
            `INSERT INTO herald_documents (collection, id, value, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
          ).run(record.collection, record.id, encodeDocument(record.value), now);
        } else {
          prepared(
            db,
            `INSERT INTO herald_inbox (group_name, event_id, fingerprint, handled_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (group_name, event_id) DO NOTHING`,
          ).run(record.group, record.eventId, record.fingerprint, record.handledAt);
        }
      }
    });
  }

  recordFailure(key: DeliveryKey, error: string): Promise<FailureRecord> {
    return this.#log[transactWithLog]((db) => {
      const now = Date.now();
      prepared(
        db,
        `INSERT INTO herald_failures (group_name, topic, partition, offset, attempts, first_failure_at, last_failure_at, last_error)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?)
         ON CONFLICT (group_name, topic, partition, offset) DO UPDATE SET
           attempts = attempts + 1, last_failure_at = excluded.last_failure_at, last_error = excluded.last_error`,
      ).run(key.group, key.topic, key.partition, key.offset, now, now, error.slice(0, 2000));
      return readFailure(db, key)!;
    });
  }

  async failures(key: DeliveryKey): Promise<FailureRecord | undefined> {
    return readFailure(this.#log[readerConnection], key);
  }

  async latestFailure(group: string, topic: string, partition: number): Promise<number | undefined> {
    const row = prepared(
      this.#log[readerConnection],
      'SELECT max(offset) AS latest FROM herald_failures WHERE group_name = ? AND topic = ? AND partition = ?',
    ).get(group, topic, partition) as { latest: number | null } | undefined;
    return row?.latest ?? undefined;
  }

  async clearFailures(key: DeliveryKey): Promise<void> {
    await this.#log[transactWithLog]((db) => {
      prepared(
        db,
        'DELETE FROM herald_failures WHERE group_name = ? AND topic = ? AND partition = ? AND offset = ?',
      ).run(key.group, key.topic, key.partition, key.offset);
    });
  }

  /** The store shares the log's connection; closing the log closes it. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function readFailure(db: DatabaseSync, key: DeliveryKey): FailureRecord | undefined {
  const row = prepared(
    db,
    `SELECT attempts, first_failure_at, last_failure_at, last_error FROM herald_failures
       WHERE group_name = ? AND topic = ? AND partition = ? AND offset = ?`,
  ).get(key.group, key.topic, key.partition, key.offset) as
    { attempts: number; first_failure_at: number; last_failure_at: number; last_error: string } | undefined;
  return row === undefined
    ? undefined
    : {
        attempts: row.attempts,
        firstFailureAt: row.first_failure_at,
        lastFailureAt: row.last_failure_at,
        lastError: row.last_error,
      };
}

/** Opens the store on an embedded log's file, creating its tables. */
export async function openSqliteStore(log: SqliteLog): Promise<SqliteStore> {
  await log[transactWithLog]((db) => {
    for (const ddl of STORE_DDL) db.exec(ddl);
  });
  return new SqliteStore(log);
}
