import { AsyncResource } from 'node:async_hooks';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { HeraldError, isHeraldError } from '@herald/core';
import { isBusy, toHeraldError } from './sqlite-errors.ts';

/**
 * One unit of work that must commit atomically: an append, a batch, an offset commit, a store
 * transaction. It may be async, but then every write of this process waits for it: keep I/O
 * that is not this database outside (call the payment gateway first, then record the outcome).
 */
export type WriteOperation<T> = (db: DatabaseSync) => T | Promise<T>;

interface Pending {
  readonly operation: WriteOperation<unknown>;
  readonly urgent: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Operations folded into one transaction at most; the rest go to the next one. */
const MAX_OPERATIONS_PER_TRANSACTION = 4096;
/**
 * A transaction takes no further operations once it has run this long: the event loop gets a
 * turn between transactions (HTTP requests, timers), so a deep queue of handler transactions
 * never holds a request back for more than about this long.
 */
const TRANSACTION_BUDGET_MS = 4;
/**
 * The budget of a transaction that carries an urgent operation: it commits soon after, so the
 * client waiting on it does not also wait for a full transaction's worth of queued work.
 */
const URGENT_TRANSACTION_BUDGET_MS = 1;

/** What the log does around each transaction of the queue. */
export interface CommitHooks {
  /** An operation's savepoint was released (`true`) or rolled back (`false`). */
  operationEnded(ok: boolean): void;
  /**
   * COMMIT returned. Resolves once the transaction is durable (for `synchronous = full`, after a
   * WAL sync that started now); the queue acknowledges the operations only then, but goes on
   * with the next transaction meanwhile.
   */
  committed(): Promise<void>;
  /** The transaction failed as a whole: nothing of it was stored. */
  abandoned(): void;
  /**
   * Called before each transaction: a reason to write nothing at all, or undefined. Once the WAL
   * cannot be made durable (a failed fdatasync), committing more would store writes that are
   * then refused, and a caller who retries one would store it twice.
   */
  refusal?(): Error | undefined;
  /**
   * Called synchronously before each transaction and before each operation in one: settles
   * what became durable meanwhile (a sync thread's progress), without a turn of the event loop.
   */
  poll?(): void;
}

/**
 * `operation`, to run in the async context of this call. `AsyncResource.bind` does the same but
 * costs about 20 times as much (it also defines a deprecated property on every bound function),
 * and the queue wraps every operation of the process.
 */
function inCallersContext<T>(operation: WriteOperation<T>): WriteOperation<T> {
  const resource = new AsyncResource('herald.write');
  return (db) => resource.runInAsyncScope(operation, undefined, db);
}

/** Pauses between tries for a write lock another process holds: short, so a busy file starves no one. */
const LOCK_RETRY_MS = [1, 1, 1, 1, 2, 2, 2, 4];

/**
 * Runs `begin` (a `BEGIN IMMEDIATE` on a connection whose busy wait is off) until it gets the
 * write lock. The first try is synchronous and, when the lock is free, the whole call is:
 * undefined comes back and the write path takes no extra turn. While another process holds the
 * lock, the returned promise tries again every few milliseconds from a timer. SQLite's own busy
 * wait would sleep the event loop for up to 100 ms at a time, and a process that looks that
 * rarely can be starved by a busy writer. Fails with BACKEND_UNAVAILABLE once the lock stayed
 * taken for `timeoutMs`.
 */
export function beginWhenFree(begin: () => void, timeoutMs: number): Promise<void> | undefined {
  return tryBegin(begin) ? undefined : retryBegin(begin, timeoutMs, performance.now());
}

/** One try: true with the lock, false when another connection holds it; throws otherwise. */
function tryBegin(begin: () => void): boolean {
  try {
    begin();
    return true;
  } catch (error) {
    if (isBusy(error)) return false;
    throw toHeraldError(error, 'could not start a write transaction');
  }
}

async function retryBegin(begin: () => void, timeoutMs: number, since: number): Promise<void> {
  for (let tries = 0; ; tries++) {
    if (performance.now() - since >= timeoutMs) {
      throw new HeraldError(
        'BACKEND_UNAVAILABLE',
        `another process held the log's write lock for over ${timeoutMs} ms`,
      );
    }
    const pause = LOCK_RETRY_MS[Math.min(tries, LOCK_RETRY_MS.length - 1)];
    await new Promise((resolve) => setTimeout(resolve, pause));
    if (tryBegin(begin)) return;
  }
}

const DURABLE_AT_COMMIT: CommitHooks = {
  operationEnded: () => undefined,
  committed: () => Promise.resolve(),
  abandoned: () => undefined,
};

/**
 * Group commit on the writer connection (readers use another connection, so they never see
 * uncommitted rows). Operations queued while the previous transaction ran — every append,
 * handler transaction, offset commit and heartbeat of the process — run in one
 * `BEGIN IMMEDIATE … COMMIT`. Each operation runs in its own savepoint: one that throws (a
 * fenced commit, a business rule) is rolled back and rejected alone, and the others still
 * commit. A promise resolves only once its transaction is durable (`hooks.committed`); the
 * next transaction does not wait for that, so the disk's sync and the next batch overlap. When
 * COMMIT itself or the sync fails, every operation of that transaction is rejected.
 *
 * The write lock is shared with the other processes on the file: the queue waits for it with
 * {@link beginWhenFree}, never on the event loop, and operations queued meanwhile wait for the
 * next transaction.
 */
export class WriteQueue {
  readonly #db: DatabaseSync;
  readonly #hooks: CommitHooks;
  /** Prepared once: every operation runs two of them, and parsing them each time showed in profiles. */
  readonly #sql: Record<'begin' | 'savepoint' | 'release' | 'rollbackTo' | 'commit', StatementSync>;
  #pending: Pending[] = [];
  /** Urgent operations: they lead the next transaction, in the order they came. */
  #urgent: Pending[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  /** Transactions committed but not yet durable. */
  readonly #syncing = new Set<Promise<void>>();
  #closed = false;
  #transactions = 0;
  readonly #lockTimeoutMs: number;
  #poll: (() => void) | undefined;

