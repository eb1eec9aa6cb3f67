// Durable timers: an event scheduled for a time, kept in the store atomically with the state of
// the transaction that scheduled it, and emitted through the store's own emit path (the log on
// SQLite, the outbox on Postgres) by `startTimers`, at or after its time, once.
//
// Written once over the Store contract: a timer is two documents in reserved collections, so
// every store (SQLite, Postgres, a test store) has timers without code of its own, and what
// makes a timer fire once is what makes any transaction atomic. Firing deletes the timer and
// emits its event in ONE transaction, and emits only when that delete removed the timer: two
// schedulers that race for the same timer (two processes on one store) cannot both emit it —
// the second finds it gone (SQLite and test stores run one transaction at a time; Postgres
// fails the second with a serialization failure and runs it again, or under read committed its
// delete waits for the first's commit and removes nothing).
import { assertTopicName } from '../backend/validation.ts';
import { type CloudEvent, assertValidEnvelope, attributesOf, eventFromAttributes } from '../envelope.ts';
import { HeraldError, isHeraldError } from '../errors.ts';
import type { Store, StoreTransaction } from './store.ts';

/**
 * When a scheduled event is due: an instant (ms since the epoch, or a Date), or a delay from
 * now (the scheduling process's clock).
 */
export type ScheduleAt = number | Date | { readonly delayMs: number };

/**
 * Reserved collections. `herald.timers` holds pending timers by due key (their due time, zero
 * padded, then their id), so listing it in id order lists timers in due order from the store's
 * primary key; `herald.timer-ids` maps a timer's id to its due key, for cancelling; timers whose
 * event could never be emitted (a topic that does not exist) are moved to `herald.timers-failed`.
 */
export const TIMER_COLLECTIONS = {
  pending: 'herald.timers',
  ids: 'herald.timer-ids',
  failed: 'herald.timers-failed',
} as const;

/** A pending timer, as the store keeps it. */
export interface TimerRecord {
  /** The timer's id: the scheduled event's id. */
  readonly id: string;
  readonly topic: string;
  /** When it is due, ms since the epoch. */
  readonly dueAt: number;
  /** When it was scheduled, ms since the epoch (the scheduling process's clock). */
  readonly scheduledAt: number;
  readonly attributes: Readonly<Record<string, string>>;
  /** The event's data, base64; null when it has none. */
  readonly data: string | null;
}

/** A timer moved aside because its event could not be emitted. */
export interface FailedTimerRecord extends TimerRecord {
  readonly failedAt: number;
  readonly error: string;
}

const DUE_DIGITS = 15;
/** Ids up to this many characters: the due key stays within every store's document id. */
const MAX_TIMER_ID_LENGTH = 200;

function dueKeyOf(dueAt: number, id: string): string {
  return `${String(dueAt).padStart(DUE_DIGITS, '0')}|${id}`;
}

/** The due time of `at`, in whole ms since the epoch, rounded up (never earlier than asked). */
export function dueTimeOf(at: ScheduleAt, now: number = Date.now()): number {
  const ms = typeof at === 'number' ? at : at instanceof Date ? at.getTime() : now + at.delayMs;
  if (!Number.isFinite(ms) || ms < 0 || ms >= 10 ** DUE_DIGITS) {
    throw new HeraldError('INVALID_ARGUMENT', `a timer's due time must be a time from 1970 on, got ${ms}`);
  }
  return Math.ceil(ms);
}

type TimerlessTransaction = Omit<StoreTransaction, 'schedule' | 'cancelSchedule'>;

/**
 * Schedules `event` on `tx` (see `StoreTransaction.schedule`). Written once for every store: a
 * store's transaction gets `schedule` and `cancelSchedule` from {@link withTimers}.
 */
