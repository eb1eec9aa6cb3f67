// Browsing and searching a topic's events with `EventLog.read` only (no consumer group): the
// partitions are scanned in order from where the request (or its cursor) says, at most
// `scanCap` events per request, so a search over a long topic answers page by page.
import { HeraldError, isHeraldError } from '@herald/core';
import type { EventLog, ReadPosition, StoredEvent } from '@herald/core';
import { dataText } from './event-view.ts';

/** What a search matches; every given criterion must hold. */
export interface EventFilter {
  readonly key?: string;
  readonly type?: string;
  /** CloudEvents attributes or extensions (headers) by name, with the exact value. */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Text the data contains (as UTF-8). */
  readonly text?: string;
  /** Any other test. */
  readonly predicate?: (event: StoredEvent) => boolean;
}

export interface SearchOptions {
  readonly filter: EventFilter;
  /** Only this partition. */
  readonly partition?: number;
  /** Start here in every partition searched: an offset (with `partition`) or a time. */
  readonly from?: ReadPosition;
  /** Events to answer at most. */
  readonly limit: number;
  /** Events to read at most in this request. */
  readonly scanCap: number;
  /** A cursor a previous page answered: where to go on. */
  readonly cursor?: string;
}

export interface SearchPage {
  readonly events: readonly StoredEvent[];
  /** Where the next page starts, or null when every partition was read to its end. */
  readonly next: string | null;
  /** Events read for this page (matching or not). */
  readonly scanned: number;
}

/** Positions still to read: partition → next offset, in partition order. */
type Cursor = [partition: number, offset: number][];

const PAGE = 500;

export async function searchEvents(
  log: EventLog,
  topic: string,
  options: SearchOptions,
): Promise<SearchPage> {
  const description = await log.describeTopic(topic);
  let cursor: Cursor;
  if (options.cursor !== undefined) {
    cursor = decodeCursor(options.cursor);
  } else {
    if (options.partition !== undefined && options.partition >= description.partitions) {
      throw new HeraldError('INVALID_ARGUMENT', `topic ${topic} has no partition ${options.partition}`, {
        details: { topic, partition: options.partition },
      });
    }
    cursor = [];
    for (const info of description.partitionInfo) {
      if (options.partition !== undefined && info.partition !== options.partition) continue;
      const from = options.from ?? 'earliest';
      const start =
        from === 'earliest'
          ? info.earliest
          : from === 'latest'
            ? info.latest
            : 'offset' in from
              ? Math.max(from.offset, info.earliest)
              : await offsetAtTime(log, topic, info.partition, from.timestamp, info.latest);
      cursor.push([info.partition, start]);
    }
  }
  const events: StoredEvent[] = [];
  let scanned = 0;
  while (cursor.length > 0 && events.length < options.limit && scanned < options.scanCap) {
    const [partition, offset] = cursor[0]!;
    const room = Math.min(PAGE, options.scanCap - scanned);
    const page = await readSkippingForeign(log, topic, partition, offset, room);
    if (page.next === offset) {
      cursor.shift();
      continue;
    }
    for (const event of page.events) {
      scanned++;
      if (matches(event, options.filter)) {
        events.push(event);
        if (events.length === options.limit) {
          cursor[0] = [partition, event.offset + 1];
          return { events, next: encodeCursor(cursor), scanned };
        }
      }
    }
    scanned += page.skipped;
    cursor[0] = [partition, page.next];
  }
  return { events, next: cursor.length === 0 ? null : encodeCursor(cursor), scanned };
}

/** Whether `event` meets every criterion of `filter`. */
export function matches(event: StoredEvent, filter: EventFilter): boolean {
  if (filter.key !== undefined && event.partitionkey !== filter.key) return false;
  if (filter.type !== undefined && event.type !== filter.type) return false;
  for (const [name, value] of Object.entries(filter.attributes ?? {})) {
    if (attributeOf(event, name) !== value) return false;
  }
  if (filter.text !== undefined && !dataText(event).includes(filter.text)) return false;
  return filter.predicate === undefined || filter.predicate(event);
}

function attributeOf(event: StoredEvent, name: string): string | undefined {
  switch (name) {
    case 'id':
    case 'source':
    case 'type':
    case 'subject':
    case 'time':
    case 'datacontenttype':
    case 'dataschema':
    case 'partitionkey':
    case 'traceparent':
    case 'tracestate':
      return event[name];
    default:
      return event.extensions?.[name];
  }
}

/**
 * Reads up to `limit` events from `offset`; a record that is not a CloudEvent is passed over
 * (counted in `skipped`). `next` is where to read on; equal to `offset` at the partition's end.
 */
async function readSkippingForeign(
  log: EventLog,
  topic: string,
  partition: number,
  offset: number,
  limit: number,
): Promise<{ events: readonly StoredEvent[]; next: number; skipped: number }> {
  try {
    const events = await log.read(topic, { partition, from: { offset }, limit });
    const last = events.at(-1);
    return { events, next: last === undefined ? offset : last.offset + 1, skipped: 0 };
  } catch (error) {
    const at = isHeraldError(error, 'DECODE_FAILED') ? error.details['offset'] : undefined;
    if (typeof at !== 'number' || at < offset) throw error;
    const events =
      at > offset ? await log.read(topic, { partition, from: { offset }, limit: at - offset }) : [];
    return { events: events.filter((e) => e.offset < at), next: at + 1, skipped: 1 };
  }
}

/** The offset of the first event appended at or after `timestamp`. */
async function offsetAtTime(
  log: EventLog,
  topic: string,
  partition: number,
  timestamp: number,
  latest: number,
): Promise<number> {
  if (!log.capabilities.timestampSeek) {
    throw new HeraldError('UNSUPPORTED', 'this backend cannot read from a time', { details: { topic } });
  }
  const [first] = await log.read(topic, { partition, from: { timestamp }, limit: 1 });
  return first?.offset ?? latest;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(cursor) &&
      cursor.length <= 10_000 &&
      cursor.every(
        (entry) =>
          Array.isArray(entry) &&
          entry.length === 2 &&
          entry.every((n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0),
      )
    ) {
      return cursor as Cursor;
    }
  } catch {
    // answered below
  }
  throw new HeraldError('INVALID_ARGUMENT', 'the cursor is not one this API answered');
}
