import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
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
  assertValidEnvelope,
  attributesOf,
  isHeraldError,
} from '@herald/core';
import {
  assertTopicName,
  checkCollection,
  checkListLimit,
  checkPruneArguments,
  checkStatePageSize,
  checkStateRecords,
  encodeDocument,
  withTimers,
} from '@herald/core/backend';
import { classify, isPostgresError, toHeraldError } from './postgres-errors.ts';
import { inlineSql, sqlLiteral } from './inline-sql.ts';
import { type SchemaNames, createTables, schemaNames } from './schema.ts';

/** Isolation level of store transactions. */
export type PostgresIsolation = 'serializable' | 'repeatable read' | 'read committed';

interface StoreTuning {
  /**
   * Schema holding Herald's tables (created when missing). Default `herald`. One outbox and one
   * relay per schema.
   */
  readonly schema?: string;
  /**
   * Default `serializable`: transactions behave as if they ran one at a time, as on SQLite, so a
   * read-modify-write (`get` then `put`) never loses an update. Serialization failures and
   * deadlocks are retried (see `maxAttempts`).
   */
  readonly isolation?: PostgresIsolation;
  /**
   * Runs of a transaction before a serialization failure or deadlock is reported as `CONTENTION`.
   * Default 10. The transaction's function runs again on each retry, so it must not do I/O
   * outside the store.
   */
  readonly maxAttempts?: number;
  /** Largest event `tx.emit` accepts (attributes as JSON + data), in bytes. Default 1 MiB. */
  readonly maxEventBytes?: number;
  /**
   * Group commit: transactions started while others run wait a moment and then commit together,
   * up to `maxTransactions` (default 64) in one Postgres transaction, each inside its own
   * savepoint. One that fails is rolled back to its savepoint alone and its caller gets its
   * error; the others commit. Their functions run one after another on one connection, so
   * transactions of one process never conflict with each other; at most `connections`
   * (default 1) such groups run at once. A serialization failure or deadlock runs the whole
   * group again (each member counts an attempt, bounded by `maxAttempts`). Each caller's promise
   * settles only after its group's COMMIT. A transaction started inside another one's function
   * runs alone, and so does an urgent one (`{ urgent: true }`, e.g. behind an HTTP request): on
   * its own connection, beside the running group, never waiting for it. Default off: every
   * transaction is its own `BEGIN … COMMIT`.
   */
  readonly groupCommit?: boolean | { readonly maxTransactions?: number; readonly connections?: number };
}

/**
 * Where the store connects: an existing `pg.Pool` (the caller keeps owning it: `close()` leaves
 * it open) or a connection string (the store opens a pool and `close()` ends it).
 */
export type PostgresStoreOptions = StoreTuning &
  (
    | { readonly pool: Pool; readonly connectionString?: never }
    | { readonly connectionString: string; readonly pool?: never }
  );

/** @internal Package-private: what the outbox relay needs from a store. */
export const relayAccess = Symbol('herald.postgres.relayAccess');

/** One emitted event, encoded, waiting for its transaction's commit. */
interface PendingRow {
  readonly topic: string;
  readonly partition: number | null;
  readonly attributes: string;
  readonly data: Buffer | null;
}

interface TransactionState {
  open: boolean;
  /** The first statement that failed: the server has aborted the transaction since. */
  failure: unknown;
  readonly outbox: PendingRow[];
  /**
   * Statements not sent yet, in order: the transaction's BEGIN and savepoints, then writes whose
   * answer nobody waits for (`put`). They travel with the next statement whose answer is needed
   * (a read), or with the transaction's end; every send empties the list.
   */
  readonly pending: string[];
  /** Where this transaction's own writes start in `pending` (before: statements carried to it). */
  writesFrom: number;
  /** Whether anything was sent: a transaction that sent nothing has nothing to roll back. */
  sent: boolean;
  /** Callers waiting for the answer of a statement in `pending`, by its index there. */
  waiting: Map<number, { resolve(result: QueryResult): void; reject(error: unknown): void }>;
}

function newState(carried: string[]): TransactionState {
  return {
    open: true,
    failure: undefined,
    outbox: [],
    pending: carried,
    writesFrom: carried.length,
    sent: false,
    waiting: new Map(),
  };
}

/**
 * Sends what `state` has not sent yet, then `after`, as one query (one statement each, one round
 * trip); answers those waiting for a statement of `pending`, and resolves with the results of
 * `after`. A failure fails the transaction and rejects every waiter with it.
 */
async function sendPending(
  client: PoolClient,
  state: TransactionState,
  after: readonly string[],
): Promise<QueryResult[]> {
  const statements = [...state.pending, ...after];
  if (statements.length === 0) return [];
  const waiting = state.waiting;
  const offset = state.pending.length;
  state.pending.length = 0;
  state.writesFrom = 0;
  state.waiting = new Map();
  state.sent = true;
  try {
    const answer = (await client.query(statements.join('; '))) as QueryResult | QueryResult[];
    const results = Array.isArray(answer) ? answer : [answer];
    for (const [index, waiter] of waiting) waiter.resolve(results[index]!);
    return results.slice(offset);
  } catch (error) {
    state.failure ??= error;
    for (const waiter of waiting.values()) waiter.reject(error);
    throw error;
  }
}

