import { setTimeout as sleep } from 'node:timers/promises';
import { runHandling, stampCausation } from '../causation.ts';
import type { EventDefinition } from '../define-event.ts';
import type { StoredEvent } from '../envelope.ts';
import { HeraldError, isHeraldError } from '../errors.ts';
import type { EventLog, PartitionOffset, StartPosition, Subscription, TopicPartition } from '../event-log.ts';
import { type Handler, type HandlerContext, type Middleware, compose } from './handler.ts';
import { BackfillBoundary } from './backfill-boundary.ts';
import { DeliveryFailures } from './delivery-failures.ts';
import { Dispatch, type EventDecoder, type RouteOptions, type TypedHandler } from './dispatch.ts';
import { KeyScheduler } from './key-scheduler.ts';
import { OffsetTracker } from './offset-tracker.ts';
import type { DeliveryKey, Store, StoreTransaction } from './store.ts';

export type { EventDecoder, RouteOptions, TypedHandler } from './dispatch.ts';

export interface RouterOptions {
  readonly log: EventLog;
  /**
   * The consumer group, named `<service>.<purpose>` (e.g. `inventory.reservations`). Renaming
   * it makes a new group that starts again from `startAt`: a full replay of its topics.
   */
  readonly group: string;
  readonly topics: readonly string[];
  /** Where a new group starts. Default `earliest` (a new service backfills history). */
  readonly startAt?: StartPosition;
  /** The service's store: inbox, attempt counts, transactions. */
  readonly store?: Store;
  /** Router-level middleware, outermost first; wraps every route's own middleware. */
  readonly middleware?: readonly Middleware[];
  /**
   * Events delivered but not finished, over all keys and partitions. When reached, the router
   * stops fetching: memory follows work in flight, not lag. Default 256.
   */
  readonly maxInFlight?: number;
  readonly sessionTimeoutMs?: number;
  /** How often finished work is committed. Default 100 ms. */
  readonly commitIntervalMs?: number;
  /** An event no route handles: `skip` it (default; it is committed) or `fail` the router. */
  readonly unrouted?: 'skip' | 'fail';
  /**
   * Declared effects: `auto` (default) suppresses them for history the group reads before it
   * went live (backfill); `suppress` always (a rebuild); `perform` never suppresses.
   */
  readonly effects?: 'auto' | 'suppress' | 'perform';
  /**
   * Reads events whose type has no route of its own, and decodes data for typed routes: with a
   * decoder (e.g. `@herald/schemas`' event reader), a route for `….v2` also receives older and
   * newer versions of the same event, upcast or read as the decoder's policy says. Without one,
   * routes match event types exactly and data is decoded by the route's definition.
   */
  readonly decoder?: EventDecoder;
}

interface PartitionWork {
  readonly topic: string;
  readonly partition: number;
  readonly offsets: OffsetTracker;
  /** Events of one key one at a time, in offset order. */
  readonly keys: KeyScheduler;
  readonly abort: AbortController;
  /**
   * Aborted on shutdown or when the partition is taken away: every handler's `signal`. Combined
   * once per partition, not per event: `AbortSignal.any` with long-lived sources is costly.
   */
  readonly signal: AbortSignal;
  /** Offsets below this were written before the group went live: backfill. */
  replayUntil: number;
}

/**
 * Runs handlers for one consumer group.
 *
 * Ordering and concurrency: events of one key (`partitionkey`; events without one share a
 * per-partition key) are handled one at a time in offset order; different keys and partitions
 * run concurrently, at most `maxInFlight` events at once. A key that is retrying (see `retry`)
 * holds back only later events of the same key.
 *
 * Commits: a partition's offset is committed up to its oldest unfinished event, so a crash
 * redelivers exactly what was not finished (at-least-once; the idempotency middleware turns
 * that into one effect). An error that escapes every middleware stops the router: nothing is
 * committed past the failed event. Put `deadLetter()` outermost to keep going instead.
 *
 * Shutdown (`stop` or the AbortSignal given to `run`): stop fetching, finish work in flight,
 * commit, leave the group. The router installs no signal handlers: the program that runs it
 * decides what SIGTERM and SIGINT do, and calls `stop` (or aborts the signal).
 *
 * Made of: `Dispatch` (the routes), per partition a `KeyScheduler` and an `OffsetTracker`, the
 * `BackfillBoundary` (what `replaying` means) and `DeliveryFailures` (attempt counts).
 *
 * @example
 * process.once('SIGTERM', () => void router.stop());
 * await router.run();
 */
