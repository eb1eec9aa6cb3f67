import type { CloudEvent, StoreTransaction, StoredEvent } from '@herald/core';

/** Bytes of `data` per event, as in the `log` benchmark. */
export const DATA_BYTES = 256;
/** Partition keys (aggregates): events of one key are handled in order, different keys concurrently. */
export const KEYS = 64;
export const PARTITIONS = 4;
export const TOPIC = 'bench.runtime';
export const EVENT_TYPE = 'dev.herald.bench.sample-recorded.v1';
/** The collection the handlers write: one document per key. */
export const COLLECTION = 'bench.keys';
/**
 * Events in flight at once on both sides: the router's default `maxInFlight`, and the raw
 * consumer's `maxBufferedEvents` (it handles one fetched batch at a time).
 */
export const IN_FLIGHT = 256;

/** Sizes of one run. */
export interface RuntimeWorkload {
  /** Events in the backlog each throughput contender drains. */
  readonly backlog: number;
  /** Offered rates of the latency scenario, events/s. */
  readonly rates: readonly number[];
  /** Published at the rate before measuring; their latencies are discarded. */
  readonly warmupMs: number;
  /** Published at the rate and measured. */
  readonly measureMs: number;
}

export const FULL_WORKLOAD: RuntimeWorkload = {
  backlog: 50_000,
  rates: [500, 2000],
  warmupMs: 1000,
  measureMs: 5000,
};
export const QUICK_WORKLOAD: RuntimeWorkload = {
  backlog: 5_000,
  rates: [500, 2000],
  warmupMs: 300,
  measureMs: 1000,
};

/** What a sample event carries. */
export interface SampleData {
  readonly key: string;
  /** 0, 1, 2, … in publishing order over all keys. */
  readonly sequence: number;
  /** `performance.timeOrigin + performance.now()` when it was published; 0 in a pre-filled backlog. */
  readonly publishedAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The current time as a number comparable across the process: ms since the epoch, sub-ms precision. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** The key of event `sequence`: keys take turns, so each key's events are spread over the log. */
export function keyOf(sequence: number): string {
  return `key-${String(sequence % KEYS).padStart(2, '0')}`;
}

/**
 * Event `sequence` with a JSON payload padded to exactly {@link DATA_BYTES} bytes (whatever
 * digits `publishedAt` has) and its key as the partition key.
 */
export function sampleEvent(sequence: number, publishedAt: number): CloudEvent {
  const key = keyOf(sequence);
  const head = `{"key":"${key}","sequence":${sequence},"publishedAt":${publishedAt},"note":"`;
  const tail = '"}';
  const data = encoder.encode(head + 'x'.repeat(DATA_BYTES - head.length - tail.length) + tail);
  if (data.length !== DATA_BYTES) throw new Error(`sample data is ${data.length} bytes, not ${DATA_BYTES}`);
  return {
    specversion: '1.0',
    id: `bench-${sequence}`,
    source: '/bench',
    type: EVENT_TYPE,
    time: '2025-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    partitionkey: key,
    data,
  };
}

/** Runs a function in a store transaction: the router's `ctx.transaction` or the store's own. */
export type Transact = (fn: (tx: StoreTransaction) => Promise<void>) => Promise<void>;

/**
 * What every contender's handler observes, so the run can tell when it is done and check that
 * the work was really done in order: per key, sequences must arrive increasing (a consumer that
 * breaks per-key order or handles an event twice fails the run instead of being measured).
 */
export class Probe {
  readonly #expected: number;
  readonly #lastSequence = new Map<string, number>();
  readonly #latencies: Float64Array;
  readonly #waiting: { count: number; resolve: () => void }[] = [];
  readonly #done: Promise<void>;
  #finish!: () => void;
  #fail!: (error: Error) => void;
  handled = 0;

  constructor(expected: number) {
    this.#expected = expected;
    this.#latencies = new Float64Array(expected);
    this.#done = new Promise<void>((resolve, reject) => {
      this.#finish = resolve;
      this.#fail = reject;
    });
    // Observed only through `done`; a failure before anyone awaits it is not unhandled.
    this.#done.catch(() => undefined);
  }

  /** Resolves once `expected` events were handled; rejects on an order violation. */
  get done(): Promise<void> {
    return this.#done;
  }

  get complete(): boolean {
    return this.handled >= this.#expected;
  }

  /** Called by a handler when its event's work is done (its transaction committed). */
  handledOne(data: SampleData): void {
    const last = this.#lastSequence.get(data.key) ?? -1;
    if (data.sequence <= last) {
      this.#fail(new Error(`key ${data.key}: sequence ${data.sequence} handled after ${last}`));
      return;
    }
    this.#lastSequence.set(data.key, data.sequence);
    if (data.sequence < this.#expected) this.#latencies[data.sequence] = now() - data.publishedAt;
    this.handled++;
    for (const waiter of this.#waiting) if (this.handled === waiter.count) waiter.resolve();
    if (this.handled === this.#expected) this.#finish();
  }

  /** Resolves once `count` events were handled (at once if they were); rejects like `done`. */
  reached(count: number): Promise<void> {
    if (this.handled >= count) return Promise.resolve();
    return Promise.race([
      new Promise<void>((resolve) => this.#waiting.push({ count, resolve })),
      this.#done.then(() => undefined),
    ]);
  }

  /** Publish→handled latencies in ms of events `from` … expected − 1 (the measured ones). */
  latenciesFrom(from: number): Float64Array {
    return this.#latencies.slice(from);
  }

  /** The last sequence handled per key, to compare with what the store holds. */
  lastSequences(): ReadonlyMap<string, number> {
    return this.#lastSequence;
  }
}

/**
 * The handler every contender runs: decode the payload, and unless `transact` is undefined
 * (the no-store baseline) write the key's document — the realistic small transaction, in which
 * the idempotency middleware also records the event in the inbox.
 */
export async function handleSample(
  event: StoredEvent,
  transact: Transact | undefined,
  probe: Probe,
): Promise<void> {
  const data = JSON.parse(decoder.decode(event.data)) as SampleData;
  if (transact !== undefined) {
    await transact(async (tx) => {
      await tx.put(COLLECTION, data.key, { sequence: data.sequence, offset: event.offset });
    });
  }
  probe.handledOne(data);
}