export async function scheduleIn(
  tx: TimerlessTransaction,
  at: ScheduleAt,
  topic: string,
  event: CloudEvent,
): Promise<string> {
  assertTopicName(topic);
  assertValidEnvelope(event);
  if (event.id.length > MAX_TIMER_ID_LENGTH) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `a scheduled event's id is its timer's id, at most ${MAX_TIMER_ID_LENGTH} characters; got ${event.id.length}`,
    );
  }
  const now = Date.now();
  const dueAt = dueTimeOf(at, now);
  // Scheduling an id that is pending moves it: the earlier timer is replaced.
  await cancelIn(tx, event.id);
  const record: TimerRecord = {
    id: event.id,
    topic,
    dueAt,
    scheduledAt: now,
    attributes: attributesOf(event),
    data: event.data === undefined ? null : Buffer.from(event.data).toString('base64'),
  };
  const key = dueKeyOf(dueAt, event.id);
  await tx.put(TIMER_COLLECTIONS.pending, key, record);
  await tx.put(TIMER_COLLECTIONS.ids, event.id, { key });
  scheduledInProcess(dueAt);
  return event.id;
}

/** Cancels a pending timer on `tx`; true when one was pending (see `StoreTransaction.cancelSchedule`). */
export async function cancelIn(tx: TimerlessTransaction, id: string): Promise<boolean> {
  const entry = await tx.get<{ key: string }>(TIMER_COLLECTIONS.ids, id);
  if (entry === undefined) return false;
  await tx.delete(TIMER_COLLECTIONS.ids, id);
  return tx.delete(TIMER_COLLECTIONS.pending, entry.key);
}

/**
 * `tx` with `schedule` and `cancelSchedule`, kept in `tx`'s own documents: how a store's
 * transaction gets timers. For store implementations (`@herald/core/backend` re-exports it).
 */
export function withTimers(tx: TimerlessTransaction): StoreTransaction {
  const full = tx as StoreTransaction;
  full.schedule = (at, topic, event) => scheduleIn(tx, at, topic, event);
  full.cancelSchedule = (id) => cancelIn(tx, id);
  return full;
}

/** The event a timer emits: the one scheduled, id included. */
export function eventOfTimer(record: TimerRecord): CloudEvent {
  return eventFromAttributes(
    record.attributes,
    record.data === null ? undefined : new Uint8Array(Buffer.from(record.data, 'base64')),
  );
}

/** Pending timers of `store` in due order, at most `limit` (committed state). */
export async function pendingTimers(store: Store, limit?: number): Promise<TimerRecord[]> {
  const rows = await store.list<TimerRecord>(TIMER_COLLECTIONS.pending, limit === undefined ? {} : { limit });
  return rows.map((row) => row.value);
}

/** What one round of {@link fireDueTimers} did. */
export interface FiredTimers {
  /** Timers whose events this round emitted. */
  readonly fired: number;
  /** Timers moved to `herald.timers-failed`: their event could never be emitted. */
  readonly failed: number;
  /** When the earliest timer still pending is due, if one is among those read. */
  readonly nextDueAt: number | undefined;
  /** How late the earliest due timer of this round was (ms), or 0. */
  readonly lateByMs: number;
  /** Every timer read was due: more may be waiting. */
  readonly more: boolean;
}

/**
 * Emits the events of `store`'s timers due at `now`, up to `limit` of them, in one transaction
 * that deletes each timer it emits; a timer already gone (fired by another scheduler, cancelled)
 * is skipped. When that transaction fails with an error that is not retryable, the timers are
 * fired one per transaction, and one that still fails that way is moved to
 * `herald.timers-failed` with the error, so it never blocks the others.
 */
