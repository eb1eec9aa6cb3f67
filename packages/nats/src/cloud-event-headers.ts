import {
  EXTENSION_NAME,
  HeraldError,
  KNOWN_ATTRIBUTES,
  assertValidEnvelope,
  decodeStructuredCloudEvent,
  isHeraldError,
} from '@herald/core';
import type { CloudEvent } from '@herald/core';
import { HEADER_ATTRIBUTES, isStructuredContentType, strictUtf8 } from '@herald/core/backend';
import { REDRIVE_ATTRIBUTE } from '@herald/core/ops';
import { headers as createHeaders } from '@nats-io/transport-node';
import type { MsgHdrs } from '@nats-io/transport-node';

/*
 * CloudEvents on NATS in binary content mode (NATS protocol binding, with message headers):
 * every context attribute travels in a `ce-<name>` header, `datacontenttype` in `content-type`,
 * and the message payload is the data, byte for byte.
 *
 * NATS headers are HTTP-like text: a value may not hold CR or LF and loses leading and trailing
 * white space. So header values follow the CloudEvents HTTP binding's rule: every character
 * outside printable ASCII (U+0021–U+007E), the space, `"` and `%` are percent-encoded as UTF-8.
 * Any attribute value therefore round-trips exactly, and a plain ASCII value reads as itself
 * in `nats stream view`.
 *
 * Two headers are Herald's own: `Nats-Msg-Id` (the server's de-duplication key: the event's
 * source and id — and its redrive count when it is redriven — so a retried publish is stored
 * once) and `Herald-Data: none`, which marks an
 * event without data (an empty payload otherwise means empty data).
 */

/** The header that carries `datacontenttype`. */
export const CONTENT_TYPE_HEADER = 'content-type';
/** The prefix of every other attribute's header. */
export const HEADER_PREFIX = 'ce-';
/** JetStream's de-duplication header. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';
/** Present (value `none`) when the event has no data at all. */
export const NO_DATA_HEADER = 'Herald-Data';

const encoder = new TextEncoder();

/** A CloudEvent as a NATS message: headers, payload and the de-duplication id among the headers. */
export interface NatsMessageParts {
  readonly headers: MsgHdrs;
  readonly data: Uint8Array;
  readonly msgId: string;
  /** Bytes the message takes under the server's `max_payload`: the header block plus the data. */
  readonly bytes: number;
}

/**
 * Percent-encodes a header value per the CloudEvents HTTP binding: the result is printable
 * ASCII without space, `"` or `%` other than as escapes.
 *
 * @example encodeHeaderValue('line1\nline2 ✓') // 'line1%0Aline2%20%E2%9C%93'
 */