  /** Turns `db`'s busy wait off: the queue waits for the write lock itself. */
  constructor(db: DatabaseSync, hooks: CommitHooks = DURABLE_AT_COMMIT, lockTimeoutMs = 5000) {
    this.#db = db;
    this.#hooks = hooks;
    this.#lockTimeoutMs = lockTimeoutMs;
    db.exec('PRAGMA busy_timeout = 0');
    this.#sql = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      savepoint: db.prepare('SAVEPOINT op'),
      release: db.prepare('RELEASE op'),
      rollbackTo: db.prepare('ROLLBACK TO op'),
      commit: db.prepare('COMMIT'),
    };
  }

  /**
   * Calls `poll` synchronously before each transaction and before each operation in one. It may
   * queue urgent operations (e.g. store transactions asked for by another thread, taken with
   * `receiveMessageOnPort`): they join the transaction that is running, which then commits within
   * about 1 ms, instead of waiting for this thread's event loop to turn. `undefined` removes it.
   * It must not throw.
   */
  setPoll(poll: (() => void) | undefined): void {
    this.#poll = poll;
  }

  /** Transactions committed so far (the benchmark reports them per order). */
  get transactions(): number {
    return this.#transactions;
  }

  /**
   * Queues `operation`. It runs later, from the queue's own turn of the event loop, but in the
   * caller's async context: what the caller had active (a trace span, a request's context)
   * is active inside it too. An `urgent` operation runs ahead of the others queued, in the next
   * transaction, which then commits after about 1 ms of further work instead of 4 ms.
   */
  run<T>(operation: WriteOperation<T>, urgent = false): Promise<T> {
    if (this.#closed) return Promise.reject(new HeraldError('CLOSED', 'the log is closed'));
    return new Promise<T>((resolve, reject) => {
      (urgent ? this.#urgent : this.#pending).push({
        operation: inCallersContext(operation),
        urgent,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.#schedule();
    });
  }

  /** Runs what is queued now; later operations are refused with CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#flushing;
    while (this.#urgent.length + this.#pending.length > 0) await this.#flushOnce();
    this.#closed = true;
    await Promise.allSettled([...this.#syncing]);
  }

  /** Drops what is queued without running it (a simulated crash). */
  crash(): void {
    this.#closed = true;
    const dropped = [...this.#urgent, ...this.#pending];
    this.#urgent = [];
    this.#pending = [];
    for (const p of dropped) p.reject(new HeraldError('CLOSED', 'the log was stopped'));
  }

  #schedule(): void {
    if (this.#scheduled || this.#flushing !== undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#closed) return;
      this.#flushing = this.#flushOnce().finally(() => {
        this.#flushing = undefined;
        if (this.#urgent.length + this.#pending.length > 0) this.#schedule();
      });
    });
  }

