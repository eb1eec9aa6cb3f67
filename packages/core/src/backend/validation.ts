import { HeraldError } from '../errors.ts';
import { DEFAULT_READ_LIMIT } from '../event-log.ts';
import type {
  PartitionOffset,
  ReadOptions,
  ReadPosition,
  RetentionPolicy,
  StartPosition,
} from '../event-log.ts';

/*
 * The argument rules of the EventLog contract, written once. Every backend checks what a
 * caller passes with these before it touches its storage, so a bad argument fails the same way
 * (INVALID_ARGUMENT, same message) on every backend and nothing is written.
 */

/** Longest topic name (Kafka's limit), so that a name that works on one backend works on all. */
export const MAX_TOPIC_NAME_LENGTH = 249;
/** Most partitions a topic can have. */
export const MAX_PARTITIONS = 10_000;

const TOPIC_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * True when `name` is a topic name: 1 to `maxLength` letters, digits, `.`, `_` or `-`, and not
 * `.` or `..` (Kafka's rule). A backend that prefixes names on the wire passes the room left.
 * Lookups use it to report a name that cannot exist as UNKNOWN_TOPIC without asking storage.
 */
export function isTopicName(name: unknown, maxLength: number = MAX_TOPIC_NAME_LENGTH): name is string {
  return (
    typeof name === 'string' &&
    name.length <= maxLength &&
    TOPIC_NAME.test(name) &&
    name !== '.' &&
    name !== '..'
  );
}

/** Throws INVALID_ARGUMENT unless `name` is a topic name (see {@link isTopicName}). */
export function assertTopicName(
  name: unknown,
  maxLength: number = MAX_TOPIC_NAME_LENGTH,
): asserts name is string {
  if (!isTopicName(name, maxLength)) {
    throw invalid(
      `invalid topic name "${String(name)}": use 1 to ${maxLength} letters, digits, ".", "_" or "-"`,
      {
        topic: name,
      },
    );
  }
}

/** The partition count of a new topic: an integer from 1 to {@link MAX_PARTITIONS}; else INVALID_ARGUMENT. */
export function checkPartitionCount(partitions: unknown): number {
  if (
    !Number.isSafeInteger(partitions) ||
    (partitions as number) < 1 ||
    (partitions as number) > MAX_PARTITIONS
  ) {
    throw invalid(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${String(partitions)}`);
  }
  return partitions as number;
}

/**
 * A new topic's retention with only the limits that are set, each a positive integer; else
 * INVALID_ARGUMENT. No limit means events are kept forever.
 */
export function checkRetention(retention: RetentionPolicy | undefined): RetentionPolicy {
  const checked: { ms?: number; bytes?: number } = {};
  for (const field of ['ms', 'bytes'] as const) {
    const value = retention?.[field];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw invalid(`retention.${field} must be a positive integer, got ${String(value)}`);
    }
    checked[field] = value;
  }
  return checked;
}

/**
 * `partition` as an index into a topic of `count` partitions; else INVALID_ARGUMENT. Used for
 * explicit append partitions and reads.
 */
export function checkPartition(topic: string, partition: number, count: number): number {
  if (!Number.isSafeInteger(partition) || partition < 0 || partition >= count) {
    throw invalid(`topic "${topic}" has partitions 0..${count - 1}, not ${String(partition)}`, {
      topic,
      partition,
    });
  }
  return partition;
}

/** Where a consumer group starts: `earliest`, `latest` or `{ timestamp }`; else INVALID_ARGUMENT. */
export function checkStartPosition(position: unknown): StartPosition {
  return checkPosition(position, false) as StartPosition;
}

/** Where a read starts: a start position or `{ offset }` (a non-negative integer); else INVALID_ARGUMENT. */
export function checkReadPosition(position: unknown): ReadPosition {
  return checkPosition(position, true);
}

/** A read's limit, {@link DEFAULT_READ_LIMIT} when not given; else a positive integer or INVALID_ARGUMENT. */
export function checkReadLimit(limit: number | undefined): number {
  const checked = limit ?? DEFAULT_READ_LIMIT;
  if (!Number.isSafeInteger(checked) || checked < 1) {
    throw invalid(`limit must be a positive integer, got ${String(checked)}`);
  }
  return checked;
}

/**
 * A read's options checked against its topic's partition count: partition, then position, then
 * limit (with its default). The caller looks the topic up first, so an unknown topic is
 * UNKNOWN_TOPIC whatever the options.
 */
export function checkReadOptions(
  topic: string,
  options: ReadOptions,
  partitions: number,
): { readonly partition: number; readonly from: ReadPosition; readonly limit: number } {
  return {
    partition: checkPartition(topic, options.partition, partitions),
    from: checkReadPosition(options.from),
    limit: checkReadLimit(options.limit),
  };
}

/**
 * The offset a group position names: a non-negative integer and, when `latest` (the partition's
 * high watermark) is given, not beyond it; else INVALID_ARGUMENT. A group's position is the next
 * offset it reads, so `latest` itself is a valid position ("everything handled").
 */
export function checkCommitOffset(position: PartitionOffset, latest?: number): number {
  const { topic, partition, offset } = position;
  const valid = Number.isSafeInteger(offset) && offset >= 0 && (latest === undefined || offset <= latest);
  if (!valid) {
    throw invalid(
      `${topic}/${partition} has no offset ${String(offset)}: positions are integers from 0` +
        (latest === undefined ? '' : ` to ${latest}`),
      { topic, partition, offset },
    );
  }
  return offset;
}

function checkPosition(position: unknown, allowOffset: boolean): ReadPosition {
  if (position === 'earliest' || position === 'latest') return position;
  if (typeof position === 'object' && position !== null) {
    if ('timestamp' in position && Number.isFinite(position.timestamp)) return position as ReadPosition;
    if (
      allowOffset &&
      'offset' in position &&
      Number.isSafeInteger(position.offset) &&
      (position.offset as number) >= 0
    ) {
      return position as ReadPosition;
    }
  }
  const expected = allowOffset
    ? `'earliest', 'latest', { timestamp } or { offset }`
    : `'earliest', 'latest' or { timestamp }`;
  throw invalid(`invalid position ${JSON.stringify(position)}: expected ${expected}`);
}

function invalid(message: string, details: Record<string, unknown> = {}): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', message, { details });
}
