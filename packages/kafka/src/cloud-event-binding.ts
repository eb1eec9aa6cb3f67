import { Buffer } from 'node:buffer';
import {
  EXTENSION_NAME,
  HeraldError,
  KNOWN_ATTRIBUTES,
  assertValidEnvelope,
  decodeStructuredCloudEvent,
} from '@herald/core';
import type { CloudEvent } from '@herald/core';
import { HEADER_ATTRIBUTES, isStructuredContentType, strictUtf8 } from '@herald/core/backend';

/*
 * The CloudEvents Kafka protocol binding (https://github.com/cloudevents/spec, kafka-protocol-binding.md),
 * binary content mode: every context attribute travels in a `ce_<name>` header, `datacontenttype`
 * in the `content-type` header, the data as the record value byte for byte, and the
 * `partitionkey` extension as the record key. A Kafka tool sees an ordinary keyed record whose
 * value is the payload; a CloudEvents SDK on any platform reads the same record as an event.
 */

/** A Kafka record as Herald writes it: UTF-8 header values, the key and the value as bytes. */
export interface KafkaRecordParts {
  /** The UTF-8 bytes of `partitionkey`, or null when the event has none. */
  readonly key: Buffer | null;
  /** The data bytes; null when the event has no data (an empty payload stays empty, not null). */
  readonly value: Buffer | null;
  readonly headers: Map<Buffer, Buffer>;
  /**
   * The event's size as `maxRecordBytes` counts it: every attribute's name and value (UTF-8,
   * names without the `ce_` prefix) plus the data.
   */
  readonly bytes: number;
}

/** A record as read from Kafka. Header names and values may be null on the wire. */
export interface KafkaRecordInput {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly (readonly [Uint8Array | null, Uint8Array | null])[];
}

/** The header that carries `datacontenttype` in binary mode. */
export const CONTENT_TYPE_HEADER = 'content-type';
/** The prefix of every other attribute's header. */
export const HEADER_PREFIX = 'ce_';

/**
 * Encodes a valid CloudEvent as a Kafka record in binary mode. The event is validated first
 * (`INVALID_ENVELOPE`), and the data bytes are copied, so later changes to the caller's buffer
 * cannot change what is sent.
 *
 * @example
 * const { key, value, headers } = encodeCloudEvent(event); // headers: ce_id, ce_source, …, content-type
 */
export function encodeCloudEvent(event: CloudEvent): KafkaRecordParts {
  return encode(event, false);
}

/**
 * {@link encodeCloudEvent} for the log's own producer, which only reads what it is given: the
 * header names of the standard attributes are shared constants, and so are the values of the
 * attributes that name a kind of event rather than one event (`specversion`, `source`,
 * `type`, `datacontenttype`, `dataschema`), instead of new buffers for every record — which
 * matters when thousands of events are appended per second.
 */
export function encodeForProducer(event: CloudEvent): KafkaRecordParts {
  return encode(event, true);
}

/** Attributes whose values are the same for every event of a kind, so their encodings can be shared. */
const REPEATING = new Set(['specversion', 'source', 'type', 'datacontenttype', 'dataschema']);
/** Shared encodings of repeating values; bounded, so odd values cannot make it grow without limit. */
const sharedValues = new Map<string, Buffer>();
const MAX_SHARED_VALUES = 1024;
const MAX_SHARED_VALUE_LENGTH = 256;

/** The standard attributes in header order, each with its header name, also as a shared buffer. */
const STANDARD_HEADERS = [
  ...HEADER_ATTRIBUTES.map((attribute) => ({ attribute, header: HEADER_PREFIX + attribute })),
  { attribute: 'datacontenttype' as const, header: CONTENT_TYPE_HEADER },
].map(({ attribute, header }) => ({
  attribute,
  header,
  shared: Buffer.from(header, 'latin1'),
  repeats: REPEATING.has(attribute),
}));

