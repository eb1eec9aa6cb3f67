import { HeraldError } from '@herald/core';
import type { RetentionPolicy } from '@herald/core';

/** A topic as recorded in the `herald_topics` bucket: the record is the topic's existence. */
export interface TopicRecord {
  readonly version: 1;
  readonly name: string;
  readonly partitions: number;
  readonly retention: RetentionPolicy;
  readonly createdAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function serializeTopic(record: TopicRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Parses a stored topic record; throws `CORRUPT_LOG` for something Herald did not write. */
export function parseTopic(bytes: Uint8Array): TopicRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new HeraldError('CORRUPT_LOG', 'a topic record is not JSON', { cause });
  }
  const record = parsed as Partial<TopicRecord> | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    typeof record.name !== 'string' ||
    !Number.isSafeInteger(record.partitions) ||
    (record.partitions ?? 0) < 1 ||
    typeof record.retention !== 'object' ||
    record.retention === null
  ) {
    throw new HeraldError('CORRUPT_LOG', 'a topic record has an unknown shape');
  }
  return record as TopicRecord;
}