/** A statement the server refused (the data, a constraint, a rule): not a race, not an outage. */
function refused(error: unknown): boolean {
  const kind = classify(error);
  return kind === 'invalid' || kind === 'other';
}

/** A transaction waiting for, or running in, a group commit. */
interface Member {
  readonly fn: (tx: StoreTransaction) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  attempts: number;
}

/** Marks the function of a group's member: a transaction it starts runs alone. */
const inGroup = new AsyncLocalStorage<true>();

type Attempt<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly retry: boolean; readonly error: unknown };

const DEFAULT_MAX_EVENT_BYTES = 1_048_576;

/** Full jitter, doubling from 8 ms, capped at 1 s: contenders spread out instead of colliding again. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(1000, 4 * 2 ** attempt);
}

/** Statement names by SQL text; the text of a store's statement depends only on its schema. */
const statementNames = new Map<string, string>();

/**
 * `sql` as a named (prepared) statement: each connection parses and plans it once, the first time
 * it runs there, and then only binds and executes it. Herald's statements are few and fixed per
 * schema, so the set each connection keeps stays small. The name is a digest of the text: the
 * same text always gets the same name, different texts never share one.
 */
export function prepared(sql: string, values: unknown[]): QueryConfig {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `herald_${createHash('sha256').update(sql).digest('base64url').slice(0, 32)}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, values };
}

/** A SQL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

type Query = <R extends QueryResultRow>(sql: string, params: unknown[]) => Promise<QueryResult<R>>;

/**
 * The Store on Postgres: documents, inbox, failure records and the transactional outbox, in
 * one schema. A transaction is `BEGIN … COMMIT` on one pooled connection.
 *
 * The outbox: `tx.emit` validates and encodes the event and keeps it with the transaction;
 * just before `COMMIT` the store takes a transaction-scoped advisory lock and inserts the
 * transaction's events, so outbox ids are allocated and become visible in commit order, and a
 * relay reading them in id order never overtakes a row that commits later (ADR 0007). The lock
 * is held only for that insert and the commit. `emit` resolves `undefined`: an event's position
 * in the log is known only once `startOutboxRelay` has published it.
 *
 * Transactions are serializable by default; a serialization failure or deadlock runs the whole
 * function again (bounded by `maxAttempts`), so keep I/O to other systems outside it.
 *
 * @example
 * const store = await openPostgresStore({ connectionString: process.env.DATABASE_URL! });
 * await store.transaction(async (tx) => {
 *   await tx.put('orders', order.id, order);
 *   await tx.emit('orders', OrderPlaced.create(order, { source: '/orders', key: order.id }));
 * });
 * await using relay = startOutboxRelay({ store, log });
 */
export class PostgresStore implements Store {
  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #names: SchemaNames;
  readonly #begin: string;
  readonly #maxAttempts: number;
  readonly #maxEventBytes: number;
  /** Group commit: members per group (0 = off) and groups running at once. */
  readonly #groupSize: number;
  readonly #groupConnections: number;
  readonly #queue: Member[] = [];
  /**
   * Takes the commit lock and notifies the relay (delivered at commit). Literals, not
   * parameters, so that it can share a round trip with other statements; schema names are
   * validated to `[a-z0-9_]`.
   */
  readonly #lockSql: string;
  #groupsRunning = 0;
  #closed = false;

  /** Use `openPostgresStore`, which also creates the tables. */
  constructor(pool: Pool, ownsPool: boolean, names: SchemaNames, tuning: StoreTuning) {
    const maxAttempts = tuning.maxAttempts ?? 10;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
      throw new HeraldError('INVALID_ARGUMENT', 'maxAttempts must be a positive integer');
    }
    const maxEventBytes = tuning.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    if (!Number.isSafeInteger(maxEventBytes) || maxEventBytes < 1) {
      throw new HeraldError('INVALID_ARGUMENT', 'maxEventBytes must be a positive integer');
    }
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#names = names;
    this.#begin = `BEGIN ISOLATION LEVEL ${(tuning.isolation ?? 'serializable').toUpperCase()}`;
    this.#maxAttempts = maxAttempts;
    this.#maxEventBytes = maxEventBytes;
    const group = tuning.groupCommit === true ? {} : tuning.groupCommit || undefined;
    const groupSize = group === undefined ? 0 : (group.maxTransactions ?? 64);
    const groupConnections = group?.connections ?? 1;
    if (group !== undefined && (!Number.isSafeInteger(groupSize) || groupSize < 1)) {
      throw new HeraldError('INVALID_ARGUMENT', 'groupCommit.maxTransactions must be a positive integer');
    }
    if (!Number.isSafeInteger(groupConnections) || groupConnections < 1) {
      throw new HeraldError('INVALID_ARGUMENT', 'groupCommit.connections must be a positive integer');
    }
    this.#lockSql =
      `SELECT pg_advisory_xact_lock(hashtextextended(${literal(names.commitLock)}, 0)), ` +
      `pg_notify(${literal(names.channel)}, '')`;
    this.#groupSize = groupSize;
    this.#groupConnections = groupConnections;
  }

  /** The schema holding this store's tables. */
  get schema(): string {
    return this.#names.schema;
  }

  /** @internal */
  get [relayAccess](): { readonly pool: Pool; readonly names: SchemaNames } {
    this.#checkOpen();
    return { pool: this.#pool, names: this.#names };
  }

  async transaction<T>(
    fn: (tx: StoreTransaction) => Promise<T> | T,
    options?: TransactionOptions,
  ): Promise<T> {
    this.#checkOpen();
    // An urgent transaction runs alone: a group's members run one after another on one
    // connection, so one queued behind a running group would wait for all of it.
    if (this.#groupSize > 0 && inGroup.getStore() === undefined && options?.urgent !== true) {
      return new Promise<T>((resolve, reject) => {
        this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject, attempts: 0 });
        this.#startGroups();
      });
    }
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(fn);
      if (outcome.ok) return outcome.value;
      if (!outcome.retry) throw outcome.error;
      if (attempt >= this.#maxAttempts) {
        throw new HeraldError(
          'CONTENTION',
          `a store transaction failed ${attempt} times on serialization failures or deadlocks and was given up; ` +
            'nothing of it was committed (contention on the same rows: retry later, or raise maxAttempts)',
          { cause: outcome.error, details: { attempts: attempt } },
        );
      }
      await sleep(backoffMs(attempt));
    }
  }

  /** Starts group runners while members wait and fewer than `connections` run. */
  #startGroups(): void {
    while (this.#groupsRunning < this.#groupConnections && this.#queue.length > 0) {
      this.#groupsRunning++;
      void this.#runGroups().finally(() => {
        this.#groupsRunning--;
        this.#startGroups();
      });
    }
  }

  /** Commits groups until the queue is empty. Every member's promise is settled exactly once. */
  async #runGroups(): Promise<void> {
    // Transactions started in the same turn of the event loop join the first group.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#queue.length > 0) {
      const members = this.#queue.splice(0, this.#groupSize);
      for (const member of members) member.attempts++;
      const outcome = await this.#attemptGroup(members);
      if (outcome.retry === undefined) continue;
      // A serialization failure or deadlock: nothing of the group committed; run it again.
      const again: Member[] = [];
      for (const member of members) {
        if (member.attempts < this.#maxAttempts) again.push(member);
        else
          member.reject(
            new HeraldError(
              'CONTENTION',
              `a store transaction failed ${member.attempts} times on serialization failures or deadlocks and was given up; ` +
                'nothing of it was committed (contention on the same rows: retry later, or raise maxAttempts)',
              { cause: outcome.retry, details: { attempts: member.attempts } },
            ),
          );
      }
      this.#queue.unshift(...again);
      if (again.length > 0) await sleep(backoffMs(again[0]!.attempts));
    }
  }

  /**
   * One group: BEGIN, each member's function inside its own savepoint, the outbox rows of the
   * members that succeeded (in member order, under the commit lock), COMMIT. Resolves with the
   * retryable failure when the whole group must run again (its members not settled yet);
   * otherwise every member is settled.
   */
  async #attemptGroup(members: readonly Member[]): Promise<{ readonly retry?: unknown }> {
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      const failure = toHeraldError(error, 'starting a store transaction');
      for (const member of members) member.reject(failure);
      return {};
    }
    let broken = false;
    let connectionError: Error | undefined;
    const onConnectionError = (error: Error) => {
      connectionError ??= error;
      broken = true;
    };
    client.on('error', onConnectionError);
    let committed = false;
    /** Members rolled back alone, with the error their caller gets. */
    const failed = new Map<Member, unknown>();
    const values = new Map<Member, unknown>();
    /** Rows of the members that succeeded, in member order. */
    const rowsOf = new Map<Member, readonly PendingRow[]>();
    /** Statements not sent yet, handed from one member to the next (BEGIN and savepoints at first). */
    const carried: string[] = [this.#begin, 'SAVEPOINT m0'];
    const last = members.length - 1;
    try {
      let final: { readonly member: Member; readonly unsent: string[]; readonly writes: number } | undefined;
      for (const [index, member] of members.entries()) {
        const state = newState(carried.splice(0));
        let thrown: { readonly error: unknown } | undefined;
        try {
          values.set(member, await inGroup.run(true, () => member.fn(this.#transactionView(client, state))));
        } catch (error) {
          thrown = { error };
        }
        // An answer asked for and never awaited: sent now, so that what is unsent is only writes.
        if (state.waiting.size > 0) await sendPending(client, state, []).catch(() => undefined);
        state.open = false;
        if (state.failure !== undefined && classify(state.failure) === 'retry')
          return { retry: state.failure };
        if (broken) throw connectionError ?? new Error('the connection failed');
        // What the member left unsent: statements carried to it, then its own writes.
        const before = state.pending.slice(0, state.writesFrom);
        const writes = state.pending.slice(state.writesFrom);
        let failure: unknown =
          thrown !== undefined
            ? thrown.error
            : state.failure !== undefined
              ? toHeraldError(state.failure, 'a statement of the transaction')
              : undefined;
        if (failure === undefined && index === last) {
          final = {
            member,
            unsent: [...before, ...writes, `RELEASE SAVEPOINT m${index}`],
            writes: writes.length,
          };
          rowsOf.set(member, state.outbox);
          break;
        }
        if (failure === undefined && writes.length > 0) {
          // Its writes go now, with the end of its savepoint: one Postgres refuses is its own failure.
          try {
            await sendPending(client, state, [`RELEASE SAVEPOINT m${index}`, `SAVEPOINT m${index + 1}`]);
          } catch (error) {
            if (broken || !refused(error)) throw connectionError ?? error;
            failure = toHeraldError(error, 'a statement of the transaction');
            // The statements before its writes ran; its savepoint is there to go back to.
            before.length = 0;
          }
        }
        if (failure === undefined) {
          if (writes.length === 0)
            carried.push(...before, `RELEASE SAVEPOINT m${index}`, `SAVEPOINT m${index + 1}`);
          rowsOf.set(member, state.outbox);
          continue;
        }
        // This member alone is undone: what it wrote and emitted is gone (its unsent writes were
        // never sent), the others stay.
        failed.set(member, failure);
        carried.push(...before, `ROLLBACK TO SAVEPOINT m${index}`);
        if (index < last) carried.push(`SAVEPOINT m${index + 1}`);
      }
      // The last member's writes, the end of its savepoint, the outbox and COMMIT: one round trip.
      const commit = async (unsent: string[]) => {
        const rows = members.flatMap((member) => rowsOf.get(member) ?? []);
        const statements: string[] = [];
        if (rows.length > 0) statements.push(this.#lockSql, outboxInsertSql(this.#names.outbox, rows));
        statements.push('COMMIT');
        return (await sendPending(client, newState(unsent), statements)).at(-1)!;
      };
      let result;
      try {
        result = await commit(final?.unsent ?? carried);
      } catch (error) {
        if (final === undefined || final.writes === 0 || broken || !refused(error)) throw error;
        // Refused: by the last member's writes when its savepoint is still there (the release
        // did not run), then it alone is undone; otherwise by the outbox or the commit.
        const own = await client.query(`ROLLBACK TO SAVEPOINT m${last}`).then(
          () => true,
          () => false,
        );
        if (!own) throw error;
        failed.set(final.member, toHeraldError(error, 'a statement of the transaction'));
        rowsOf.delete(final.member);
        result = await commit([]);
      }
      if (result.command !== 'COMMIT') {
        throw new HeraldError('CONFLICT', 'Postgres rolled the transaction back instead of committing it');
      }
      committed = true;
      for (const member of members) {
        if (failed.has(member)) member.reject(failed.get(member));
        else member.resolve(values.get(member));
      }
      return {};
    } catch (error) {
      if (classify(connectionError ?? error) === 'retry' && !broken) return { retry: error };
      const mapped = toHeraldError(error, 'committing a group of store transactions');
      // The connection failed: during COMMIT the group may or may not have committed.
      const failure =
        broken || classify(error) === 'unavailable'
          ? new HeraldError(mapped.code, mapped.message, {
              cause: error,
              details: { ...mapped.details, commitOutcome: 'unknown' },
            })
          : mapped;
      if (classify(error) === 'unavailable') broken = true;
      for (const member of members) member.reject(failed.get(member) ?? failure);
      return {};
    } finally {
      if (!committed && !broken) await client.query('ROLLBACK').catch(() => (broken = true));
      client.removeListener('error', onConnectionError);
      client.release(broken);
    }
  }

  async #attempt<T>(fn: (tx: StoreTransaction) => Promise<T> | T): Promise<Attempt<T>> {
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      return { ok: false, retry: false, error: toHeraldError(error, 'starting a store transaction') };
    }
    // BEGIN goes with the transaction's first statement whose answer is needed, or with its end.
    const state = newState([this.#begin]);
    let committed = false;
    let broken = false;
    // A checked-out connection that drops emits 'error' on the client: without a listener that
    // would end the process. The transaction fails instead, and the connection is discarded.
    const onConnectionError = (error: Error) => {
      state.failure ??= error;
      broken = true;
    };
    client.on('error', onConnectionError);
    const failed = (error: unknown, doing: string): Attempt<T> => {
      const failure = state.failure ?? error;
      if (classify(failure) === 'retry') return { ok: false, retry: true, error: failure };
      return { ok: false, retry: false, error: toHeraldError(error, doing) };
    };
    try {
      let value: T;
      try {
        value = await fn(this.#transactionView(client, state));
      } catch (error) {
        state.open = false;
        // A statement of this transaction failed retryably: run it again, whatever `fn` made of
        // that failure. Otherwise what `fn` threw reaches the caller as it was thrown.
        if (state.failure !== undefined && classify(state.failure) === 'retry') {
          return { ok: false, retry: true, error: state.failure };
        }
        return { ok: false, retry: false, error };
      }
      state.open = false;
      // `fn` caught a failed statement and carried on: Postgres has aborted the transaction, so
      // it must not be reported as committed.
      if (state.failure !== undefined) return failed(state.failure, 'a statement of the transaction');
      try {
        // What is still unsent, the outbox and COMMIT: one round trip.
        const statements: string[] = [];
        if (state.outbox.length > 0)
          statements.push(this.#lockSql, outboxInsertSql(this.#names.outbox, state.outbox));
        statements.push('COMMIT');
        const result = (await sendPending(client, state, statements)).at(-1)!;
        if (result.command !== 'COMMIT') {
          return {
            ok: false,
            retry: false,
            error: new HeraldError(
              'CONFLICT',
              'Postgres rolled the transaction back instead of committing it',
            ),
          };
        }
        committed = true;
      } catch (error) {
        if (classify(error) === 'retry') return { ok: false, retry: true, error };
        const mapped = toHeraldError(error, 'committing a store transaction');
        // The server refused the commit: nothing was committed.
        if (classify(error) !== 'unavailable') return { ok: false, retry: false, error: mapped };
        // The connection failed during COMMIT: the transaction may or may not have committed.
        broken = true;
        return {
          ok: false,
          retry: false,
          error: new HeraldError(mapped.code, mapped.message, {
            cause: error,
            details: { ...mapped.details, commitOutcome: 'unknown' },
          }),
        };
      }
      return { ok: true, value };
    } finally {
      if (!committed && !broken && state.sent) {
        await client.query('ROLLBACK').catch(() => (broken = true));
      }
      client.removeListener('error', onConnectionError);
      client.release(broken);
    }
  }

  /**
   * The `tx` of a transaction on `client`. Reads are sent at once, with whatever the transaction
   * has not sent yet before them; writes whose answer nobody waits for (`put`) are not sent until
   * then, or until the transaction ends: a transaction that reads once and writes is two round
   * trips (BEGIN, the read / the writes, the outbox, COMMIT), not one per statement. A write
   * Postgres refuses fails the transaction all the same, when it is sent: at the next read (which
   * then rejects with its error) or at the end.
   */
  #transactionView(client: PoolClient, state: TransactionState): StoreTransaction {
    const names = this.#names;
    const usable = () => {
      if (!state.open) {
        throw new HeraldError(
          'CLOSED',
          'this store transaction has ended; use its tx only inside the transaction function',
        );
      }
      if (state.failure !== undefined) {
        // Postgres ignores every statement after a failed one; say which one failed instead.
        const first = toHeraldError(state.failure, 'an earlier statement of this store transaction');
        throw new HeraldError(first.code, `${first.message} (the transaction is aborted)`, {
          cause: state.failure,
          details: first.details,
        });
      }
    };
    /** `sql` with its values written in; a value with no literal fails the transaction, as Postgres would. */
    const inline = (sql: string, params: unknown[]) => {
      try {
        return inlineSql(sql, params);
      } catch (error) {
        state.failure ??= error;
        throw error;
      }
    };
    const query: Query = async <R extends QueryResultRow>(sql: string, params: unknown[]) => {
      usable();
      const text = inline(sql, params);
      try {
        const [result] = await sendPending(client, state, [text]);
        return result as QueryResult<R>;
      } catch (error) {
        throw toHeraldError(error, 'a store transaction statement');
      }
    };
    const write = (sql: string, params: unknown[]) => {
      usable();
      state.pending.push(inline(sql, params));
    };
    /**
     * A statement whose answer is needed, but not before whatever the caller does next in the
     * same turn: it goes with the transaction's next statement, or on its own once the turn ends.
     */
    const soon = (sql: string, params: unknown[]): Promise<QueryResult> => {
      usable();
      state.pending.push(inline(sql, params));
      const answer = new Promise<QueryResult>((resolve, reject) =>
        state.waiting.set(state.pending.length - 1, { resolve, reject }),
      );
      process.nextTick(() => {
        if (state.waiting.size > 0) void sendPending(client, state, []).catch(() => undefined);
      });
      return answer.catch((error: unknown) => {
        throw toHeraldError(error, 'a store transaction statement');
      });
    };
    // Timers (tx.schedule) are documents of this same transaction: see withTimers.
    return withTimers({
      emit: async (topic, event, options) => {
        if (!state.open) {
          throw new HeraldError(
            'CLOSED',
            'this store transaction has ended; emit inside the transaction function',
          );
        }
        state.outbox.push(this.#encode(topic, event, options?.partition));
        return undefined;
      },
      get: async <V>(collection: string, id: string) => {
        checkCollection(collection);
        const { rows } = await query<{ value: V }>(
          `SELECT value FROM ${names.documents} WHERE collection = $1 AND id = $2`,
          [collection, id],
        );
        return rows[0]?.value;
      },
      put: async (collection, id, value) => {
        checkCollection(collection);
        write(
          `INSERT INTO ${names.documents} (collection, id, value) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value, updated_at = now()`,
          [collection, id, encodeDocument(value)],
        );
      },
      delete: async (collection, id) => {
        checkCollection(collection);
        const result = await query(`DELETE FROM ${names.documents} WHERE collection = $1 AND id = $2`, [
          collection,
          id,
        ]);
        return (result.rowCount ?? 0) > 0;
      },
      list: async <V>(collection: string, options?: { prefix?: string; limit?: number }) =>
        listDocuments<V>(query, names, collection, options),
      recordHandled: async (group, eventId, fingerprint): Promise<InboxOutcome> => {
        // Race-safe through the primary key: a concurrent insert of the same entry waits for the
        // other transaction; if that one commits, this one sees a conflict (or, serializable,
        // fails retryably and finds the entry when it runs again).
        // Sent with the caller's next statement: the entry and a handler's first read, one round trip.
        const inserted = await soon(
          `INSERT INTO ${names.inbox} (group_name, event_id, fingerprint) VALUES ($1, $2, $3)
           ON CONFLICT (group_name, event_id) DO NOTHING`,
          [group, eventId, fingerprint],
        );
        if (inserted.rowCount === 1) return 'first';
        const status = await inboxStatus(query, names, group, eventId, fingerprint);
        if (status === 'unseen') {
          throw new HeraldError(
            'CONTENTION',
            `the inbox entry of ${eventId} for ${group} vanished during the transaction`,
          );
        }
        return status;
      },
    });
  }

  #encode(
    topic: string,
    event: Parameters<StoreTransaction['emit']>[1],
    partition: number | undefined,
  ): PendingRow {
    assertTopicName(topic);
    if (
      partition !== undefined &&
      (!Number.isSafeInteger(partition) || partition < 0 || partition > 2 ** 31 - 1)
    ) {
      throw new HeraldError('INVALID_ARGUMENT', `partition must be a non-negative integer, got ${partition}`);
    }
    assertValidEnvelope(event);
    const attributes = attributesOf(event);
    for (const [name, value] of Object.entries(attributes)) {
      // CloudEvents forbids control characters in strings; jsonb cannot hold U+0000 at all.
      if (value.includes('\u0000')) {
        throw new HeraldError('INVALID_ENVELOPE', `CloudEvent attribute "${name}" contains U+0000`, {
          details: { attribute: name },
        });
      }
    }
    const json = JSON.stringify(attributes);
    // Copied: the caller may reuse its buffer before the transaction commits.
    const data = event.data === undefined ? null : Buffer.from(event.data);
    const bytes = Buffer.byteLength(json) + (data?.length ?? 0);
    if (bytes > this.#maxEventBytes) {
      throw new HeraldError(
        'TOO_LARGE',
        `event ${event.id} is ${bytes} bytes; the store accepts at most ${this.#maxEventBytes} (maxEventBytes)`,
        { details: { topic, bytes, maxEventBytes: this.#maxEventBytes } },
      );
    }
    return { topic, partition: partition ?? null, attributes: json, data };
  }

  /** A query on any pooled connection, outside transactions (committed state). */
  #query: Query = async (sql, params) => {
    this.#checkOpen();
    try {
      return await this.#pool.query(prepared(sql, params));
    } catch (error) {
      throw toHeraldError(error, 'a store query');
    }
  };

  async get<T = unknown>(collection: string, id: string): Promise<T | undefined> {
    checkCollection(collection);
    const { rows } = await this.#query<{ value: T }>(
      `SELECT value FROM ${this.#names.documents} WHERE collection = $1 AND id = $2`,
      [collection, id],
    );
    return rows[0]?.value;
  }

  async list<T = unknown>(collection: string, options?: { prefix?: string; limit?: number }) {
    return listDocuments<T>(this.#query, this.#names, collection, options);
  }

  async inboxStatus(group: string, eventId: string, fingerprint: string) {
    return inboxStatus(this.#query, this.#names, group, eventId, fingerprint);
  }

  async inboxStatuses(group: string, entries: readonly InboxQuery[]): Promise<InboxStatus[]> {
    if (entries.length === 0) return [];
    // One round trip for the whole batch: the ids travel as one text[] parameter.
    const { rows } = await this.#query<{ event_id: string; fingerprint: string }>(
      `SELECT event_id, fingerprint FROM ${this.#names.inbox} WHERE group_name = $1 AND event_id = ANY($2::text[])`,
      [group, entries.map((entry) => entry.eventId)],
    );
    const found = new Map(rows.map((row) => [row.event_id, row.fingerprint]));
    return entries.map(({ eventId, fingerprint }) => {
      const stored = found.get(eventId);
      if (stored === undefined) return 'unseen';
      return stored === fingerprint ? 'duplicate' : 'conflict';
    });
  }

  async inboxEntries(group: string, eventIds: readonly string[]): Promise<(InboxEntry | undefined)[]> {
    if (eventIds.length === 0) return [];
    // handled_at is the handling transaction's start (now()), read back in whole ms.
    const { rows } = await this.#query<{ event_id: string; fingerprint: string; handled_ms: string }>(
      `SELECT event_id, fingerprint, floor(extract(epoch FROM handled_at) * 1000)::bigint AS handled_ms
       FROM ${this.#names.inbox} WHERE group_name = $1 AND event_id = ANY($2::text[])`,
      [group, eventIds],
    );
    const found = new Map(
      rows.map((row) => [row.event_id, { fingerprint: row.fingerprint, handledAt: Number(row.handled_ms) }]),
    );
    return eventIds.map((id) => found.get(id));
  }

  async pruneInbox(handledBefore: number, limit: number): Promise<number> {
    checkPruneArguments(handledBefore, limit);
    const { rowCount } = await this.#query(
      `DELETE FROM ${this.#names.inbox} WHERE (group_name, event_id) IN (
         SELECT group_name, event_id FROM ${this.#names.inbox}
         WHERE handled_at < to_timestamp($1::double precision / 1000) ORDER BY handled_at LIMIT $2)`,
      [handledBefore, limit],
    );
    return rowCount ?? 0;
  }

  async *exportState(pageSize?: number): AsyncIterable<readonly StateRecord[]> {
    const size = checkStatePageSize(pageSize);
    // Keyset pages in byte order ("C"), the order the embedded store exports in.
    let after: [string, string] = ['', ''];
    for (;;) {
      const { rows } = await this.#query<{ collection: string; id: string; value: unknown }>(
        `SELECT collection, id, value FROM ${this.#names.documents}
         WHERE (collection, id) > ($1 COLLATE "C", $2 COLLATE "C") ORDER BY collection, id LIMIT $3`,
        [after[0], after[1], size],
      );
      if (rows.length === 0) break;
      yield rows.map((row) => ({
        kind: 'document' as const,
        collection: row.collection,
        id: row.id,
        value: row.value,
      }));
      const last = rows.at(-1)!;
      after = [last.collection, last.id];
    }
    after = ['', ''];
    for (;;) {
      const { rows } = await this.#query<{
        group_name: string;
        event_id: string;
        fingerprint: string;
        handled_ms: string;
      }>(
        `SELECT group_name, event_id, fingerprint, floor(extract(epoch FROM handled_at) * 1000)::bigint AS handled_ms
         FROM ${this.#names.inbox}
         WHERE (group_name COLLATE "C", event_id COLLATE "C") > ($1 COLLATE "C", $2 COLLATE "C")
         ORDER BY group_name COLLATE "C", event_id COLLATE "C" LIMIT $3`,
        [after[0], after[1], size],
      );
      if (rows.length === 0) break;
      yield rows.map((row) => ({
        kind: 'inbox' as const,
        group: row.group_name,
        eventId: row.event_id,
        fingerprint: row.fingerprint,
        handledAt: Number(row.handled_ms),
      }));
      const last = rows.at(-1)!;
      after = [last.group_name, last.event_id];
    }
  }

  async importState(records: readonly StateRecord[]): Promise<void> {
    checkStateRecords(records);
    if (records.length === 0) return;
    // The last of several records of one document wins, as one put after another would.
    const documents = new Map<string, Extract<StateRecord, { kind: 'document' }>>();
    const inbox: Extract<StateRecord, { kind: 'inbox' }>[] = [];
    for (const record of records) {
      if (record.kind === 'document') documents.set(JSON.stringify([record.collection, record.id]), record);
      else inbox.push(record);
    }
    const docs = [...documents.values()];
    this.#checkOpen();
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw toHeraldError(error, 'importing state');
    }
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO ${this.#names.documents} (collection, id, value)
         SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
         ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value, updated_at = now()`,
        [docs.map((d) => d.collection), docs.map((d) => d.id), docs.map((d) => encodeDocument(d.value))],
      );
      await client.query(
        `INSERT INTO ${this.#names.inbox} (group_name, event_id, fingerprint, handled_at)
         SELECT g, e, f, to_timestamp(h::double precision / 1000)
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS t(g, e, f, h)
         ON CONFLICT (group_name, event_id) DO NOTHING`,
        [
          inbox.map((i) => i.group),
          inbox.map((i) => i.eventId),
          inbox.map((i) => i.fingerprint),
          inbox.map((i) => i.handledAt),
        ],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw toHeraldError(error, 'importing state');
    } finally {
      client.release();
    }
  }

  async recordFailure(key: DeliveryKey, error: string): Promise<FailureRecord> {
    const now = Date.now();
    const { rows } = await this.#query<FailureRow>(
      `INSERT INTO ${this.#names.failures} AS f
         (group_name, topic, partition, "offset", attempts, first_failure_at, last_failure_at, last_error)
       VALUES ($1, $2, $3, $4, 1, $5, $5, $6)
       ON CONFLICT (group_name, topic, partition, "offset") DO UPDATE SET
         attempts = f.attempts + 1, last_failure_at = excluded.last_failure_at, last_error = excluded.last_error
       RETURNING attempts, first_failure_at, last_failure_at, last_error`,
      [key.group, key.topic, key.partition, key.offset, now, error.slice(0, 2000)],
    );
    return failureRecord(rows[0]!);
  }

  async failures(key: DeliveryKey): Promise<FailureRecord | undefined> {
    const { rows } = await this.#query<FailureRow>(
      `SELECT attempts, first_failure_at, last_failure_at, last_error FROM ${this.#names.failures}
       WHERE group_name = $1 AND topic = $2 AND partition = $3 AND "offset" = $4`,
      [key.group, key.topic, key.partition, key.offset],
    );
    return rows[0] === undefined ? undefined : failureRecord(rows[0]);
  }

  async latestFailure(group: string, topic: string, partition: number): Promise<number | undefined> {
    const { rows } = await this.#query<{ latest: string | null }>(
      `SELECT max("offset")::text AS latest FROM ${this.#names.failures}
       WHERE group_name = $1 AND topic = $2 AND partition = $3`,
      [group, topic, partition],
    );
    const latest = rows[0]?.latest;
    return latest === null || latest === undefined ? undefined : Number(latest);
  }

  async clearFailures(key: DeliveryKey): Promise<void> {
    await this.#query(
      `DELETE FROM ${this.#names.failures}
       WHERE group_name = $1 AND topic = $2 AND partition = $3 AND "offset" = $4`,
      [key.group, key.topic, key.partition, key.offset],
    );
  }

  /** Events committed to the outbox and not yet published by the relay. */
  async outboxBacklog(): Promise<number> {
    const { rows } = await this.#query<{ n: string }>(`SELECT count(*) AS n FROM ${this.#names.outbox}`, []);
    return Number(rows[0]!.n);
  }

  /**
   * Ends the pool the store opened from a connection string (a pool passed in stays open: its
   * owner ends it). Transactions still running finish on their connections first.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsPool) await this.#pool.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new HeraldError('CLOSED', 'the Postgres store is closed');
  }
}

interface FailureRow {
  readonly attempts: number;
  readonly first_failure_at: string;
  readonly last_failure_at: string;
  readonly last_error: string;
}

function failureRecord(row: FailureRow): FailureRecord {
  return {
    attempts: row.attempts,
    firstFailureAt: Number(row.first_failure_at),
    lastFailureAt: Number(row.last_failure_at),
    lastError: row.last_error,
  };
}

/**
 * Inserts a committing transaction's events, in order. Sent after the commit lock
 * (`pg_advisory_xact_lock`, transaction-scoped: held through COMMIT, released only once the
 * commit is visible), so the next writer's ids are higher than every id visible before it.
 * NOTIFY is delivered at commit, never for a rollback.
 */
function outboxInsertSql(table: string, rows: readonly PendingRow[]): string {
  const values = rows.map(
    (row, position) =>
      `(${sqlLiteral(row.topic)}::text, ${sqlLiteral(row.partition)}::integer, ` +
      `${sqlLiteral(row.attributes)}::jsonb, ${sqlLiteral(row.data)}::bytea, ${position})`,
  );
  return (
    `INSERT INTO ${table} (topic, partition, attributes, data) ` +
    `SELECT topic, partition, attributes, data FROM (VALUES ${values.join(', ')}) ` +
    `AS u(topic, partition, attributes, data, position) ORDER BY position`
  );
}

async function listDocuments<V>(
  query: Query,
  names: SchemaNames,
  collection: string,
  options: { prefix?: string; limit?: number } = {},
): Promise<{ id: string; value: V }[]> {
  checkCollection(collection);
  const limit = checkListLimit(options.limit);
  const { rows } =
    options.prefix === undefined
      ? await query<{ id: string; value: V }>(
          `SELECT id, value FROM ${names.documents} WHERE collection = $1 ORDER BY id LIMIT $2`,
          [collection, limit],
        )
      : await query<{ id: string; value: V }>(
          `SELECT id, value FROM ${names.documents}
           WHERE collection = $1 AND starts_with(id, $2) ORDER BY id LIMIT $3`,
          [collection, options.prefix, limit],
        );
  return rows.map((row) => ({ id: row.id, value: row.value }));
}

async function inboxStatus(
  query: Query,
  names: SchemaNames,
  group: string,
  eventId: string,
  fingerprint: string,
): Promise<'unseen' | 'duplicate' | 'conflict'> {
  const { rows } = await query<{ fingerprint: string }>(
    `SELECT fingerprint FROM ${names.inbox} WHERE group_name = $1 AND event_id = $2`,
    [group, eventId],
  );
  const row = rows[0];
  if (row === undefined) return 'unseen';
  return row.fingerprint === fingerprint ? 'duplicate' : 'conflict';
}

/**
 * Opens the Store on Postgres, creating its schema and tables when missing.
 *
 * @example
 * await using store = await openPostgresStore({ connectionString: 'postgres://app@db/orders', schema: 'orders' });
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const names = schemaNames(options.schema);
  if ((options.pool === undefined) === (options.connectionString === undefined)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      'openPostgresStore needs exactly one of pool and connectionString',
    );
  }
  const ownsPool = options.pool === undefined;
  const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString });
  // A pooled connection that dies while idle (server restart) is replaced on next use; without a
  // listener the pool's 'error' event would end the process.
  if (ownsPool) pool.on('error', () => undefined);
  try {
    const store = new PostgresStore(pool, ownsPool, names, options);
    await createTables(pool, names);
    return store;
  } catch (error) {
    if (ownsPool) await pool.end().catch(() => undefined);
    throw isHeraldError(error) || !isPostgresError(error)
      ? error
      : toHeraldError(error, 'creating the store tables');
  }
}