function sharedValue(value: string): Buffer {
  let encoded = sharedValues.get(value);
  if (encoded === undefined) {
    encoded = Buffer.from(value, 'utf8');
    if (sharedValues.size < MAX_SHARED_VALUES && value.length <= MAX_SHARED_VALUE_LENGTH) {
      sharedValues.set(value, encoded);
    }
  }
  return encoded;
}

function encode(event: CloudEvent, share: boolean): KafkaRecordParts {
  assertValidEnvelope(event);
  const headers = new Map<Buffer, Buffer>();
  // Attribute names are ASCII (validated), so their length is their size in bytes.
  let bytes = 0;
  for (const { attribute, header, shared, repeats } of STANDARD_HEADERS) {
    const value = event[attribute];
    if (value === undefined) continue;
    if (share) {
      const encoded = repeats ? sharedValue(value) : Buffer.from(value, 'utf8');
      headers.set(shared, encoded);
      bytes += attribute.length + encoded.length;
      continue;
    }
    const encoded = Buffer.from(value, 'utf8');
    headers.set(Buffer.from(header, 'latin1'), encoded);
    bytes += attribute.length + encoded.length;
  }
  if (event.extensions !== undefined) {
    for (const [name, value] of Object.entries(event.extensions)) {
      const encoded = Buffer.from(value, 'utf8');
      headers.set(Buffer.from(HEADER_PREFIX + name, 'latin1'), encoded);
      bytes += name.length + encoded.length;
    }
  }
  const value = event.data === undefined ? null : Buffer.from(event.data);
  return {
    key: event.partitionkey === undefined ? null : Buffer.from(event.partitionkey, 'utf8'),
    value,
    headers,
    bytes: bytes + (value?.length ?? 0),
  };
}

interface HeraldHeader {
  readonly bytes: Buffer;
  readonly header: string;
  readonly attribute: string;
}

/**
 * The headers Herald writes, as bytes grouped by length, so that a header name can be matched
 * without first being made into a string: decoding runs for every record read.
 */
const HERALD_HEADERS_BY_LENGTH: (readonly HeraldHeader[])[] = [];
for (const [header, attribute] of [
  ...HEADER_ATTRIBUTES.map((name): [string, string] => [HEADER_PREFIX + name, name]),
  [CONTENT_TYPE_HEADER, 'datacontenttype'] as [string, string],
]) {
  const bytes = Buffer.from(header, 'latin1');
  HERALD_HEADERS_BY_LENGTH[bytes.length] = [
    ...(HERALD_HEADERS_BY_LENGTH[bytes.length] ?? []),
    { bytes, header, attribute },
  ];
}

/** The header a name is, when it is spelled exactly as Herald writes it; undefined otherwise. */
function heraldHeader(name: Uint8Array): HeraldHeader | undefined {
  const candidates = HERALD_HEADERS_BY_LENGTH[name.length];
  if (candidates === undefined) return undefined;
  next: for (const candidate of candidates) {
    // From the end: the names share their beginning (`ce_`), not their end.
    for (let i = name.length - 1; i >= 0; i--) if (name[i] !== candidate.bytes[i]) continue next;
    return candidate;
  }
  return undefined;
}

/**
 * Decodes a Kafka record into a CloudEvent: binary mode (`ce_*` headers), or structured mode
 * when `content-type` is `application/cloudevents+json` and there is no `ce_specversion` header.
 *
 * Lenient where nothing is lost: header names are matched case-insensitively, the record key
 * stands in for `partitionkey` when no `ce_partitionkey` header is present, and `ce_*` headers
 * whose names are not valid CloudEvents extension names are ignored. Anything else that is
 * not a valid CloudEvent (no `ce_specversion`/`ce_id`/`ce_source`/`ce_type`, values that are
 * not UTF-8, a malformed `ce_time`…) throws `DECODE_FAILED`.
 */
