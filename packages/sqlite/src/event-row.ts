import type { CloudEvent, StoredEvent } from '@herald/core';

/**
 * How one event is stored: the CloudEvents context attributes in their own columns (no JSON to
 * parse on the read path), any other extension attributes as a JSON object in `extensions`
 * (NULL when there are none, the usual case), the data bytes untouched, and `size` (UTF-8 bytes
 * of the attributes plus the data) for retention by size and the record limit.
 */
export interface EventRow {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string | null;
  readonly subject: string | null;
  readonly datacontenttype: string | null;
  readonly dataschema: string | null;
  readonly partitionkey: string | null;
  readonly traceparent: string | null;
  readonly tracestate: string | null;
  readonly extensions: string | null;
  readonly data: Uint8Array | null;
  readonly size: number;
}

/** Column list shared by inserts and reads, in the order of `EventRow`'s fields (size excluded on reads). */
export const EVENT_ATTRIBUTE_COLUMNS =
  'id, source, type, time, subject, datacontenttype, dataschema, partitionkey, traceparent, tracestate, extensions, data';

const byteLength = (value: string | null) => (value === null ? 0 : Buffer.byteLength(value));

/** The row for an event (already validated). Copies the data, so later changes by the caller change nothing. */
export function encodeEventRow(event: CloudEvent): EventRow {
  const extensions =
    event.extensions === undefined || Object.keys(event.extensions).length === 0
      ? null
      : JSON.stringify(event.extensions);
  const row = {
    id: event.id,
    source: event.source,
    type: event.type,
    time: event.time ?? null,
    subject: event.subject ?? null,
    datacontenttype: event.datacontenttype ?? null,
    dataschema: event.dataschema ?? null,
    partitionkey: event.partitionkey ?? null,
    traceparent: event.traceparent ?? null,
    tracestate: event.tracestate ?? null,
    extensions,
    // A copy even of a Buffer (whose slice is a view): the log keeps the row after the append.
    data: event.data === undefined ? null : new Uint8Array(event.data),
  };
  const size =
    byteLength(row.id) +
    byteLength(row.source) +
    byteLength(row.type) +
    byteLength(row.time) +
    byteLength(row.subject) +
    byteLength(row.datacontenttype) +
    byteLength(row.dataschema) +
    byteLength(row.partitionkey) +
    byteLength(row.traceparent) +
    byteLength(row.tracestate) +
    byteLength(extensions) +
    (row.data?.byteLength ?? 0);
  return { ...row, size };
}

/**
 * A stored row, read as an array (`offset, timestamp` then `EVENT_ATTRIBUTE_COLUMNS`), back
 * into an event. Only attributes that were set appear on the result.
 */
export function decodeEventRow(topic: string, partition: number, row: readonly unknown[]): StoredEvent {
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: row[2],
    source: row[3],
    type: row[4],
  };
  if (row[5] !== null) event['time'] = row[5];
  if (row[6] !== null) event['subject'] = row[6];
  if (row[7] !== null) event['datacontenttype'] = row[7];
  if (row[8] !== null) event['dataschema'] = row[8];
  if (row[9] !== null) event['partitionkey'] = row[9];
  if (row[10] !== null) event['traceparent'] = row[10];
  if (row[11] !== null) event['tracestate'] = row[11];
  if (row[12] !== null) event['extensions'] = JSON.parse(row[12] as string);
  if (row[13] !== null) event['data'] = row[13];
  event['topic'] = topic;
  event['partition'] = partition;
  event['offset'] = row[0];
  event['timestamp'] = row[1];
  return event as unknown as StoredEvent;
}

/**
 * The event a reader would decode from `row` stored at `offset`: what an append hands to the
 * in-process subscriptions directly, so they need not read back what this process just wrote.
 * It shares `row.data`, which `encodeEventRow` copied from the producer's.
 */
export function storedEventOf(
  topic: string,
  partition: number,
  offset: number,
  timestamp: number,
  row: EventRow,
): StoredEvent {
  return decodeEventRow(topic, partition, [
    offset,
    timestamp,
    row.id,
    row.source,
    row.type,
    row.time,
    row.subject,
    row.datacontenttype,
    row.dataschema,
    row.partitionkey,
    row.traceparent,
    row.tracestate,
    row.extensions,
    row.data,
  ]);
}
