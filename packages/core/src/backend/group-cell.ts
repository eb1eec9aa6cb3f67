import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError } from '../errors.ts';
import type { GroupRecord, PartitionCounts } from './group-protocol.ts';

/**
 * A pure change of a group's record: given the record as it is (undefined: nobody ever joined)
 * and the partition count of every topic its members subscribe to, the record to write and
 * what the caller learns. Returning no record, or the very record it was given, writes nothing.
 * A step may run more than once (a backend retries it when another writer came first), so it
 * must not act on the world; the caller acts on `result` once `update` resolves.
 */
export type GroupStep<T> = (
  record: GroupRecord | undefined,
  partitions: PartitionCounts,
) => { readonly record?: GroupRecord | undefined; readonly result: T };

/**
 * The one thing a backend supplies for the group protocol: a place holding one group's record
 * that applies a step atomically. Memory: a map, changed synchronously; SQLite: one write
 * transaction over its group tables; NATS: a compare-and-set of one KV key.
 */
export interface GroupCell {
  /** Applies `step` as one atomic change; rejects when the backend fails (`CONFLICT` under endless contention). */
  update<T>(step: GroupStep<T>): Promise<T>;
}

/** What {@link compareAndSetCell} needs from a store that can only read and compare-and-set. */
export interface CompareAndSetStore {
  readonly group: string;
  /** The record and its revision, or undefined when none was ever written. */
  read(): Promise<{ readonly record: GroupRecord; readonly revision: number } | undefined>;
  /** Writes `record` when the stored revision is still `revision` (0: none stored); false when another write came first. */
  compareAndSet(record: GroupRecord, revision: number): Promise<boolean>;
  /** Partition counts of the given topics (a topic that does not exist is left out). */
  partitionCounts(topics: readonly string[]): Promise<PartitionCounts>;
}

/** Compare-and-set attempts of one step before it gives up with `CONFLICT`. */
const CAS_ATTEMPTS = 20;

/**
 * A {@link GroupCell} over a compare-and-set store: read, apply the step, write if the
 * revision did not move, else read again after a short random pause (so members that collided
 * do not collide again).
 */
export function compareAndSetCell(store: CompareAndSetStore): GroupCell {
  return {
    async update<T>(step: GroupStep<T>): Promise<T> {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const current = await store.read();
        const topics = Object.values(current?.record.members ?? {}).flatMap((m) => m.topics);
        const counts = await store.partitionCounts([...new Set(topics)]);
        const { record, result } = step(current?.record, counts);
        if (record === undefined || record === current?.record) return result;
        if (await store.compareAndSet(record, current?.revision ?? 0)) return result;
        await sleep(Math.random() * 5 * (attempt + 1));
      }
      throw new HeraldError('CONFLICT', `group "${store.group}": too many concurrent changes to its record`);
    },
  };
}
