import type { CloudEvent } from '../envelope.ts';
import type { AppendOptions, AppendResult } from '../event-log.ts';
import type { ScheduleAt } from './timers.ts';

/** What recording an event in a group's inbox found. */
export type InboxOutcome =
  /** Not handled before: recorded now. */
  | 'first'
  /** Handled before with the same payload: skip it, it already had its effect. */
  | 'duplicate'
  /** Handled before with a different payload under the same id: a producer bug, flagged. */
  | 'conflict';

/** What a group's inbox holds for an event, read without recording anything. */
export type InboxStatus =
  /** Not handled by the group (or its entry was pruned). */
  | 'unseen'
  /** Handled with the same payload. */
  | 'duplicate'
  /** Handled with a different payload under the same id. */
  | 'conflict';

/** A group's inbox entry for one event, as read by {@link Store.inboxEntries}. */
export interface InboxEntry {
  /** The fingerprint of the payload it was handled with. */
  readonly fingerprint: string;
  /**
   * When it was recorded (ms since the epoch, the store's clock): the time of the handler's
   * first transaction, or of the end of a handler that used none.
   */
  readonly handledAt: number;
}

/** One event to look up in a group's inbox: its id and its payload's fingerprint. */
export interface InboxQuery {
  readonly eventId: string;
  readonly fingerprint: string;
}

/**
 * One atomic unit of a service's work: its own state, the events it emits and its inbox entry
 * commit together or not at all. This is the transactional outbox: an event emitted here is
 * published if and only if the transaction commits.
 *
 * State is kept as JSON documents by (collection, id), so the same service code runs on every
 * store (SQLite, Postgres).
 */
export interface StoreTransaction {
  /** Appends an event atomically with the transaction. Resolves with its position once known. */
  emit(topic: string, event: CloudEvent, options?: AppendOptions): Promise<AppendResult | undefined>;
  get<T = unknown>(collection: string, id: string): Promise<T | undefined>;
  put(collection: string, id: string, value: unknown): Promise<void>;
  /** Returns whether a document was deleted. */
  delete(collection: string, id: string): Promise<boolean>;
  /** Documents of a collection ordered by id, optionally those whose id starts with `prefix`. */
  list<T = unknown>(
    collection: string,
    options?: { readonly prefix?: string; readonly limit?: number },
  ): Promise<{ id: string; value: T }[]>;
  /**
   * Records that `group` handled event `eventId`, whose payload has `fingerprint`. Written in the
   * same transaction as the handler's effects, so a redelivered event finds it and has no
   * second effect.
   */
  recordHandled(group: string, eventId: string, fingerprint: string): Promise<InboxOutcome>;
  /**
   * A durable timer: `event` is emitted to `topic` at or after `at`, once, if and only if this
   * transaction commits. It is kept in the store with the transaction's state and emitted by a
   * scheduler (`startTimers`; the service kit runs one) through the store's own emit path (the
   * log on SQLite, the outbox on Postgres), in a transaction that deletes the timer: across
   * restarts, crashes and other processes it is emitted by exactly one committed transaction,
   * with the id it was scheduled with (so a relay's re-publish is a duplicate the idempotency
   * middleware skips). "At or after": never before `at` by the clock of the process that fires
   * it; after it by up to the scheduler's poll interval plus its transaction (see
   * docs/timers.md). The timer's id is the event's id; scheduling an id that is pending replaces
   * that timer. Resolves with the id.
   *
   * @example
   * await tx.schedule({ delayMs: 30_000 }, 'orders', DecisionDue.create({ orderId }, { source, key: orderId, id: `${orderId}/decision-due` }));
   */
  schedule(at: ScheduleAt, topic: string, event: CloudEvent): Promise<string>;
  /**
   * Cancels the pending timer `id` with this transaction; resolves true when one was pending,
   * false when there is none (never scheduled, cancelled, or fired already — its event is then
   * emitted or on its way, and the handler that receives it must tolerate it).
   */
  cancelSchedule(id: string): Promise<boolean>;
}

/** How a store runs one transaction. */
export interface TransactionOptions {
  /**
   * Never wait behind transactions already queued, in a store that queues them: for work a
   * client waits on, such as the transaction behind an HTTP request, so it never waits behind a
   * backlog of handler transactions. The embedded log's group commit runs it first in the next
   * transaction (order among urgent transactions kept); a Postgres store with `groupCommit`
   * runs it alone on a connection of its own, beside the running group. Stores that run each
   * transaction at once ignore it.
   */
  readonly urgent?: boolean;
}

