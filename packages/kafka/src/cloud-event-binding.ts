import { Buffer } from 'node:buffer';
import { HeraldError, assertValidEnvelope, isHeraldError } from '@herald/core';
import type { CloudEvent } from '@herald/core';

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

const ATTRIBUTE_HEADERS = [
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'dataschema',
  'partitionkey',
  'traceparent',
  'tracestate',
] as const;
const NAMED = new Set<string>([...ATTRIBUTE_HEADERS, 'datacontenttype', 'data', 'data_base64']);
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const STRUCTURED = /^application\/cloudevents\+json(\s*;.*)?$/i;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a valid CloudEvent as a Kafka record in binary mode. The event is validated first
 * (`INVALID_ENVELOPE`), and the data bytes are copied, so later changes to the caller's buffer
 * cannot change what is sent.
 *
 * @example
 * const { key, value, headers } = encodeCloudEvent(event); // headers: ce_id, ce_source, …, content-type
 */
export function encodeCloudEvent(event: CloudEvent): KafkaRecordParts {
  assertValidEnvelope(event);
  const headers = new Map<Buffer, Buffer>();
  const put = (name: string, value: string | undefined): void => {
    if (value !== undefined) headers.set(Buffer.from(name, 'latin1'), Buffer.from(value, 'utf8'));
  };
  for (const name of ATTRIBUTE_HEADERS) put(HEADER_PREFIX + name, event[name]);
  put(CONTENT_TYPE_HEADER, event.datacontenttype);
  for (const [name, value] of Object.entries(event.extensions ?? {})) put(HEADER_PREFIX + name, value);
  return {
    key: event.partitionkey === undefined ? null : Buffer.from(event.partitionkey, 'utf8'),
    value: event.data === undefined ? null : Buffer.from(event.data),
    headers,
  };
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
  const attributes = new Map<string, string>();
  for (const [rawName, rawValue] of record.headers) {
    if (rawName === null) continue;
    const name = Buffer.from(rawName.buffer, rawName.byteOffset, rawName.byteLength)
      .toString('latin1')
      .toLowerCase();
    if (name !== CONTENT_TYPE_HEADER && !name.startsWith(HEADER_PREFIX)) continue;
    const attribute = name === CONTENT_TYPE_HEADER ? 'datacontenttype' : name.slice(HEADER_PREFIX.length);
    if (attributes.has(attribute) || rawValue === null) continue;
    attributes.set(attribute, utf8(rawValue, name));
  }
  if (!attributes.has('specversion') && STRUCTURED.test(attributes.get('datacontenttype') ?? '')) {
    return decodeStructured(record);
  }
  const event: Record<string, unknown> = {};
  const extensions: Record<string, string> = {};
  let hasExtensions = false;
  for (const [name, value] of attributes) {
    if (NAMED.has(name)) {
      if (name === 'data' || name === 'data_base64') continue;
      event[name] = value;
    } else if (EXTENSION_NAME.test(name)) {
      extensions[name] = value;
      hasExtensions = true;
    }
  }
  if (event['partitionkey'] === undefined && record.key !== null) {
    try {
      event['partitionkey'] = strictUtf8.decode(record.key);
    } catch {
      // A key that is not text cannot be a partition key; the event simply has none.
    }
  }
  if (hasExtensions) event['extensions'] = extensions;
  if (record.value !== null) event['data'] = new Uint8Array(record.value);
  return checked(event as unknown as CloudEvent);
}

function decodeStructured(record: KafkaRecordInput): CloudEvent {
  if (record.value === null) throw decodeFailed('a structured-mode CloudEvent record has no value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8(record.value, 'value'));
  } catch (cause) {
    if (isHeraldError(cause)) throw cause;
    throw decodeFailed('the value of a structured-mode CloudEvent record is not JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw decodeFailed('the value of a structured-mode CloudEvent record is not a JSON object');
  }
  const event: Record<string, unknown> = {};
  const extensions: Record<string, string> = {};
  let hasExtensions = false;
  for (const [name, value] of Object.entries(parsed)) {
    if (name === 'data' || name === 'data_base64') continue;
    if (typeof value !== 'string') {
      throw decodeFailed(`attribute "${name}" of a structured-mode CloudEvent is not a string`);
    }
    if (NAMED.has(name)) event[name] = value;
    else if (EXTENSION_NAME.test(name)) {
      extensions[name] = value;
      hasExtensions = true;
    }
  }
  const body = parsed as { data?: unknown; data_base64?: unknown };
  if (typeof body.data_base64 === 'string')
    event['data'] = new Uint8Array(Buffer.from(body.data_base64, 'base64'));
  else if (typeof body.data === 'string') event['data'] = new Uint8Array(Buffer.from(body.data, 'utf8'));
  else if (body.data !== undefined) {
    event['data'] = new Uint8Array(Buffer.from(JSON.stringify(body.data), 'utf8'));
    event['datacontenttype'] ??= 'application/json';
  }
  if (hasExtensions) event['extensions'] = extensions;
  return checked(event as unknown as CloudEvent);
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