export class Router {
  readonly #options: RouterOptions;
  readonly #dispatch: Dispatch;
  readonly #middleware: Middleware[];
  readonly #work = new Map<string, PartitionWork>();
  readonly #stopping = new AbortController();
  readonly #backfill: BackfillBoundary;
  readonly #failures: DeliveryFailures;
  #subscription: Subscription | undefined;
  #inFlight = 0;
  #slotFreed: (() => void) | undefined;
  #failure: unknown;
  #commitTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: RouterOptions) {
    if (options.topics.length === 0)
      throw new HeraldError('INVALID_ARGUMENT', 'a router needs at least one topic');
    const maxInFlight = options.maxInFlight ?? 256;
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
      throw new HeraldError('INVALID_ARGUMENT', 'maxInFlight must be a positive integer');
    }
    this.#options = options;
    this.#backfill = new BackfillBoundary(options);
    this.#dispatch = new Dispatch(options);
    this.#failures = new DeliveryFailures(options.store);
    this.#middleware = [...(options.middleware ?? [])];
  }

  get group(): string {
    return this.#options.group;
  }

  /** Adds router-level middleware (inside what was given at construction). */
  use(...middleware: Middleware[]): this {
    this.#middleware.push(...middleware);
    return this;
  }

  /**
   * Routes events of a type. With a definition, data is decoded and validated first; an event
   * that does not decode or validate is poison (`DECODE_FAILED` / `VALIDATION_FAILED`), which
   * `retry` never retries and `deadLetter` parks.
   */
  on<Data>(definition: EventDefinition<Data>, handler: TypedHandler<Data>, options?: RouteOptions): this;
  on(type: string, handler: Handler, options?: RouteOptions): this;
  on<Data>(
    route: EventDefinition<Data> | string,
    handler: TypedHandler<Data> | Handler,
    options: RouteOptions = {},
  ): this {
    this.#dispatch.add(route, handler, options.middleware);
    return this;
  }

  /**
   * Handles one event with the router's middleware and route and the given context, outside the
   * group: nothing is fetched, tracked or committed, and what the handler does goes where
   * `context` sends it. Shadow runs (`shadowRun` in `@herald/core/ops`) run a new version of a
   * group's handlers over history this way, with a context that applies nothing.
   */
  handleDetached(event: StoredEvent, context: HandlerContext): Promise<void> {
    return runHandling(event, () => compose(this.#middleware, this.#dispatch.handle)(event, context));
  }

  /**
   * Joins the group and handles events until stopped. Resolves after a graceful shutdown;
   * rejects with the error that stopped it otherwise.
   */
  run(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#running !== undefined)
      throw new HeraldError('INVALID_ARGUMENT', 'the router is running already');
    const onAbort = () => void this.stop();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.#running = this.#run().finally(() => options.signal?.removeEventListener('abort', onAbort));
    return this.#running;
  }

  /** Stops fetching, finishes work in flight, commits and leaves the group. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#subscription?.close();
    await this.#running?.catch(() => undefined);
  }

  async #run(): Promise<void> {
    const { log, group, topics } = this.#options;
    const handle = compose(this.#middleware, this.#dispatch.handle);
    // Taken before joining: events appended from now on are live for this router.
    await this.#backfill.markHistoryEnd(topics);
    const subscription = await log.subscribe({
      group,
      topics,
      ...(this.#options.startAt === undefined ? {} : { startAt: this.#options.startAt }),
      ...(this.#options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeoutMs: this.#options.sessionTimeoutMs }),
      maxBufferedEvents: Math.min(this.#options.maxInFlight ?? 256, 500),
      onRevoked: (partitions) => this.#drain(partitions),
    });
    this.#subscription = subscription;
    // A periodic commit that fails (the log unreachable for a while: a broker restarting) is not
    // an unhandled rejection that ends the process: the watermark stays where it was committed,
    // and the next tick commits it again.
    this.#commitTimer = setInterval(
      () => void this.#commit().catch(() => undefined),
      this.#options.commitIntervalMs ?? 100,
    );
    try {
      // Stopped while joining (a SIGTERM as the process starts): leave at once, in `finally`. The
      // loop must not start: a subscription closed by `stop` may refuse iteration (CLOSED).
      // Otherwise it starts in this same turn, before `stop` can close the subscription.
      if (!this.#stopping.signal.aborted) {
        for await (const batch of subscription.batches()) {
          for (const event of batch) {
            if (this.#stopping.signal.aborted) break;
            while (this.#inFlight >= (this.#options.maxInFlight ?? 256)) {
              await new Promise<void>((resolve) => (this.#slotFreed = resolve));
            }
            const work =
              this.#work.get(`${event.topic}/${event.partition}`) ?? (await this.#partition(event));
            // Stopped while the store was away: the event was not started, and is delivered again.
            if (work === undefined) break;
            this.#start(event, work, handle);
          }
          if (this.#stopping.signal.aborted) break;
        }
      }
    } finally {
      clearInterval(this.#commitTimer);
      // Leaving the group runs onRevoked, which drains and commits every partition.
      await subscription.close();
      await this.#drain(null);
    }
    const failure = this.#failure;
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
  }

  #start(event: StoredEvent, work: PartitionWork, handle: Handler): void {
    work.offsets.delivered(event.offset);
    this.#inFlight++;
    // #handle settles every outcome itself: it never rejects.
    work.keys.enqueue(event.partitionkey ?? '', () => this.#handle(event, work, handle));
  }

  async #handle(event: StoredEvent, work: PartitionWork, handle: Handler): Promise<void> {
    let finished = false;
    try {
      // Stopping: events still queued behind their key are not started (they stay uncommitted
      // and are redelivered); only handlers already running are finished.
      if (this.#failure !== undefined || work.abort.signal.aborted || this.#stopping.signal.aborted) return;
      // Set when an attempt of this delivery recorded a failure (`context.failures` is a snapshot
      // from before it): once finished, the count is cleared, so a replay starts at attempt 1.
      const delivery = { failed: false };
      const context = await this.#context(event, work, delivery);
      await runHandling(event, () => handle(event, context));
      finished = true;
      if (context.failures !== undefined || delivery.failed) {
        // Best effort: the event is handled whether or not its record goes. A record left behind
        // (the store unavailable just now) only makes a later replay start at a higher attempt;
        // failing here would stop the router over bookkeeping.
        await this.#failures.clear(this.#deliveryKey(event)).catch(() => undefined);
      }
    } catch (error) {
      // While stopping or handing the partition over, an unfinished event is simply redelivered.
      const leaving = this.#stopping.signal.aborted || work.abort.signal.aborted;
      if (!leaving && this.#failure === undefined) {
        this.#failure = error;
        this.#stopping.abort();
        void this.#subscription?.close();
      }
    } finally {
      if (finished) work.offsets.finished(event.offset);
      this.#inFlight--;
      const wake = this.#slotFreed;
      this.#slotFreed = undefined;
      wake?.();
    }
  }

  async #context(
    event: StoredEvent,
    work: PartitionWork,
    delivery: { failed: boolean },
  ): Promise<HandlerContext> {
    const { store, log, group } = this.#options;
    const key = this.#deliveryKey(event);
    const failures = await this.#failures.of(key);
    const effects = this.#options.effects ?? 'auto';
    const replaying = effects === 'suppress' || (effects === 'auto' && event.offset < work.replayUntil);
    return {
      group,
      attempt: (failures?.attempts ?? 0) + 1,
      signal: work.signal,
      replaying,
      log,
      failures,
      transaction: (fn) => {
        if (store === undefined) {
          return Promise.reject(new HeraldError('UNSUPPORTED', `the router of group ${group} has no store`));
        }
        return store.transaction((tx) => fn(causedBy(tx, event)));
      },
      effect: async (name, fn) => {
        if (replaying) return undefined;
        return fn(`${group}/${event.id}/${name}`);
      },
      recordFailure: async (error) => {
        delivery.failed = true;
        return this.#failures.record(key, error);
      },
    };
  }

  #deliveryKey(event: StoredEvent): DeliveryKey {
    return { group: this.group, topic: event.topic, partition: event.partition, offset: event.offset };
  }

  /** The work of the event's partition, set up at its first event; undefined when the router stopped meanwhile. */
  async #partition(event: StoredEvent): Promise<PartitionWork | undefined> {
    const id = `${event.topic}/${event.partition}`;
    const existing = this.#work.get(id);
    if (existing !== undefined) return existing;
    const replayUntil = await this.#replayUntil(event.topic, event.partition);
    if (replayUntil === undefined) return undefined;
    const abort = new AbortController();
    const work: PartitionWork = {
      topic: event.topic,
      partition: event.partition,
      offsets: new OffsetTracker(event.offset),
      keys: new KeyScheduler(),
      abort,
      signal: AbortSignal.any([this.#stopping.signal, abort.signal]),
      replayUntil,
    };
    this.#work.set(id, work);
    return work;
  }

  /**
   * The partition's backfill boundary. Deciding it may write to the store; while the store
   * fails with a retryable error (another process holds the embedded log's write lock, the
   * database is away), it is tried again with backoff, and the router waits instead of stopping.
   * Undefined when the router is stopped meanwhile.
   */
  async #replayUntil(topic: string, partition: number): Promise<number | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#backfill.replayUntil(topic, partition);
      } catch (error) {
        if (!isHeraldError(error) || !error.retryable) throw error;
        if (this.#stopping.signal.aborted) return undefined;
        await sleep(Math.min(1000, 10 * 2 ** attempt), undefined, { signal: this.#stopping.signal }).catch(
          () => undefined,
        );
      }
    }
  }

  /** Commits every partition up to its oldest unfinished event. */
  async #commit(only?: readonly TopicPartition[] | null): Promise<void> {
    const subscription = this.#subscription;
    if (subscription === undefined) return;
    const positions: PartitionOffset[] = [];
    for (const work of this.#work.values()) {
      if (only != null && !only.some((p) => p.topic === work.topic && p.partition === work.partition))
        continue;
      const offset = work.offsets.toCommit();
      if (offset !== undefined) positions.push({ topic: work.topic, partition: work.partition, offset });
    }
    if (positions.length === 0) return;
    try {
      await subscription.commit(positions);
      for (const p of positions) {
        const work = this.#work.get(`${p.topic}/${p.partition}`);
        work?.offsets.committed(p.offset);
      }
    } catch (error) {
      // FENCED: the partitions moved on; the new owner redoes what we did not commit.
      if (!isHeraldError(error, 'FENCED') && !isHeraldError(error, 'CLOSED')) throw error;
    }
  }

  /**
   * Before partitions leave this member (rebalance or shutdown): wait for their work in flight,
   * commit it, forget them. `null` means every partition.
   */
  async #drain(partitions: readonly TopicPartition[] | null): Promise<void> {
    const selected = [...this.#work.entries()].filter(
      ([, w]) =>
        partitions === null || partitions.some((p) => p.topic === w.topic && p.partition === w.partition),
    );
    if (this.#failure !== undefined) for (const [, w] of selected) w.abort.abort();
    await Promise.all(selected.map(([, w]) => w.keys.idle()));
    await this.#commit(selected.map(([, w]) => ({ topic: w.topic, partition: w.partition }))).catch(
      () => undefined,
    );
    for (const [id, w] of selected) {
      this.#work.delete(id);
      this.#failures.released(w.topic, w.partition);
    }
  }
}

/** @example const router = createRouter({ log, group: 'inventory.reservations', topics: ['orders'] }); */
export function createRouter(options: RouterOptions): Router {
  return new Router(options);
}

/** `tx` whose emitted and scheduled events are stamped as caused by `cause`; every other method is `tx`'s own. */
function causedBy(tx: StoreTransaction, cause: StoredEvent): StoreTransaction {
  return {
    emit: (topic, event, options) => tx.emit(topic, stampCausation(event, cause), options),
    get: (collection, id) => tx.get(collection, id),
    put: (collection, id, value) => tx.put(collection, id, value),
    delete: (collection, id) => tx.delete(collection, id),
    list: (collection, options) => tx.list(collection, options),
    recordHandled: (group, eventId, fingerprint) => tx.recordHandled(group, eventId, fingerprint),
    // A timer's event is caused by the event whose handler scheduled it.
    schedule: (at, topic, event) => tx.schedule(at, topic, stampCausation(event, cause)),
    cancelSchedule: (id) => tx.cancelSchedule(id),
  };
}