export async function fireDueTimers(
  store: Store,
  options: { readonly now?: number; readonly limit?: number } = {},
): Promise<FiredTimers> {
  const now = options.now ?? Date.now();
  const limit = options.limit ?? 100;
  const rows = await store.list<TimerRecord>(TIMER_COLLECTIONS.pending, { limit });
  const due = rows.filter((row) => row.value.dueAt <= now);
  const nextDueAt = rows.find((row) => row.value.dueAt > now)?.value.dueAt;
  const lateByMs = due.length === 0 ? 0 : now - due[0]!.value.dueAt;
  const more = rows.length === limit && due.length === rows.length;
  if (due.length === 0) return { fired: 0, failed: 0, nextDueAt, lateByMs, more };
  try {
    const fired = await store.transaction((tx) => fireIn(tx, due));
    return { fired, failed: 0, nextDueAt, lateByMs, more };
  } catch (error) {
    if (!permanent(error)) throw error;
  }
  let fired = 0;
  let failed = 0;
  for (const row of due) {
    try {
      fired += await store.transaction((tx) => fireIn(tx, [row]));
    } catch (error) {
      if (!permanent(error)) throw error;
      failed += await store.transaction(async (tx) => {
        if (!(await tx.delete(TIMER_COLLECTIONS.pending, row.id))) return 0;
        await forgetId(tx, row.value.id, row.id);
        const record: FailedTimerRecord = {
          ...row.value,
          failedAt: Date.now(),
          error: error instanceof Error ? error.message.slice(0, 2000) : String(error),
        };
        await tx.put(TIMER_COLLECTIONS.failed, row.value.id, record);
        return 1;
      });
    }
  }
  return { fired, failed, nextDueAt, lateByMs, more };
}

function permanent(error: unknown): boolean {
  return isHeraldError(error) && !error.retryable;
}

async function fireIn(
  tx: StoreTransaction,
  due: readonly { readonly id: string; readonly value: TimerRecord }[],
): Promise<number> {
  let fired = 0;
  for (const { id: key, value } of due) {
    // Emitted only by the transaction that removed the timer: never twice.
    if (!(await tx.delete(TIMER_COLLECTIONS.pending, key))) continue;
    await forgetId(tx, value.id, key);
    await tx.emit(value.topic, eventOfTimer(value));
    fired++;
  }
  return fired;
}

/** Deletes the id's entry if it still points at `key` (it was not rescheduled meanwhile). */
async function forgetId(tx: StoreTransaction, id: string, key: string): Promise<void> {
  const entry = await tx.get<{ key: string }>(TIMER_COLLECTIONS.ids, id);
  if (entry?.key === key) await tx.delete(TIMER_COLLECTIONS.ids, id);
}

/** Running schedulers of this process, woken when a transaction of this process schedules a timer. */
const wakers = new Set<(dueAt: number) => void>();

function scheduledInProcess(dueAt: number): void {
  for (const wake of wakers) wake(dueAt);
}

export interface TimersOptions {
  /**
   * The longest a scheduler sleeps when it knows of no earlier timer: how late a timer
   * scheduled by another process (which cannot wake this one) may fire, and the cost of an idle
   * scheduler (one read of the earliest `batchSize` timers per interval). Default 1 000 ms.
   */
  readonly pollIntervalMs?: number;
  /** Timers fired per transaction. Default 100. */
  readonly batchSize?: number;
  /** A failed round; the scheduler tries again after a backoff. Default: ignored. */
  readonly onError?: (error: unknown) => void;
  /** After each round that fired or failed timers: for metrics and logs. */
  readonly onFired?: (round: FiredTimers, store: Store) => void;
  /** The clock due times are compared with (ms since the epoch). Default `Date.now`. */
  readonly now?: () => number;
}

/** The schedulers started by {@link startTimers}. */
export interface Timers {
  /** Fires what is due now in every store, at once; resolves with the number fired. */
  fire(): Promise<number>;
  /** Stops the schedulers and waits for rounds in progress. */
  stop(): Promise<void>;
}

/** Gap between a schedule made in this process and the read that looks for it: its commit. */
const COMMIT_GRACE_MS = 5;

/**
 * Fires the timers of `stores` (see `StoreTransaction.schedule`): per store, a loop that emits
 * what is due, then sleeps until the earliest pending timer is due, at most `pollIntervalMs`;
 * a schedule made by a transaction of this process wakes it sooner when it is due sooner. The
 * timers do not keep the process alive.
 *
 * Run it in every process that runs routers on a store (the service kit does): several
 * schedulers on one store are safe — each timer is emitted once, by the transaction that
 * deletes it — and each reads the store once per `pollIntervalMs` when idle.
 *
 * @example
 * const timers = startTimers([store], { onError: (e) => logger.error('timers', e) });
 * // … at shutdown, before the store closes:
 * await timers.stop();
 */
