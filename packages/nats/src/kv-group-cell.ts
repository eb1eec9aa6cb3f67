import { HeraldError } from '@herald/core';
import { compareAndSetCell } from '@herald/core/backend';
import type { GroupCell, GroupRecord, PartitionCounts } from '@herald/core/backend';
import type { KvBucket } from './kv-bucket.ts';

/*
 * The NATS group cell: a consumer group's record (core's group protocol) as JSON in one KV
 * key, changed only by compare-and-set on the key's revision, so a step either applies
 * entirely or not at all and two members can never both win the same race: the embedded log's
 * one-transaction-per-step design (ADR 0005) with a KV revision in place of a SQLite write
 * lock. Each partition's committed offset lives in its own key (`OffsetRecord`), so commits do
 * not contend with heartbeats; it carries the epoch commits are accepted under (see
 * nats-subscription.ts).
 */

/** A group's record in the KV key `key`, for a member that knows topics through `partitionCounts`. */
export function kvGroupCell(
  bucket: KvBucket,
  key: string,
  group: string,
  partitionCounts: (topics: readonly string[]) => Promise<PartitionCounts>,
): GroupCell {
  return compareAndSetCell({
    group,
    async read() {
      const entry = await bucket.get(key);
      return entry === null ? undefined : { record: parseGroup(entry.value), revision: entry.revision };
    },
    async compareAndSet(record: GroupRecord, revision: number) {
      return (await bucket.update(key, serializeGroup(record), revision)) !== null;
    },
    partitionCounts,
  });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function serializeGroup(record: GroupRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Parses a stored record; throws `CORRUPT_LOG` for something Herald did not write. */
export function parseGroup(bytes: Uint8Array): GroupRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new HeraldError('CORRUPT_LOG', 'a consumer-group record is not JSON', { cause });
  }
  const record = parsed as Partial<GroupRecord> | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    record.version !== 1 ||
    typeof record.group !== 'string' ||
    typeof record.members !== 'object' ||
    !Array.isArray(record.partitions) ||
    !Array.isArray(record.topics)
  ) {
    throw new HeraldError('CORRUPT_LOG', 'a consumer-group record has an unknown shape');
  }
  return record as GroupRecord;
}

/** A group's position in one partition, in its own KV key so commits do not contend with heartbeats. */
export interface OffsetRecord {
  /** Next offset the group reads, or null when it never committed. */
  readonly committed: number | null;
  /** Epoch of the claim commits are accepted under; raised by every new owner before it reads. */
  readonly epoch: number;
  /** Set by `resetGroup`: offsets below it are a replay. */
  readonly replayUntil?: number;
  readonly updatedAt: number;
}

export function serializeOffset(record: OffsetRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Parses a stored offset record; throws `CORRUPT_LOG` for something Herald did not write. */
export function parseOffset(bytes: Uint8Array): OffsetRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new HeraldError('CORRUPT_LOG', 'an offset record is not JSON', { cause });
  }
  const record = parsed as Partial<OffsetRecord> | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    !(record.committed === null || Number.isSafeInteger(record.committed)) ||
    !Number.isSafeInteger(record.epoch)
  ) {
    throw new HeraldError('CORRUPT_LOG', 'an offset record has an unknown shape');
  }
  return record as OffsetRecord;
}
