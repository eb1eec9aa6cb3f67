import type { DatabaseSync } from 'node:sqlite';
import type { ReadPosition, StoredEvent } from '@herald/core';
import type { ChangeNotifier } from './change-notifier.ts';
import type { WriteQueue } from './write-queue.ts';

/** @internal A topic as the `herald_topics` table holds it. */
export interface TopicRow {
  readonly id: number;
  readonly name: string;
  readonly partitions: number;
  readonly retention_ms: number | null;
  readonly retention_bytes: number | null;
}

/** @internal Shared with subscriptions: the connection, prepared statements, topic cache. */
export interface SqliteLogInternals {
  /** The reader connection (committed data only). Writes go through `writes`. */
  readonly reader: DatabaseSync;
  readonly path: string;
  readonly writes: WriteQueue;
  readonly notifier: ChangeNotifier;
  readonly clientId: string;
  topic(name: string): TopicRow;
  topicById(id: number): TopicRow;
  resolveStart(topicId: number, partition: number, from: ReadPosition): number;
  /** Next offset after the partition's last deliverable (durable) event, as this process knows it. */
  durableHead(topicId: number, partition: number): number;
  /**
   * Up to `limit` events of one partition from `fromOffset`, in offset order (committed data
   * only); callers stop at `durableHead`.
   */
  readEvents(
    topic: Pick<TopicRow, 'id' | 'name'>,
    partition: number,
    fromOffset: number,
    limit: number,
  ): StoredEvent[];
  afterCommit(): void;
}
