import type { StoredEvent } from '@herald/core';
import { type EventRow, storedEventOf } from './event-row.ts';

/**
 * An appended event as the window keeps it: its row, decoded on the first read and then shared
 * by every later reader, so an append nobody in this process reads costs no decoding.
 */
export class WindowEntry {
  readonly #topic: string;
  readonly #partition: number;
  readonly offset: number;
  readonly #timestamp: number;
  readonly #row: EventRow;
  #event: StoredEvent | undefined;

  constructor(topic: string, partition: number, offset: number, timestamp: number, row: EventRow) {
    this.#topic = topic;
    this.#partition = partition;
    this.offset = offset;
    this.#timestamp = timestamp;
    this.#row = row;
  }

  get partition(): number {
    return this.#partition;
  }

  get event(): StoredEvent {
    return (this.#event ??= storedEventOf(
      this.#topic,
      this.#partition,
      this.offset,
      this.#timestamp,
      this.#row,
    ));
  }
}

/** One partition's end as this process knows it. */
interface Tail {
  /** Next offset after everything known committed (by this process or, once seen, by others). */
  committed: number;
  /** Next offset after everything known durable: subscriptions deliver below this only. */
  durable: number;
  /** Recent events, `events[i].offset === first + i`. */
  events: WindowEntry[];
  first: number;
}

/** Heads that became committed since the last snapshot, to be marked durable after a sync. */
export type HeadSnapshot = readonly (readonly [topicId: number, partition: number, head: number])[];

/**
 * What one log instance knows about the end of each partition, and the window of recent events
 * every in-process subscription reads from: an event appended here is decoded once and handed
 * to all the groups that read its partition, and a subscription with nothing new to read never
 * touches SQLite (it compares its cursor with the head).
 *
 * Two heads per partition: `committed` moves when a transaction commits (this process's, or
 * another's seen through the database), `durable` only once a WAL sync covering it finished.
 * Subscriptions deliver only durable events, so no handler acts on an event a power loss could
 * still take back. With `synchronous = normal` both move together.
 *
 * The window keeps at most `windowSize` events per partition; a consumer further behind reads
 * from the database, in chunks, as before.
 */
export class PartitionTails {
  readonly #windowSize: number;
  readonly #topics = new Map<number, Tail[]>();
  #pending: [number, number, number][] = [];

  constructor(windowSize: number) {
    this.#windowSize = windowSize;
  }

  /**
   * Heads as read from the database (`herald_partitions`). Returns whether any is beyond what
   * this process knew committed: data another process wrote, to be synced before delivery.
   */
  observe(rows: readonly { topic_id: number; partition: number; next_offset: number }[]): boolean {
    let moved = false;
    for (const row of rows) {
      const tail = this.#tail(row.topic_id, row.partition);
      if (row.next_offset > tail.committed) {
        tail.committed = row.next_offset;
        this.#pending.push([row.topic_id, row.partition, row.next_offset]);
        moved = true;
      }
    }
    return moved;
  }

  /** Events this process just committed, in offset order per partition. */
  committed(topicId: number, events: readonly WindowEntry[]): void {
    for (const event of events) {
      const tail = this.#tail(topicId, event.partition);
      const end = tail.first + tail.events.length;
      if (event.offset !== end) {
        // Another process appended in between (or the window was empty): start a new window.
        tail.events = [];
        tail.first = event.offset;
      }
      tail.events.push(event);
      if (tail.events.length > this.#windowSize * 2) {
        const drop = tail.events.length - this.#windowSize;
        tail.events = tail.events.slice(drop);
        tail.first += drop;
      }
      if (event.offset + 1 > tail.committed) {
        tail.committed = event.offset + 1;
        this.#pending.push([topicId, event.partition, tail.committed]);
      }
    }
  }

  /** The committed heads not yet marked durable; the caller syncs, then calls `durable`. */
  snapshot(): HeadSnapshot {
    const taken = this.#pending;
    this.#pending = [];
    return taken;
  }

  /** A sync covering `snapshot` finished. Returns whether any durable head moved. */
  durable(snapshot: HeadSnapshot): boolean {
    let moved = false;
    for (const [topicId, partition, head] of snapshot) {
      const tail = this.#tail(topicId, partition);
      if (head > tail.durable) {
        tail.durable = head;
        moved = true;
      }
    }
    return moved;
  }

  /** Every partition seen, with its durable head: what the durable-heads record keeps. */
  durableHeads(): [topicId: number, partition: number, head: number][] {
    const heads: [number, number, number][] = [];
    for (const [topicId, tails] of this.#topics) {
      for (let partition = 0; partition < tails.length; partition++) {
        const tail = tails[partition];
        if (tail !== undefined) heads.push([topicId, partition, tail.durable]);
      }
    }
    return heads;
  }

  /** Next offset after the last durable event, or undefined when the partition was never seen. */
  durableHead(topicId: number, partition: number): number | undefined {
    return this.#topics.get(topicId)?.[partition]?.durable;
  }

  /**
   * Up to `limit` events from `from`, below the durable head, when the window holds `from`;
   * undefined when it does not (read the database instead).
   */
  read(topicId: number, partition: number, from: number, limit: number): StoredEvent[] | undefined {
    const tail = this.#topics.get(topicId)?.[partition];
    if (tail === undefined || from < tail.first || from >= tail.first + tail.events.length) return undefined;
    const end = Math.min(from + limit, tail.durable, tail.first + tail.events.length);
    if (end <= from) return [];
    return tail.events.slice(from - tail.first, end - tail.first).map((entry) => entry.event);
  }

  #tail(topicId: number, partition: number): Tail {
    let tails = this.#topics.get(topicId);
    if (tails === undefined) this.#topics.set(topicId, (tails = []));
    let tail = tails[partition];
    if (tail === undefined) tails[partition] = tail = { committed: 0, durable: 0, events: [], first: 0 };
    return tail;
  }
}