export function encodeHeaderValue(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (code > 0x20 && code < 0x7f && char !== '"' && char !== '%') out += char;
    else
      for (const byte of encoder.encode(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The inverse of {@link encodeHeaderValue}. Lenient with other producers: a `%` not followed by
 * two hex digits stays as it is, and raw UTF-8 is accepted. Throws `DECODE_FAILED` when the
 * decoded bytes are not UTF-8.
 */
export function decodeHeaderValue(value: string, header = 'header'): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length;) {
    if (value[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const char = String.fromCodePoint(value.codePointAt(i)!);
      bytes.push(...encoder.encode(char));
      i += char.length;
    }
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch (cause) {
    throw decodeFailed(`header "${header}" does not percent-decode to UTF-8`, cause);
  }
}

/**
 * Encodes a valid CloudEvent as a NATS message in binary mode. The event is validated first
 * (`INVALID_ENVELOPE`, also for strings that are not well-formed Unicode), and the data is
 * copied, so later changes to the caller's buffer cannot change what is sent.
 *
 * @example
 * const { headers, data, msgId } = encodeCloudEvent(event); // ce-id, ce-source, …, content-type
 */
export function encodeCloudEvent(event: CloudEvent): NatsMessageParts {
  assertValidEnvelope(event);
  const headers = createHeaders();
  const put = (name: string, value: string | undefined): void => {
    if (value === undefined) return;
    if (!value.isWellFormed()) {
      throw new HeraldError('INVALID_ENVELOPE', `CloudEvent attribute "${name}" is not well-formed Unicode`, {
        details: { attribute: name },
      });
    }
    headers.append(name, encodeHeaderValue(value));
  };
  for (const name of HEADER_ATTRIBUTES) put(HEADER_PREFIX + name, event[name]);
  put(CONTENT_TYPE_HEADER, event.datacontenttype);
  for (const [name, value] of Object.entries(event.extensions ?? {})) put(HEADER_PREFIX + name, value);
  if (event.data === undefined) headers.append(NO_DATA_HEADER, 'none');
  // A redriven event is the same event appended again on purpose: its redrive count (the
  // `dlredrive` extension) is part of the key, so the server stores it even within the
  // duplicate window, while a retried publish of the same redrive is still stored once.
  const redriven = event.extensions?.[REDRIVE_ATTRIBUTE];
  const msgId = `${encodeHeaderValue(event.source)} ${encodeHeaderValue(event.id)}${
    redriven === undefined ? '' : ` redrive-${encodeHeaderValue(redriven)}`
  }`;
  headers.append(MSG_ID_HEADER, msgId);
  const data = event.data === undefined ? new Uint8Array(0) : new Uint8Array(event.data);
  return { headers, data, msgId, bytes: headerBlockBytes(headers) + data.byteLength };
}

/** Size of the header block as NATS writes it: `NATS/1.0`, one `name: value` line each, a blank line. */
function headerBlockBytes(headers: MsgHdrs): number {
  let text = 'NATS/1.0';
  for (const [name, values] of headers) for (const value of values) text += `\r\n${name}: ${value}`;
  return encoder.encode(`${text}\r\n\r\n`).byteLength;
}

/**
 * Decodes a NATS message into a CloudEvent: binary mode (`ce-*` headers), or structured mode
 * (the CloudEvents NATS binding 1.0.2: a JSON event as the payload) when there is no
 * `ce-specversion` header and `content-type` is absent or `application/cloudevents+json`.
 *
 * Lenient where nothing is lost: header names match case-insensitively and `ce-*` headers
 * whose names are not valid extension names are ignored. Anything that is not a valid
 * CloudEvent throws `DECODE_FAILED`.
 */
export function decodeCloudEvent(headers: MsgHdrs | undefined, payload: Uint8Array): CloudEvent {
  const attributes = new Map<string, string>();
  let noData = false;
  for (const [rawName, values] of headers ?? []) {
    const name = rawName.toLowerCase();
    const value = values[0];
    if (value === undefined) continue;
    if (name === NO_DATA_HEADER.toLowerCase()) {
      noData = value === 'none';
      continue;
    }
    if (name !== CONTENT_TYPE_HEADER && !name.startsWith(HEADER_PREFIX)) continue;
    const attribute = name === CONTENT_TYPE_HEADER ? 'datacontenttype' : name.slice(HEADER_PREFIX.length);
    if (!attributes.has(attribute)) attributes.set(attribute, decodeHeaderValue(value, rawName));
  }
  if (!attributes.has('specversion')) {
    const contentType = attributes.get('datacontenttype');
    if (contentType === undefined || isStructuredContentType(contentType))
      return decodeStructuredCloudEvent(payload);
    throw decodeFailed('the message has no ce-specversion header and is not a structured-mode CloudEvent');
  }
  const event: Record<string, unknown> = {};
  const extensions: Record<string, string> = {};
  let hasExtensions = false;
  for (const [name, value] of attributes) {
    if (KNOWN_ATTRIBUTES.has(name)) {
      if (name !== 'data' && name !== 'data_base64') event[name] = value;
    } else if (EXTENSION_NAME.test(name)) {
      extensions[name] = value;
      hasExtensions = true;
    }
  }
  if (hasExtensions) event['extensions'] = extensions;
  if (!noData) event['data'] = new Uint8Array(payload);
  return checked(event as unknown as CloudEvent);
}

function checked(event: CloudEvent): CloudEvent {
  try {
    assertValidEnvelope(event);
  } catch (cause) {
    if (isHeraldError(cause, 'DECODE_FAILED')) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw decodeFailed(`the message is not a valid CloudEvent: ${reason}`, cause);
  }
  return event;
}

function decodeFailed(message: string, cause?: unknown): HeraldError {
  return new HeraldError('DECODE_FAILED', message, cause === undefined ? {} : { cause });
}
