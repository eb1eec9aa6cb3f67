import { Buffer } from 'node:buffer';
import type { CloudEvent } from '../envelope.ts';
import { attributesOf } from '../envelope.ts';
import { HeraldError } from '../errors.ts';

/**
 * The size of an event as a record: the UTF-8 bytes of its attribute names and values plus its
 * data. A backend whose wire format measures differently (headers, JSON columns) checks its
 * own measure against its limit with {@link assertRecordSize}.
 */
export function recordBytes(event: CloudEvent): number {
  let bytes = event.data?.byteLength ?? 0;
  for (const [name, value] of Object.entries(attributesOf(event))) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  return bytes;
}

/**
 * Throws TOO_LARGE, naming the backend (and the setting that sets its limit, when there is
 * one), when a record of `bytes` exceeds `maxRecordBytes`. Called before anything is written,
 * so a batch holding one oversized event stores nothing.
 *
 * @example
 * assertRecordSize(event, recordBytes(event), log.capabilities.maxRecordBytes, 'memory');
 */
export function assertRecordSize(
  event: Pick<CloudEvent, 'id'>,
  bytes: number,
  maxRecordBytes: number,
  backend: string,
  setting?: string,
): void {
  if (bytes <= maxRecordBytes) return;
  throw new HeraldError(
    'TOO_LARGE',
    `event ${event.id} is ${bytes} bytes; the ${backend} log accepts at most ${maxRecordBytes}` +
      (setting === undefined ? '' : ` (${setting})`),
    { details: { id: event.id, bytes, maxRecordBytes } },
  );
}
