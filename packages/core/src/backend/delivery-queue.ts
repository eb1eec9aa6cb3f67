import type { StoredEvent } from '../envelope.ts';
import type { TopicPartition } from '../event-log.ts';
import { topicPartitionKey } from './topic-partition-key.ts';

/**
 * What a {@link DeliveryQueue} asks of the subscription it delivers for. Only `deliverable` is
 * required; the other hooks serve backends that read on demand (`fill`, `waiting`) or that push
 * into a bounded buffer and must hear when room frees up (`taken`).
 */
export interface DeliverySource {
  /**
   * Whether the consumer may take anything now. False while the member must not deliver
   * (frozen, crashed, joining, not yet sure it is still a member): the consumer waits until
   * the subscription calls `wake()` and this turns true. Asked on every take, so keep it cheap.
   */
  deliverable(): boolean;
  /** Runs at the first `next()` of each iterator; throws to refuse iteration (e.g. `CLOSED`). */
  assertUsable?(): void;
  /**
   * The consumer asks and nothing is buffered: push what can be read now, up to `room`,
   * synchronously. Backends that read on demand (memory, SQLite) fetch here.
   */
  fill?(): void;
  /** The consumer is about to wait: arm whatever will call `wake()` (e.g. a change notifier). */
  waiting?(): void;
  /** The consumer took `count` events (0: it took a failure), so the buffer has room again. */
  taken?(count: number): void;
}

interface Failure {
  readonly error: unknown;
  /** Index in the buffer array it is thrown at: after the events pushed before it. */
  at: number;
  /** The partition it belongs to (dropped with the partition's events), if any. */
  readonly partition: string | undefined;
  /** Resolves `fail()`'s promise: thrown to the consumer, dropped, or the queue closed. */
  readonly settle: () => void;
}

/** `#poll` outcomes besides a positive number of events ready. */
const WAIT = 0;
const ENDED = -1;
const FAILED = -2;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The delivery side of a subscription, written once for every backend: a bounded buffer of
 * events fetched ahead of the consumer, the consumer's iterators (`events()` one at a time,
 * `batches()` as many as are ready, at most `capacity`), failures thrown to the consumer in
 * their place, and the end of iteration on close. Group coordination stays with the backend,
 * which pushes events (or supplies them from `fill`), drops those of partitions it gives up,
 * and calls `wake()` when something the consumer waits for may have changed.
 *
 * Ordering: events come out in the order they were pushed. A failure is thrown once, after
 * the events pushed before it and before those pushed after it. Close ends every iteration at
 * once (a waiting consumer sees `done`); what is buffered and any failure not yet thrown are
 * discarded, as they are when their partition is dropped.
 *
 * The delivery path allocates nothing per event beyond the iterator result: events are handed
 * out by index, and a batch that takes the whole buffer is the buffer array itself.
 *
 * @example
 * const queue = new DeliveryQueue({ deliverable: () => state === 'active' }, maxBufferedEvents);
 * queue.push(event); queue.wake();        // the transport delivered
 * queue.dropPartitions(revoked);          // before awaiting onRevoked
 * for await (const batch of queue.batches()) …
 */
