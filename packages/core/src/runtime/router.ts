import { setTimeout as sleep } from 'node:timers/promises';
import { runHandling, stampCausation } from '../causation.ts';
import type { EventDefinition } from '../define-event.ts';
import type { StoredEvent } from '../envelope.ts';
import { HeraldError, isHeraldError } from '../errors.ts';
import type {
  AppendResult,
  EventLog,
  PartitionOffset,
  StartPosition,
  Subscription,
  TopicPartition,
} from '../event-log.ts';
import { type Handler, type HandlerContext, type Middleware, compose } from './handler.ts';
import { BackfillBoundary } from './backfill-boundary.ts';
import { DeliveryFailures } from './delivery-failures.ts';
import { Dispatch, type EventDecoder, type RouteOptions, type TypedHandler } from './dispatch.ts';
import {
  type KeyRef,
  type ParkedKey,
  type ParkingRelease,
  forgetKey,
  parkEvent,
  parkKey,
  parkedEvents,
  parkedKeys,
  parkedKeysOfPartition,
  releaseKeyIn,
  unparkEvents,
} from './key-parking.ts';
import { KeyScheduler } from './key-scheduler.ts';
import { OffsetTracker } from './offset-tracker.ts';
import { REDRIVE_ATTRIBUTE } from './redrive.ts';
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
  /**
   * How often finished work is committed. Default: the log's `capabilities.commitIntervalMs`
   * (100 ms embedded, 1 s on Kafka and NATS).
   */
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
  /**
   * How often the router looks in the store for parked keys of its partitions released from
   * elsewhere (a dead letter discarded by an operator), to handle their events. Only partitions
   * with parked keys are read. Default 1000 ms.
   */
  readonly releaseCheckIntervalMs?: number;
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
  /**
   * The partition's parked keys, as the store has them, read when the partition was claimed
   * (before any of its events started) and kept up to date by this router since.
   */
  readonly parked: Map<string, ParkedKey>;
  /** Keys whose release is scheduled or running. */
  readonly releasing: Set<string>;
  /** The partition is leaving this member: a release stops between events (its next owner resumes it). */
  leaving: boolean;
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
 * Parking: when `deadLetter()` dead-letters an event with a key, the key is parked (unless the
 * route says `deadLetters: 'skip'`, or the router has no store): the key's later events are
 * recorded in the store as positions and committed past, not handled. When the dead letter is
 * redriven (`redrive` in `@herald/core/ops`) and the redriven event is handled, or when it is
 * discarded (`discard`), they are read from the log again and handled in their original order,
 * before any later event of the key. A member that claims a partition reads its parked keys
 * before it starts any of its events. See docs/parking.md.
 *
 * Made of: `Dispatch` (the routes), per partition a `KeyScheduler` and an `OffsetTracker`, the
 * `BackfillBoundary` (what `replaying` means), `DeliveryFailures` (attempt counts) and the parked
 * keys (`key-parking.ts`).
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
  #releaseTimer: NodeJS.Timeout | undefined;
  #checkingReleases = false;
  /** Partitions being set up (`#partition`), so that two callers get the same work. */
  readonly #claiming = new Map<string, Promise<PartitionWork | undefined>>();
  /** The composed handler of the running router. */
  #handler: Handler | undefined;
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
    this.#dispatch.add(route, handler, options.middleware, options.deadLetters);
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
    this.#handler = handle;
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
      this.#options.commitIntervalMs ?? log.capabilities.commitIntervalMs,
    );
    if (this.#options.store !== undefined) {
      this.#releaseTimer = setInterval(
        () => void this.#checkReleases(handle),
        this.#options.releaseCheckIntervalMs ?? 1000,
      );
    }
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
            let work =
              this.#work.get(`${event.topic}/${event.partition}`) ??
              (await this.#partition(event.topic, event.partition, event.offset));
            // A setup for a release that found the partition not owned just then: set it up for this event.
            if (work === undefined && !this.#stopping.signal.aborted)
              work = await this.#partition(event.topic, event.partition, event.offset);
            // Stopped while the store was away: the event was not started, and is delivered again.
            if (work === undefined) break;
            this.#start(event, work, handle);
          }
          if (this.#stopping.signal.aborted) break;
        }
      }
    } finally {
      clearInterval(this.#commitTimer);
      clearInterval(this.#releaseTimer);
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
      const key = event.partitionkey;
      const head = key === undefined ? undefined : work.parked.get(key);
      if (head !== undefined && !isRedriveOf(event, head)) {
        // Held back behind the dead letter: its position is durable before its offset may be committed.
        await this.#retrying(() => parkEvent(this.#options.store!, refOf(head), eventPosition(event)));
        finished = true;
        return;
      }
      await this.#deliver(event, work, handle);
      finished = true;
      const now = key === undefined ? undefined : work.parked.get(key);
      if (head !== undefined && now !== undefined && sameHead(now, head)) {
        // The redriven dead letter was handled (not dead-lettered again): the events parked
        // behind it follow, in order, before any later event of the key.
        await this.#release(work, head.key, handle, { by: 'redrive', at: new Date().toISOString() });
      }
    } catch (error) {
      this.#failed(error, work);
    } finally {
      if (finished) work.offsets.finished(event.offset);
      this.#inFlight--;
      const wake = this.#slotFreed;
      this.#slotFreed = undefined;
      wake?.();
    }
  }

  /** An error escaped every middleware: it stops the router, unless the partition is leaving anyway. */
  #failed(error: unknown, work: PartitionWork): void {
    // While stopping or handing the partition over, an unfinished event is simply redelivered.
    const leaving = this.#stopping.signal.aborted || work.abort.signal.aborted;
    if (!leaving && this.#failure === undefined) {
      this.#failure = error;
      this.#stopping.abort();
      void this.#subscription?.close();
    }
  }

  /** Handles one event with every middleware; throws what escapes them. */
  async #deliver(event: StoredEvent, work: PartitionWork, handle: Handler): Promise<void> {
    // Set when an attempt of this delivery recorded a failure (`context.failures` is a snapshot
    // from before it): once finished, the count is cleared, so a replay starts at attempt 1.
    const delivery = { failed: false };
    const context = await this.#context(event, work, delivery);
    await runHandling(event, () => handle(event, context));
    if (context.failures !== undefined || delivery.failed) {
      // Best effort: the event is handled whether or not its record goes. A record left behind
      // (the store unavailable just now) only makes a later replay start at a higher attempt;
      // failing here would stop the router over bookkeeping.
      await this.#failures.clear(this.#deliveryKey(event)).catch(() => undefined);
    }
  }

  /**
   * The events parked behind `key` are handled in offset order, each read from the log again
   * and forgotten once handled; then the key is. With `release`, the key is marked released
   * first (durably: a restart or the partition's next owner resumes the release). Stops between
   * events when the partition leaves, and when an event among them is dead-lettered: the key is
   * then parked behind that one, and the rest stay parked.
   */
  async #release(work: PartitionWork, key: string, handle: Handler, release?: ParkingRelease): Promise<void> {
    const store = this.#options.store;
    let head = work.parked.get(key);
    if (store === undefined || head === undefined) return;
    const ref = refOf(head);
    if (head.released === undefined) {
      if (release === undefined) return;
      const parked = head;
      const released = await this.#retrying(() =>
        store.transaction((tx) =>
          releaseKeyIn(tx, ref, release, { eventId: parked.eventId, deadLetter: parked.deadLetter }),
        ),
      );
      if (released === undefined) return;
      work.parked.set(key, (head = released));
    }
    const released = head;
    const stillReleasing = () =>
      !work.leaving &&
      !work.signal.aborted &&
      this.#failure === undefined &&
      work.parked.get(key) === released;
    while (stillReleasing()) {
      const batch = await this.#retrying(() => parkedEvents(store, ref, RELEASE_BATCH));
      if (batch.length === 0) {
        await this.#retrying(() => forgetKey(store, ref));
        work.parked.delete(key);
        return;
      }
      // Forgotten per batch, not per event: one store transaction for up to RELEASE_BATCH
      // events. A crash in between handles them again (the idempotency middleware's inbox
      // makes that one effect).
      const handled: number[] = [];
      try {
        for (const parked of batch) {
          if (!stillReleasing()) return;
          const [event] = await this.#retrying(() =>
            this.#options.log.read(work.topic, {
              partition: work.partition,
              from: { offset: parked.offset },
              limit: 1,
            }),
          );
          // An event the log no longer has (removed by retention) is lost to the group; one of
          // another key cannot be there unless the store was written by hand.
          if (event?.offset === parked.offset && event.partitionkey === key) {
            await this.#deliver(event, work, handle);
          }
          handled.push(parked.offset);
        }
      } finally {
        await this.#retrying(() => unparkEvents(store, ref, handled));
      }
    }
  }

  /** Releases `key` in its turn: behind the key's events already scheduled, ahead of later ones. */
  #scheduleRelease(work: PartitionWork, key: string, handle: Handler): void {
    if (work.releasing.has(key)) return;
    work.releasing.add(key);
    work.keys.enqueue(key, async () => {
      try {
        if (this.#failure !== undefined || work.signal.aborted) return;
        await this.#release(work, key, handle);
      } catch (error) {
        this.#failed(error, work);
      } finally {
        work.releasing.delete(key);
      }
    });
  }

  /**
   * Reads the group's parked keys (one read) and releases those the store says were released
   * (a dead letter discarded elsewhere) in the partitions this member owns, setting up a
   * partition none of whose events came yet. Never rejects; one check at a time.
   */
  async #checkReleases(handle: Handler): Promise<void> {
    const store = this.#options.store;
    const subscription = this.#subscription;
    if (store === undefined || subscription === undefined || this.#checkingReleases) return;
    this.#checkingReleases = true;
    try {
      for (const head of await parkedKeys(store, this.group)) {
        if (head.released === undefined || this.#stopping.signal.aborted) continue;
        const work = this.#work.get(`${head.topic}/${head.partition}`);
        if (work === undefined) {
          const owned = subscription
            .assignment()
            .some((p) => p.topic === head.topic && p.partition === head.partition);
          // Setting the partition up reads its parked keys and starts their releases.
          if (owned && this.#options.topics.includes(head.topic))
            await this.#partition(head.topic, head.partition, 0, { ifOwned: true });
          continue;
        }
        const mine = work.parked.get(head.key);
        if (work.leaving || mine === undefined || !sameHead(mine, head)) continue;
        if (mine.released === undefined) work.parked.set(head.key, head);
        this.#scheduleRelease(work, head.key, handle);
      }
    } catch {
      // The store is away (or the router stopping): the next check reads again.
    } finally {
      this.#checkingReleases = false;
    }
  }

  /**
   * Parks the key of `event`, just dead-lettered at `position`, by its route's policy. A key
   * parked already stays parked whatever the policy (the redriven dead letter failed again):
   * it is now parked behind the new dead letter.
   */
  async #deadLettered(event: StoredEvent, work: PartitionWork, position: AppendResult): Promise<void> {
    const store = this.#options.store;
    const key = event.partitionkey;
    if (store === undefined || key === undefined) return;
    const current = work.parked.get(key);
    if (
      this.#dispatch.deadLetterPolicy(event) === 'skip' &&
      (current === undefined || current.released !== undefined)
    ) {
      return;
    }
    const ref: KeyRef = { group: this.group, topic: work.topic, partition: work.partition, key };
    const head = await this.#retrying(() =>
      parkKey(store, ref, {
        eventId: event.id,
        offset: event.offset,
        deadLetter: { topic: position.topic, partition: position.partition, offset: position.offset },
      }),
    );
    work.parked.set(key, head);
  }

  /**
   * Runs a read or write of parking state (or a read of a parked event from the log), trying
   * again with backoff while it fails with a retryable error (the database or the broker away
   * for a while): parking waits instead of stopping the router. Throws once the router is stopping.
   */
  async #retrying<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (!isHeraldError(error) || !error.retryable || this.#stopping.signal.aborted) throw error;
        await sleep(Math.min(1000, 10 * 2 ** attempt), undefined, { signal: this.#stopping.signal }).catch(
          () => undefined,
        );
      }
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
      deadLettered: (position) => this.#deadLettered(event, work, position),
    };
  }

  #deliveryKey(event: StoredEvent): DeliveryKey {
    return { group: this.group, topic: event.topic, partition: event.partition, offset: event.offset };
  }

  /**
   * The work of a partition, set up at its first event (`first` is its offset), or when a
   * parked key of a partition this member owns was released before any of its events came
   * (`first` 0: nothing is committed until an event finishes, and a commit below the group's
   * position is ignored). Undefined when the router stopped meanwhile. One setup per partition
   * at a time: a second caller waits for the first.
   */
  #partition(
    topic: string,
    partition: number,
    first: number,
    options: { readonly ifOwned?: boolean } = {},
  ): Promise<PartitionWork | undefined> {
    const id = `${topic}/${partition}`;
    const existing = this.#work.get(id);
    if (existing !== undefined) return Promise.resolve(existing);
    let claiming = this.#claiming.get(id);
    if (claiming === undefined) {
      claiming = this.#claim(topic, partition, first, options.ifOwned === true).finally(() =>
        this.#claiming.delete(id),
      );
      this.#claiming.set(id, claiming);
    }
    return claiming;
  }

  async #claim(
    topic: string,
    partition: number,
    first: number,
    ifOwned: boolean,
  ): Promise<PartitionWork | undefined> {
    const id = `${topic}/${partition}`;
    const replayUntil = await this.#replayUntil(topic, partition);
    if (replayUntil === undefined) return undefined;
    const parked = await this.#parkedOf(topic, partition);
    if (parked === undefined) return undefined;
    // Set up for a release, not an event: the partition may have been taken away meanwhile.
    const owned = () =>
      this.#subscription?.assignment().some((p) => p.topic === topic && p.partition === partition) === true;
    if (ifOwned && !owned()) return undefined;
    const abort = new AbortController();
    const work: PartitionWork = {
      topic,
      partition,
      offsets: new OffsetTracker(first),
      keys: new KeyScheduler(),
      abort,
      signal: AbortSignal.any([this.#stopping.signal, abort.signal]),
      replayUntil,
      parked: new Map(parked.map((head) => [head.key, head])),
      releasing: new Set(),
      leaving: false,
    };
    this.#work.set(id, work);
    // A release the previous owner (or this router before a restart) did not finish goes on first.
    const handle = this.#handler;
    if (handle !== undefined) {
      for (const head of parked)
        if (head.released !== undefined) this.#scheduleRelease(work, head.key, handle);
    }
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

  /**
   * The parked keys of a partition being claimed, read before any of its events starts;
   * undefined when the router is stopped while the store is away.
   */
  async #parkedOf(topic: string, partition: number): Promise<ParkedKey[] | undefined> {
    const store = this.#options.store;
    if (store === undefined) return [];
    try {
      return await this.#retrying(() => parkedKeysOfPartition(store, this.group, topic, partition));
    } catch (error) {
      if (this.#stopping.signal.aborted) return undefined;
      throw error;
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
    for (const [, w] of selected) w.leaving = true;
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

/** Parked events read from the store, and forgotten, at once while a key is released. */
const RELEASE_BATCH = 64;

/** The parked key a head is the document of. */
function refOf(head: ParkedKey): KeyRef {
  return { group: head.group, topic: head.topic, partition: head.partition, key: head.key };
}

/** Whether two documents of a parked key name the same dead letter. */
function sameHead(a: ParkedKey, b: ParkedKey): boolean {
  return (
    a.eventId === b.eventId &&
    a.deadLetter?.topic === b.deadLetter?.topic &&
    a.deadLetter?.partition === b.deadLetter?.partition &&
    a.deadLetter?.offset === b.deadLetter?.offset
  );
}

/** Whether `event` is the redrive (`dlredrive`) of the dead letter that parks its key. */
function isRedriveOf(event: StoredEvent, head: ParkedKey): boolean {
  return event.extensions?.[REDRIVE_ATTRIBUTE] !== undefined && event.id === head.eventId;
}

function eventPosition(event: StoredEvent): { offset: number; eventId: string } {
  return { offset: event.offset, eventId: event.id };
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
