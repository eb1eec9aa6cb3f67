import { crc32 } from 'node:zlib';
import { type CloudEvent, HeraldError, type StoredEvent } from '@herald/core';

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
  /** CRC-32 of the attributes and the data (see `contentChecksum`); the stored checksum adds the position. */
  readonly content: number;
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
  const content = contentChecksum(
    [
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
    ],
    row.data,
  );
  return { ...row, size, content };
}

/**
 * The checksum's input, laid out in one reusable buffer so that each event costs one CRC call:
 * the eleven text attributes (`id` … `extensions`) as UTF-8, each followed by NUL, an absent one
 * as SOH alone; then the data bytes; then, for the stored checksum, the record's place as
 * u32 topic id, u32 partition, f64 offset, f64 timestamp (little-endian). Never stored.
 */
let scratch = Buffer.allocUnsafe(16 * 1024);
const PLACE_BYTES = 24;
const place = Buffer.allocUnsafe(PLACE_BYTES);

/** Writes attributes `values[first]` … `values[first + 10]` and `data` into `scratch`; returns the end. */
function layOut(values: readonly unknown[], first: number, data: Uint8Array | null, extra: number): number {
  let bound = 11 + (data?.byteLength ?? 0) + extra;
  for (let i = first; i < first + 11; i++) {
    const value = values[i] as string | null;
    if (value !== null) bound += value.length * 3;
  }
  if (scratch.length < bound) scratch = Buffer.allocUnsafe(bound * 2);
  let at = 0;
  for (let i = first; i < first + 11; i++) {
    const value = values[i] as string | null;
    if (value === null) scratch[at++] = 1;
    else {
      at += scratch.write(value, at, 'utf8');
      scratch[at++] = 0;
    }
  }
  if (data !== null) {
    scratch.set(data, at);
    at += data.byteLength;
  }
  return at;
}

function writePlace(
  buffer: Buffer,
  at: number,
  topicId: number,
  partition: number,
  offset: number,
  timestamp: number,
) {
  buffer.writeUInt32LE(topicId, at);
  buffer.writeUInt32LE(partition, at + 4);
  buffer.writeDoubleLE(offset, at + 8);
  buffer.writeDoubleLE(timestamp, at + 16);
}

/** CRC-32 of an event's attributes then its data bytes: computed once, before the append is queued. */
function contentChecksum(attributes: readonly (string | null)[], data: Uint8Array | null): number {
  return crc32(scratch.subarray(0, layOut(attributes, 0, data, 0)));
}

/**
 * The checksum stored with a record (column `crc`): the content checksum continued over the
 * record's place (topic id, partition, offset, timestamp), so a row that is intact but found
 * where it was not written fails it too. CRC-32 catches every flipped byte and every burst of
 * up to 32 bits; it is a guard against damage, not against an attacker who can write the file.
 */
export function recordChecksum(
  content: number,
  topicId: number,
  partition: number,
  offset: number,
  timestamp: number,
): number {
  writePlace(place, 0, topicId, partition, offset, timestamp);
  return crc32(place, content);
}

/**
 * Throws CORRUPT_LOG unless a row read as `[offset, timestamp, ...EVENT_ATTRIBUTE_COLUMNS, crc]`
 * matches its stored checksum. Rows written before checksums existed (crc NULL) pass unchecked.
 */
export function verifyEventRow(
  path: string,
  topic: { readonly id: number; readonly name: string },
  partition: number,
  row: readonly unknown[],
): void {
  const stored = row[14] as number | null | undefined;
  if (stored === null || stored === undefined) return;
  const offset = row[0] as number;
  // One pass over attributes, data and place: the same bytes the append checksummed in two steps.
  const end = layOut(row, 2, row[13] as Uint8Array | null, PLACE_BYTES);
  writePlace(scratch, end, topic.id, partition, offset, row[1] as number);
  const actual = crc32(scratch.subarray(0, end + PLACE_BYTES));
  if (actual !== stored) {
    throw new HeraldError(
      'CORRUPT_LOG',
      `${path}: the event at ${topic.name}/${partition} offset ${offset} fails its checksum ` +
        `(stored ${String(stored)}, read ${actual}); it is damaged and will not be served`,
      { details: { path, topic: topic.name, partition, offset } },
    );
  }
}

/**
 * A stored row, read as an array (`offset, timestamp` then `EVENT_ATTRIBUTE_COLUMNS`, maybe `crc`), back
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
