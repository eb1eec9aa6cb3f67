import { Buffer } from 'node:buffer';
import { HeraldError, isHeraldError } from './errors.ts';
import { EXTENSION_NAME, KNOWN_ATTRIBUTES, assertValidEnvelope } from './envelope.ts';
import type { CloudEvent } from './envelope.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * Decodes a CloudEvent in the CloudEvents JSON event format (structured content mode), as
 * other producers put it in a Kafka record value or a NATS message payload. Every backend's
 * binding reads structured mode through this one function, so an event decodes to the same
 * bytes whichever log it came from:
 *
 * - `data_base64` is decoded from base64;
 * - `data` that is a JSON string, with a `datacontenttype` that is not JSON, is that text;
 * - any other `data` is a JSON value: its bytes are its JSON text, and `datacontenttype`
 *   defaults to `application/json`.
 *
 * Attributes must be strings; other members with valid extension names become extensions,
 * the rest are ignored. Anything that is not a valid CloudEvent throws `DECODE_FAILED`.
 *
 * @example decodeStructuredCloudEvent(new TextEncoder().encode('{"specversion":"1.0","id":"1","source":"/s","type":"t"}'))
 */
export function decodeStructuredCloudEvent(payload: Uint8Array): CloudEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(payload));
  } catch (cause) {
    throw decodeFailed('a structured-mode CloudEvent must be a UTF-8 JSON document', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw decodeFailed('a structured-mode CloudEvent must be a JSON object');
  }
  const event: Record<string, unknown> = {};
  const extensions: Record<string, string> = {};
  let hasExtensions = false;
  for (const [name, value] of Object.entries(parsed)) {
    if (name === 'data' || name === 'data_base64') continue;
    if (typeof value !== 'string') {
      throw decodeFailed(`attribute "${name}" of a structured-mode CloudEvent is not a string`);
    }
    if (KNOWN_ATTRIBUTES.has(name)) event[name] = value;
    else if (EXTENSION_NAME.test(name)) {
      extensions[name] = value;
      hasExtensions = true;
    }
  }
  const body = parsed as { data?: unknown; data_base64?: unknown };
  const contentType = typeof event['datacontenttype'] === 'string' ? event['datacontenttype'] : '';
  if (typeof body.data_base64 === 'string') {
    event['data'] = new Uint8Array(Buffer.from(body.data_base64, 'base64'));
  } else if (typeof body.data === 'string' && !/json/i.test(contentType)) {
    event['data'] = encoder.encode(body.data);
  } else if (body.data !== undefined) {
    event['data'] = encoder.encode(JSON.stringify(body.data));
    event['datacontenttype'] ??= 'application/json';
  }
  if (hasExtensions) event['extensions'] = extensions;
  try {
    assertValidEnvelope(event as unknown as CloudEvent);
  } catch (cause) {
    if (isHeraldError(cause, 'DECODE_FAILED')) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw decodeFailed(`the structured-mode CloudEvent is not valid: ${reason}`, cause);
  }
  return event as unknown as CloudEvent;
}

function decodeFailed(message: string, cause?: unknown): HeraldError {
  return new HeraldError('DECODE_FAILED', message, cause === undefined ? {} : { cause });
}
