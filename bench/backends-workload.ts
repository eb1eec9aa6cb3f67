import type { PartitionOffset, StoredEvent } from '@herald/core';

export { BATCH_SIZE, DATA_BYTES, batchesOf, sampleEvents } from './log-workload.ts';

/** The topic every scenario writes, on every backend (each run in a fresh namespace or file). */
export const TOPIC = 'bench.backends';
/** Partitions of that topic: the same layout on every backend and for raw Kafka. */
export const PARTITIONS = 4;
/** How often a latency consumer commits (the router's default commit interval). */
export const LATENCY_COMMIT_INTERVAL_MS = 100;

/** Sizes of one run. */
export interface BackendsWorkload {
  /** Events appended in batches (scenario 1) and consumed (scenario 2), per backend and round. */
  readonly events: number;
  /** Events appended and consumed per side in the Herald-vs-raw Kafka rounds (scenario 4). */
  readonly kafkaEvents: number;
  /** Offered rate of the end-to-end latency scenario, events/s. */
  readonly rate: number;
  /** Published at the rate before measuring; their latencies are discarded. */
  readonly warmupMs: number;
  /** Published at the rate and measured. */
  readonly measureMs: number;
}

/** The measurement sizes, and the smaller ones of a `--quick` smoke run. */
export const FULL_WORKLOAD: BackendsWorkload = {
  events: 50_000,
  kafkaEvents: 200_000,
  rate: 500,
  warmupMs: 2000,
  measureMs: 10_000,
};
export const QUICK_WORKLOAD: BackendsWorkload = {
  events: 5000,
  kafkaEvents: 10_000,
  rate: 500,
  warmupMs: 500,
  measureMs: 1500,
};

/** The sequence number of a sample event, from its id `bench-<sequence>`. */
export function sequenceOf(id: string): number {
  const sequence = Number(id.slice('bench-'.length));
  if (!id.startsWith('bench-') || !Number.isSafeInteger(sequence) || sequence < 0) {
    throw new Error(`"${id}" is not the id of a sample event`);
  }
  return sequence;
}

/**
 * A consumer's position as it goes: the next offset per partition, and how many events it saw
 * since its last commit. Counting positions rather than events lets a run check that it read
 * every offset exactly once: on a topic filled from empty, the positions add up to the total.
 */
export class ConsumedPositions {
  readonly #next = new Map<number, number>();
  seen = 0;
  sinceCommit = 0;

  /** Records an event; throws when it is not the next offset of its partition (a gap or a repeat). */
  consumed(partition: number, offset: number): void {
    const expected = this.#next.get(partition) ?? 0;
    if (offset !== expected) {
      throw new Error(`partition ${partition}: offset ${offset} delivered where ${expected} was next`);
    }
    this.#next.set(partition, offset + 1);
    this.seen++;
    this.sinceCommit++;
  }

  /** Records a batch of Herald events. */
  consumedAll(events: readonly StoredEvent[]): void {
    for (const event of events) this.consumed(event.partition, event.offset);
  }

  /** The positions to commit, one per partition seen; resets the count since the last commit. */
  toCommit(topic: string): PartitionOffset[] {
    this.sinceCommit = 0;
    return [...this.#next].map(([partition, offset]) => ({ topic, partition, offset }));
  }

  /** The sum of the next offsets: the number of distinct offsets read from a topic filled from empty. */
  get total(): number {
    let sum = 0;
    for (const offset of this.#next.values()) sum += offset;
    return sum;
  }
}

/**
 * What an end-to-end run observed: when each event was due to be published (the open-loop
 * schedule) and when the consumer received it, both on `performance.now()`'s clock. Latency is
 * measured from the due time, not from when the append was actually called, so a publisher
 * that falls behind its schedule shows up as latency instead of being hidden (no coordinated
 * omission).
 */
export class LatencyRecorder {
  readonly expected: number;
  readonly #due: Float64Array;
  readonly #received: Float64Array;
  readonly #done: Promise<void>;
  #finish!: () => void;
  received = 0;
  duplicates = 0;

  constructor(expected: number) {
    this.expected = expected;
    this.#due = new Float64Array(expected);
    this.#received = new Float64Array(expected).fill(Number.NaN);
    this.#done = new Promise<void>((resolve) => {
      this.#finish = resolve;
    });
    if (expected === 0) this.#finish();
  }

  /** Resolves once every expected event was received. */
  get done(): Promise<void> {
    return this.#done;
  }

  get complete(): boolean {
    return this.received >= this.expected;
  }

  /** The publisher's schedule: event `sequence` is due at `at`. */
  due(sequence: number, at: number): void {
    this.#due[sequence] = at;
  }

  /** The consumer got event `sequence` at `at`; a second delivery is counted, not measured twice. */
  receivedOne(sequence: number, at: number): void {
    if (sequence >= this.expected) throw new RangeError(`sequence ${sequence} was never published`);
    if (!Number.isNaN(this.#received[sequence]!)) {
      this.duplicates++;
      return;
    }
    this.#received[sequence] = at;
    this.received++;
    if (this.received === this.expected) this.#finish();
  }

  /** Due→received latencies in ms of events `from` … expected − 1 (the measured ones). */
  latenciesFrom(from: number): Float64Array {
    const latencies = new Float64Array(this.expected - from);
    for (let i = from; i < this.expected; i++) latencies[i - from] = this.#received[i]! - this.#due[i]!;
    return latencies;
  }
}