export function decodeCloudEvent(record: KafkaRecordInput): CloudEvent {
  // One pass over the headers: the first occurrence of a name wins, null values are skipped,
  // and every value read must be UTF-8 (even of names then ignored). The attributes are
  // collected in locals, not by name into an object, because this runs for every record read.
  let specversion: string | undefined;
  let id: string | undefined;
  let source: string | undefined;
  let type: string | undefined;
  let time: string | undefined;
  let subject: string | undefined;
  let dataschema: string | undefined;
  let partitionkey: string | undefined;
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  let datacontenttype: string | undefined;
  let extensions: Record<string, string> | undefined;
  let ignored: Set<string> | undefined;
  for (const [rawName, rawValue] of record.headers) {
    if (rawName === null || rawValue === null) continue;
    const known = heraldHeader(rawName);
    let attribute: string;
    let name: string;
    if (known !== undefined) ({ attribute, header: name } = known);
    else {
      name = latin1(rawName).toLowerCase();
      if (name === CONTENT_TYPE_HEADER) attribute = 'datacontenttype';
      else if (name.startsWith(HEADER_PREFIX)) attribute = name.slice(HEADER_PREFIX.length);
      else continue;
    }
    switch (attribute) {
      case 'specversion':
        specversion ??= repeatingUtf8(REPEATING_SLOT.specversion, rawValue, name);
        break;
      case 'id':
        id ??= utf8(rawValue, name);
        break;
      case 'source':
        source ??= repeatingUtf8(REPEATING_SLOT.source, rawValue, name);
        break;
      case 'type':
        type ??= repeatingUtf8(REPEATING_SLOT.type, rawValue, name);
        break;
      case 'time':
        time ??= utf8(rawValue, name);
        break;
      case 'subject':
        subject ??= utf8(rawValue, name);
        break;
      case 'dataschema':
        dataschema ??= repeatingUtf8(REPEATING_SLOT.dataschema, rawValue, name);
        break;
      case 'partitionkey':
        partitionkey ??= utf8(rawValue, name);
        break;
      case 'traceparent':
        traceparent ??= utf8(rawValue, name);
        break;
      case 'tracestate':
        tracestate ??= utf8(rawValue, name);
        break;
      case 'datacontenttype':
        datacontenttype ??= repeatingUtf8(REPEATING_SLOT.datacontenttype, rawValue, name);
        break;
      default:
        if (!KNOWN_ATTRIBUTES.has(attribute) && EXTENSION_NAME.test(attribute)) {
          extensions ??= {};
          extensions[attribute] ??= utf8(rawValue, name);
        } else if (!(ignored ??= new Set()).has(attribute)) {
          // ce_data, ce_data_base64 and names that cannot be extensions carry nothing.
          ignored.add(attribute);
          utf8(rawValue, name);
        }
    }
  }
  if (specversion === undefined && isStructuredContentType(datacontenttype ?? ''))
    return decodeStructured(record);
  if (partitionkey === undefined && record.key !== null) {
    try {
      partitionkey = strictUtf8.decode(record.key);
    } catch {
      // A key that is not text cannot be a partition key; the event simply has none.
    }
  }
  const event: { -readonly [K in keyof CloudEvent]: CloudEvent[K] } = {
    specversion: specversion as '1.0',
    id: id!,
    source: source!,
    type: type!,
  };
  // Absent attributes stay absent (not undefined), as on every other backend.
  if (time !== undefined) event.time = time;
  if (subject !== undefined) event.subject = subject;
  if (datacontenttype !== undefined) event.datacontenttype = datacontenttype;
  if (dataschema !== undefined) event.dataschema = dataschema;
  if (partitionkey !== undefined) event.partitionkey = partitionkey;
  if (traceparent !== undefined) event.traceparent = traceparent;
  if (tracestate !== undefined) event.tracestate = tracestate;
  if (extensions !== undefined) event.extensions = extensions;
  // A copy, so an event never pins the whole fetch response its record was sliced from.
  if (record.value !== null) event.data = copyData(record.value);
  return checked(event);
}

