import { attributesOf } from '@herald/core';
import type { StoredEvent } from '@herald/core';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NOT_DECODED: unique symbol = Symbol('not decoded');

/** True for `application/json`, `text/json` and any `…+json` media type, parameters ignored. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return mediaType === 'application/json' || mediaType === 'text/json' || mediaType.endsWith('+json');
}

/** The event's data as a JSON value when its content type is JSON and the bytes parse; else undefined. */
export function decodeJsonData(event: StoredEvent): { readonly value: unknown } | undefined {
  if (event.data === undefined || !isJsonContentType(event.datacontenttype)) return undefined;
  const value = tryParse(event.data);
  return value === NOT_DECODED ? undefined : { value };
}

function tryParse(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown;
  } catch {
    return NOT_DECODED;
  }
}

/**
 * A stored event in the CloudEvents JSON event format: the context attributes and extensions
 * under their own names, `data` as a JSON value when `datacontenttype` is JSON and the bytes
 * parse, otherwise the exact bytes as `data_base64`; plus where the event sits in the log as
 * `topic`, `partition` and `offset` (these win over extensions of the same names).
 *
 * @example JSON.stringify(toCloudEventJson(event)) // one line of `herald tail --json`
 */
export function toCloudEventJson(event: StoredEvent): Record<string, unknown> {
  const json: Record<string, unknown> = { ...attributesOf(event) };
  if (event.data !== undefined) {
    const decoded = decodeJsonData(event);
    if (decoded !== undefined) json['data'] = decoded.value;
    else
      json['data_base64'] = Buffer.from(
        event.data.buffer,
        event.data.byteOffset,
        event.data.byteLength,
      ).toString('base64');
  }
  json['topic'] = event.topic;
  json['partition'] = event.partition;
  json['offset'] = event.offset;
  return json;
}