  async #flushOnce(): Promise<void> {
    this.#hooks.poll?.();
    this.#poll?.();
    const urgent = this.#urgent.splice(0, MAX_OPERATIONS_PER_TRANSACTION);
    const batch = [...urgent, ...this.#pending.splice(0, MAX_OPERATIONS_PER_TRANSACTION - urgent.length)];
    if (batch.length === 0) return;
    const refusal = this.#hooks.refusal?.();
    if (refusal !== undefined) {
      for (const p of batch) p.reject(refusal);
      return;
    }
    const db = this.#db;
    const sql = this.#sql;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      const waiting = beginWhenFree(() => sql.begin.run(), this.#lockTimeoutMs);
      if (waiting !== undefined) await waiting;
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    const started = performance.now();
    let deadline = started + (urgent.length > 0 ? URGENT_TRANSACTION_BUDGET_MS : TRANSACTION_BUDGET_MS);
    try {
      for (let i = 0; ; i++) {
        // Urgent operations that arrived meanwhile (queued by `poll` from another thread, or by
        // this thread's microtasks) run next, in this transaction, which then commits soon.
        // Transactions that became durable meanwhile are acknowledged now.
        this.#hooks.poll?.();
        this.#poll?.();
        if (this.#urgent.length > 0 && batch.length < MAX_OPERATIONS_PER_TRANSACTION) {
          batch.splice(i, 0, ...this.#urgent.splice(0, MAX_OPERATIONS_PER_TRANSACTION - batch.length));
          deadline = Math.min(deadline, performance.now() + URGENT_TRANSACTION_BUDGET_MS);
        }
        if (i >= batch.length) break;
        if (i > 0 && performance.now() > deadline) {
          // Not started: they lead the next transaction, urgent ones first.
          const left = batch.splice(i);
          this.#urgent.unshift(...left.filter((p) => p.urgent));
          this.#pending.unshift(...left.filter((p) => !p.urgent));
          break;
        }
        const p = batch[i]!;
        sql.savepoint.run();
        try {
          const value = p.operation(db);
          outcomes.push({ ok: true, value: value instanceof Promise ? await value : value });
          sql.release.run();
          this.#hooks.operationEnded(true);
        } catch (error) {
          sql.rollbackTo.run();
          sql.release.run();
          this.#hooks.operationEnded(false);
          outcomes.push({ ok: false, value: error });
        }
      }
      sql.commit.run();
    } catch (error) {
      this.#hooks.abandoned();
      if (db.isTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // The connection already rolled back (e.g. SQLITE_FULL aborts the transaction).
        }
      }
      const failure = toHeraldError(error, 'the write transaction failed; nothing of it was stored');
      for (const p of batch) p.reject(failure);
      return;
    }
    this.#transactions++;
    const acknowledge = (): void => {
      batch.forEach((p, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) p.resolve(outcome.value);
        else
          p.reject(
            isHeraldError(outcome.value) ? outcome.value : toHeraldError(outcome.value, 'write failed'),
          );
      });
    };
    const durable = this.#hooks.committed().then(acknowledge, (error: unknown) => {
      for (const p of batch) p.reject(error);
    });
    this.#syncing.add(durable);
    void durable.finally(() => this.#syncing.delete(durable));
  }
}
