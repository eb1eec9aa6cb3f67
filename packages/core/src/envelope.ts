import { HeraldError } from './errors.ts';

/**
 * A CloudEvents 1.0 event as the log stores it: the spec's context attributes under their own
 * names, the `partitionkey` and `traceparent`/`tracestate` extensions, any other extension
 * attributes in `extensions`, and `data` as the exact bytes that were produced.
 *
 * Keeping `data` as bytes at this level is deliberate: the log never re-encodes a payload, so
 * every attribute and every byte round-trips, and a payload that cannot be decoded can still be
 * moved to a dead-letter topic untouched. Typed data lives one level up (`defineEvent`).
 */
export interface CloudEvent {
  readonly specversion: '1.0';
  /** Unique per `source`; producers use it for de-duplication. */
  readonly id: string;
  /** URI-reference of the producing context, e.g. `/orders-service`. */
  readonly source: string;
  /** Reverse-DNS, past tense, versioned: `dev.herald.orders.order-placed.v1`. */
  readonly type: string;
  /** RFC 3339 timestamp of the occurrence. */
  readonly time?: string;
  readonly subject?: string;
  /** Media type of `data`, e.g. `application/json`. */
  readonly datacontenttype?: string;
  readonly dataschema?: string;
  /** Partition key extension: events with the same key keep their order. */
  readonly partitionkey?: string;
  /** W3C trace context extension, so one trace crosses every asynchronous hop. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** Other extension attributes: lower-case alphanumeric names, string values. */
  readonly extensions?: Readonly<Record<string, string>>;
  readonly data?: Uint8Array;
}

/** A CloudEvent as read back from a log: where it is and when the log accepted it. */
export interface StoredEvent extends CloudEvent {
  readonly topic: string;
  readonly partition: number;
  /** Dense, increasing per partition, starting at 0. */
  readonly offset: number;
  /** When the log appended it, in milliseconds since the epoch. */
  readonly timestamp: number;
}

/** Every attribute name the CloudEvents spec and Herald give a meaning; none can be an extension. */
export const KNOWN_ATTRIBUTES: ReadonlySet<string> = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
  'partitionkey',
  'traceparent',
  'tracestate',
]);
/** What an extension attribute may be called: lower-case letters and digits, at most 20. */
export const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const REQUIRED_ATTRIBUTES = ['id', 'source', 'type'] as const;
/** The optional standard attributes, in the order Herald writes them. */
export const OPTIONAL_ATTRIBUTES = [
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
  'partitionkey',
  'traceparent',
  'tracestate',
] as const;

/**
 * Checks the CloudEvents 1.0 rules that matter for interoperability and throws
 * `INVALID_ENVELOPE` naming the first attribute that breaks one. Logs call it before appending,
 * so nothing malformed is ever stored.
 */
export function assertValidEnvelope(event: CloudEvent): void {
  // Runs for every event appended and, on brokers, every event read: no allocation on the
  // path where the event is valid.
  if (event === null || typeof event !== 'object') invalidAttribute('(event)', 'must be an object');
  if (event.specversion !== '1.0') invalidAttribute('specversion', 'must be "1.0"');
  for (const name of REQUIRED_ATTRIBUTES) {
    const value = event[name];
    if (typeof value !== 'string' || value.length === 0) invalidAttribute(name, 'must be a non-empty string');
  }
  for (const name of OPTIONAL_ATTRIBUTES) {
    const value = event[name];
    if (value !== undefined && typeof value !== 'string')
      invalidAttribute(name, 'must be a string when present');
  }
  if (event.time !== undefined && !RFC3339.test(event.time)) {
    invalidAttribute('time', 'must be an RFC 3339 timestamp');
  }
  if (event.traceparent !== undefined && !TRACEPARENT.test(event.traceparent)) {
    invalidAttribute('traceparent', 'must be a W3C traceparent (version-traceid-parentid-flags)');
  }
  if (event.data !== undefined && !(event.data instanceof Uint8Array))
    invalidAttribute('data', 'must be a Uint8Array');
  if (event.extensions === undefined) return;
  for (const [name, value] of Object.entries(event.extensions)) {
    if (!EXTENSION_NAME.test(name)) {
      invalidAttribute(name, 'is not a valid extension name (a-z, 0-9, at most 20)');
    }
    if (KNOWN_ATTRIBUTES.has(name))
      invalidAttribute(name, 'is a reserved attribute and cannot be an extension');
    if (typeof value !== 'string') invalidAttribute(name, 'extension values must be strings');
  }
}

function invalidAttribute(attribute: string, why: string): never {
  throw new HeraldError('INVALID_ENVELOPE', `CloudEvent attribute "${attribute}" ${why}`, {
    details: { attribute },
  });
}

/** The attributes of an event without its data, as a plain JSON-safe object. */
export function attributesOf(event: CloudEvent): Record<string, string> {
  const out: Record<string, string> = {
    specversion: event.specversion,
    id: event.id,
    source: event.source,
    type: event.type,
  };
  for (const name of OPTIONAL_ATTRIBUTES) {
    const value = event[name];
    if (value !== undefined) out[name] = value;
  }
  for (const [name, value] of Object.entries(event.extensions ?? {})) out[name] = value;
  return out;
}

/** The inverse of `attributesOf`: rebuilds an event from stored attributes and data bytes. */
export function eventFromAttributes(
  attributes: Readonly<Record<string, string>>,
  data?: Uint8Array,
): CloudEvent {
  const extensions: Record<string, string> = {};
  let hasExtensions = false;
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (KNOWN_ATTRIBUTES.has(name)) event[name] = value;
    else {
      extensions[name] = value;
      hasExtensions = true;
    }
  }
  if (hasExtensions) event['extensions'] = extensions;
  if (data !== undefined) event['data'] = data;
  return event as unknown as CloudEvent;
}