export function startTimers(stores: readonly Store[], options: TimersOptions = {}): Timers {
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const batchSize = options.batchSize ?? 100;
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs <= 0) {
    throw new HeraldError('INVALID_ARGUMENT', `pollIntervalMs must be positive, got ${pollIntervalMs}`);
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new HeraldError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`);
  }
  const now = options.now ?? Date.now;
  const stopping = new AbortController();
  const loops = [...new Set(stores)].map(
    (store) => new TimerLoop(store, { ...options, pollIntervalMs, batchSize, now }),
  );
  const running = loops.map((loop) => loop.run(stopping.signal));
  return {
    async fire() {
      let fired = 0;
      for (const loop of loops) fired += await loop.round();
      return fired;
    },
    async stop() {
      stopping.abort();
      for (const loop of loops) loop.wake(0);
      await Promise.all(running);
    },
  };
}

type LoopOptions = TimersOptions & {
  readonly pollIntervalMs: number;
  readonly batchSize: number;
  readonly now: () => number;
};

/** One store's scheduler: a round, then a sleep until the next due time. */
class TimerLoop {
  readonly #store: Store;
  readonly #options: LoopOptions;
  /** When the planned sleep ends; Infinity while not sleeping. */
  #wakeAt = Infinity;
  /** The earliest due time announced since the current round read the store. */
  #announced = Infinity;
  #alarm: NodeJS.Timeout | undefined;
  #woken: (() => void) | undefined;
  #round: Promise<FiredTimers> | undefined;

  constructor(store: Store, options: LoopOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Makes the loop look at the store at `dueAt`, if that is sooner than it planned. */
  wake(dueAt: number): void {
    this.#announced = Math.min(this.#announced, dueAt);
    if (this.#woken !== undefined && dueAt < this.#wakeAt) this.#sleepUntil(dueAt);
  }

  async round(): Promise<number> {
    return (await this.#fire()).fired;
  }

  #fire(): Promise<FiredTimers> {
    if (this.#round === undefined) {
      this.#announced = Infinity;
      this.#round = fireDueTimers(this.#store, {
        now: this.#options.now(),
        limit: this.#options.batchSize,
      }).finally(() => (this.#round = undefined));
    }
    return this.#round;
  }

  async run(signal: AbortSignal): Promise<void> {
    const waker = (dueAt: number) => this.wake(Math.max(dueAt, this.#options.now() + COMMIT_GRACE_MS));
    wakers.add(waker);
    const onAbort = () => this.wake(-Infinity);
    signal.addEventListener('abort', onAbort, { once: true });
    let failures = 0;
    try {
      while (!signal.aborted) {
        let next: number;
        try {
          const round = await this.#fire();
          failures = 0;
          if (round.fired > 0 || round.failed > 0) this.#options.onFired?.(round, this.#store);
          if (round.more) continue;
          next = Math.min(round.nextDueAt ?? Infinity, this.#options.now() + this.#options.pollIntervalMs);
        } catch (error) {
          if (signal.aborted) break;
          this.#options.onError?.(error);
          failures++;
          next = this.#options.now() + Math.min(this.#options.pollIntervalMs * 10, 50 * 2 ** failures);
        }
        if (signal.aborted) break;
        await new Promise<void>((resolve) => {
          this.#woken = resolve;
          this.#sleepUntil(Math.min(next, this.#announced));
        });
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      wakers.delete(waker);
      clearTimeout(this.#alarm);
      await this.#round?.catch(() => undefined);
    }
  }

  #sleepUntil(at: number): void {
    clearTimeout(this.#alarm);
    this.#wakeAt = at;
    const delay = Math.max(0, Math.min(at - this.#options.now(), 2 ** 31 - 1));
    this.#alarm = setTimeout(() => {
      this.#wakeAt = Infinity;
      const woken = this.#woken;
      this.#woken = undefined;
      woken?.();
    }, delay);
    this.#alarm.unref();
  }
}