/** Size of the shared chunks small data is copied into. */
const DATA_CHUNK_BYTES = 64 * 1024;
/** Data larger than this gets a buffer of its own. */
const MAX_CHUNKED_DATA_BYTES = 4 * 1024;
let dataChunk = new Uint8Array(0);
let dataChunkUsed = 0;

/**
 * A copy of `bytes` that shares nothing with the record it came from. Small payloads are
 * copied side by side into shared 64 KiB chunks, as Node's Buffer pool does for small buffers:
 * one allocation per chunk instead of one per event, which costs more than the rest of decoding
 * an event together. The consequence for memory: an event that is kept pins at most its chunk
 * (64 KiB), never a fetch response (MiBs). Chunks are only ever appended to, so a view handed
 * out never changes; its `byteOffset` is generally not 0, like any Buffer's.
 */
function copyData(bytes: Uint8Array): Uint8Array {
  const length = bytes.byteLength;
  if (length > MAX_CHUNKED_DATA_BYTES) return new Uint8Array(bytes);
  if (dataChunkUsed + length > dataChunk.byteLength) {
    dataChunk = new Uint8Array(DATA_CHUNK_BYTES);
    dataChunkUsed = 0;
  }
  const copy = dataChunk.subarray(dataChunkUsed, dataChunkUsed + length);
  copy.set(bytes);
  dataChunkUsed += length;
  return copy;
}

/** Header bytes as Latin-1 text: never fails, and is the name itself for the ASCII names in use. */
function latin1(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes)
    ? bytes.toString('latin1')
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function decodeStructured(record: KafkaRecordInput): CloudEvent {
  if (record.value === null) throw decodeFailed('a structured-mode CloudEvent record has no value');
  return decodeStructuredCloudEvent(record.value);
}

function checked(event: CloudEvent): CloudEvent {
  try {
    assertValidEnvelope(event);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw decodeFailed(`the record is not a valid CloudEvent: ${reason}`, cause);
  }
  return event;
}

/** A slot in {@link recentValues} for each attribute whose values repeat from event to event. */
const REPEATING_SLOT = { specversion: 0, source: 1, type: 2, dataschema: 3, datacontenttype: 4 } as const;
/** Values kept per slot. */
const RECENT_VALUES = 8;
/**
 * The values of repeating attributes decoded last, as bytes and as text, per slot. The mirror
 * of the encoder's shared values: consecutive events mostly share their source, type and
 * content type, and comparing a few bytes costs less than decoding them into a new string.
 */
const recentValues: { readonly entries: { bytes: Uint8Array; text: string }[]; replace: number }[] =
  Object.values(REPEATING_SLOT).map(() => ({ entries: [], replace: 0 }));

/** {@link utf8} for a repeating attribute: the text decoded before when the bytes are the same. */
function repeatingUtf8(slot: number, bytes: Uint8Array, where: string): string {
  const recent = recentValues[slot]!;
  next: for (const known of recent.entries) {
    if (known.bytes.length !== bytes.length) continue;
    // From the end: values such as event types share their beginning, not their end.
    for (let i = bytes.length - 1; i >= 0; i--) if (known.bytes[i] !== bytes[i]) continue next;
    return known.text;
  }
  const text = utf8(bytes, where);
  if (bytes.length <= MAX_SHARED_VALUE_LENGTH) {
    // A copy: `bytes` is a view into the fetch response, which must not be pinned.
    const entry = { bytes: new Uint8Array(bytes), text };
    if (recent.entries.length < RECENT_VALUES) recent.entries.push(entry);
    else recent.entries[recent.replace++ % RECENT_VALUES] = entry;
  }
  return text;
}

function utf8(bytes: Uint8Array, where: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (cause) {
    throw decodeFailed(`header "${where}" is not UTF-8`, cause);
  }
}

function decodeFailed(message: string, cause?: unknown): HeraldError {
  return new HeraldError('DECODE_FAILED', message, cause === undefined ? {} : { cause });
}