/**
 * A service's transactional state. `transaction` runs `fn` and commits everything it did; a
 * throw rolls everything back. Keep I/O to other systems outside the function: on SQLite the
 * transaction holds the database's write lock while it runs.
 *
 * `fn` runs in the caller's async context (a store that queues it must bind it), so what the
 * caller had active, such as the span a handler runs in, is active inside it too.
 */
export interface Store extends AsyncDisposable {
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T> | T, options?: TransactionOptions): Promise<T>;
  /** Reads a document outside any transaction (committed state). */
  get<T = unknown>(collection: string, id: string): Promise<T | undefined>;
  list<T = unknown>(
    collection: string,
    options?: { readonly prefix?: string; readonly limit?: number },
  ): Promise<{ id: string; value: T }[]>;
  /** Whether `group` already handled `eventId`, without recording anything. */
  inboxStatus(group: string, eventId: string, fingerprint: string): Promise<InboxStatus>;
  /**
   * The inbox status of several events of one group in one read: element i answers
   * `entries[i]` exactly as `inboxStatus` would (the same id twice gets the same answer twice).
   * Optional; with it, the idempotency middleware checks the events a router starts together
   * in one read instead of one each. An empty `entries` resolves to `[]` without a read.
   */
  inboxStatuses?(group: string, entries: readonly InboxQuery[]): Promise<InboxStatus[]>;
  /**
   * The inbox entries of several events of one group, read without recording anything: element
   * i is the entry of `eventIds[i]`, or undefined when the group has none (never handled, or
   * pruned). Read-only and optional; the guarantee auditor (`auditGroup` in `@herald/core/ops`)
   * needs it. An empty `eventIds` resolves to `[]` without a read.
   */
  inboxEntries?(group: string, eventIds: readonly string[]): Promise<(InboxEntry | undefined)[]>;
  /**
   * Forgets up to `limit` inbox entries recorded before `handledBefore` (ms since the epoch, the
   * store's clock), oldest first; returns how many it deleted. An event forgotten here is
   * `unseen` again: prune only past the time any redelivery can come (see `startInboxRetention`).
   * Optional; the stores Herald ships offer it, and keep an index on the handling time for it.
   */
  pruneInbox?(handledBefore: number, limit: number): Promise<number>;
  /**
   * Failed attempts of one delivery, kept by the runtime (never read from event headers), so a
   * poison event reaches the dead-letter topic even if the process crashes between attempts.
   */
  recordFailure(key: DeliveryKey, error: string): Promise<FailureRecord>;
  failures(key: DeliveryKey): Promise<FailureRecord | undefined>;
  clearFailures(key: DeliveryKey): Promise<void>;
  /**
   * The highest offset of `group`'s partition with a failure record, or undefined when it has
   * none. Optional: with it, a router reads this once when it claims a partition and skips the
   * per-delivery `failures` read above it (it knows the failures it records itself).
   */
  latestFailure?(group: string, topic: string, partition: number): Promise<number | undefined>;
  /**
   * Every document and inbox entry, pages of at most `pageSize` records: documents ordered by
   * collection then id, then inbox entries ordered by group then event id. Committed state, read
   * page by page (a store written to meanwhile may show a page's neighbours before or after the
   * write). Failure records (retry counts) are not state and are not exported. Optional: what
   * `migrateState` in `@herald/core/ops` reads to move a service's state to another store.
   */
  exportState?(pageSize?: number): AsyncIterable<readonly StateRecord[]>;
  /**
   * Writes records another store exported, in one transaction: a document is put (one already
   * there with the same collection and id is replaced), an inbox entry already there is kept.
   * Running it again with the same records changes nothing, so a migration that stopped half-way
   * runs again from the start. Optional, like {@link Store.exportState}.
   */
  importState?(records: readonly StateRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Identifies one delivery of one event to one group. */
/** One unit of a store's state, as {@link Store.exportState} reads it and {@link Store.importState} writes it. */
export type StateRecord =
  | {
      readonly kind: 'document';
      readonly collection: string;
      readonly id: string;
      /** The document as JSON would carry it. */
      readonly value: unknown;
    }
  | {
      readonly kind: 'inbox';
      readonly group: string;
      readonly eventId: string;
      readonly fingerprint: string;
      /** When the group handled the event, ms since the epoch. */
      readonly handledAt: number;
    };

export interface DeliveryKey {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface FailureRecord {
  readonly attempts: number;
  readonly firstFailureAt: number;
  readonly lastFailureAt: number;
  readonly lastError: string;
}