export class DeliveryQueue {
  /** Most events buffered at once, and largest batch (`maxBufferedEvents`). */
  readonly capacity: number;
  readonly #source: DeliverySource;
  /** Events from `#head` on are waiting; those before it were taken. */
  #events: StoredEvent[] = [];
  #head = 0;
  /** In the order they are thrown (ascending `at`). */
  #failures: Failure[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor(source: DeliverySource, capacity: number) {
    this.#source = source;
    this.capacity = Math.max(1, capacity);
  }

  /** Events buffered and not yet taken. */
  get size(): number {
    return this.#events.length - this.#head;
  }

  /** How many more events may be pushed before the buffer holds `capacity`. */
  get room(): number {
    return Math.max(0, this.capacity - this.size);
  }

  /** A failure waits to be thrown to the consumer; backends pause decoding behind it. */
  get failing(): boolean {
    return this.#failures.length > 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Appends an event for the consumer; ignored once closed. Does not wake: call `wake()`. */
  push(event: StoredEvent): void {
    if (!this.#closed) this.#events.push(event);
  }

  /** Makes a waiting consumer look again (events arrived, delivery resumed, partitions assigned). */
  wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Throws `error` to the iterating consumer once, after the events pushed so far. With
   * `from`, the failure belongs to that partition and is dropped with it. Resolves once it was
   * thrown or discarded, so a transport can hold its partition back until then.
   */
  fail(error: unknown, from?: TopicPartition): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    if (this.#closed) {
      resolve();
      return promise;
    }
    this.#failures.push({
      error,
      at: this.#events.length,
      partition: from === undefined ? undefined : topicPartitionKey(from.topic, from.partition),
      settle: resolve,
    });
    this.wake();
    return promise;
  }

  /**
   * Runs a group callback (`onRevoked`, `onAssigned`) and resolves once it has settled. When it
   * throws or rejects, its error is thrown to the iterating consumer (as by {@link fail}, of no
   * partition) and the caller goes on: a handover still releases the partitions, whose
   * uncommitted work is redelivered to the next owner. Once the queue is closed a failure is
   * dropped (nobody iterates any more).
   */
  async runCallback(callback: () => void | Promise<void>): Promise<void> {
    try {
      await callback();
    } catch (error) {
      void this.fail(error);
    }
  }

  /** Forgets buffered events and failures of these partitions (revoked or lost). */
  dropPartitions(partitions: Iterable<TopicPartition>): void {
    const keys = new Set<string>();
    for (const { topic, partition } of partitions) keys.add(topicPartitionKey(topic, partition));
    if (keys.size === 0) return;
    this.#remove(
      (event) => keys.has(topicPartitionKey(event.topic, event.partition)),
      (failure) => failure.partition !== undefined && keys.has(failure.partition),
    );
  }

  /**
   * Forgets every buffered event and every partition's failure (all partitions were given up);
   * a failure of no partition (a callback's) is still thrown.
   */
  clear(): void {
    this.#remove(
      () => true,
      (failure) => failure.partition !== undefined,
    );
  }

  /** Ends every iteration: a waiting consumer sees `done`, and so does every later `next()`. */
  close(): void {
    this.#closed = true;
    this.#events = [];
    this.#head = 0;
    const failures = this.#failures;
    this.#failures = [];
    for (const failure of failures) failure.settle();
    this.wake();
  }

  /** The events one at a time; the consumer's `for await (const event of subscription)`. */
  events(): AsyncIterableIterator<StoredEvent> {
    let started = false;
    let finished = false;
    const iterator: AsyncIterableIterator<StoredEvent> = {
      // The hot path of per-event consumption: an event already buffered is handed out as a
      // settled promise, without an async function per event.
      next: () => {
        if (!started) {
          started = true;
          return this.#start().then(() => iterator.next());
        }
        if (finished) return Promise.resolve(DONE);
        const ready = this.#poll();
        if (ready > 0) return Promise.resolve({ done: false, value: this.#takeOne() });
        return this.#nextEvent(ready);
      },
      return: () => {
        finished = true;
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** The events as many as are ready at once: at least one, at most `capacity` per batch. */
  batches(): AsyncIterableIterator<readonly StoredEvent[]> {
    let started = false;
    let finished = false;
    const iterator: AsyncIterableIterator<readonly StoredEvent[]> = {
      next: () => {
        if (!started) {
          started = true;
          return this.#start().then(() => iterator.next());
        }
        if (finished) return Promise.resolve(DONE);
        return this.#nextBatch();
      },
      return: () => {
        finished = true;
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** An iterator's first `next()`: a refusal rejects it, as a generator's would. */
  async #start(): Promise<void> {
    this.#source.assertUsable?.();
  }

  /**
   * What the consumer can take now: a positive number of events (up to the next failure),
   * FAILED when a failure is next, ENDED once closed, WAIT otherwise. Fills first when nothing
   * is buffered.
   */
  #poll(): number {
    if (this.#closed) return ENDED;
    if (!this.#source.deliverable()) return WAIT;
    if (this.#head === this.#events.length && this.#failures.length === 0) {
      this.#source.fill?.();
      if (this.#closed) return ENDED;
    }
    const next = this.#failures[0];
    const ready = (next === undefined ? this.#events.length : next.at) - this.#head;
    if (ready > 0) return ready;
    return next === undefined ? WAIT : FAILED;
  }

  async #nextEvent(first: number): Promise<IteratorResult<StoredEvent>> {
    for (let ready = first; ; ready = this.#poll()) {
      if (ready > 0) return { done: false, value: this.#takeOne() };
      if (ready === ENDED) return DONE;
      if (ready === FAILED) throw this.#takeFailure();
      await this.#wait();
    }
  }

  async #nextBatch(): Promise<IteratorResult<readonly StoredEvent[]>> {
    for (;;) {
      const ready = this.#poll();
      if (ready > 0) return { done: false, value: this.#takeBatch(ready) };
      if (ready === ENDED) return DONE;
      if (ready === FAILED) throw this.#takeFailure();
      await this.#wait();
    }
  }

  #wait(): Promise<void> {
    this.#source.waiting?.();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #takeOne(): StoredEvent {
    const event = this.#events[this.#head++]!;
    this.#compact();
    this.#source.taken?.(1);
    return event;
  }

  #takeBatch(ready: number): StoredEvent[] {
    const count = Math.min(ready, this.capacity);
    let batch: StoredEvent[];
    if (this.#head === 0 && count === this.#events.length) {
      // The whole buffer: hand the array itself over and start a new one.
      batch = this.#events;
      this.#events = [];
      for (const failure of this.#failures) failure.at -= count;
    } else {
      batch = this.#events.slice(this.#head, this.#head + count);
      this.#head += count;
      this.#compact();
    }
    this.#source.taken?.(count);
    return batch;
  }

  #takeFailure(): unknown {
    const failure = this.#failures.shift()!;
    failure.settle();
    this.#source.taken?.(0);
    return failure.error;
  }

  /** Drops taken events from the array once it ran empty, or once they outnumber `capacity`. */
  #compact(): void {
    const head = this.#head;
    if (head === this.#events.length) this.#events = [];
    else if (head > this.capacity) this.#events.splice(0, head);
    else return;
    this.#head = 0;
    for (const failure of this.#failures) failure.at -= head;
  }

  /** Removes waiting events and failures that match, keeping each kept failure in its place. */
  #remove(dropEvent: (event: StoredEvent) => boolean, dropFailure: (failure: Failure) => boolean): void {
    const events = this.#events;
    const failures = this.#failures;
    const kept: StoredEvent[] = [];
    const keptFailures: Failure[] = [];
    let next = 0;
    const placeFailuresUpTo = (index: number): void => {
      for (; next < failures.length && failures[next]!.at <= index; next++) {
        const failure = failures[next]!;
        if (dropFailure(failure)) {
          failure.settle();
        } else {
          failure.at = kept.length;
          keptFailures.push(failure);
        }
      }
    };
    for (let i = this.#head; i < events.length; i++) {
      placeFailuresUpTo(i);
      const event = events[i]!;
      if (!dropEvent(event)) kept.push(event);
    }
    placeFailuresUpTo(Number.POSITIVE_INFINITY);
    this.#events = kept;
    this.#head = 0;
    this.#failures = keptFailures;
  }
}
