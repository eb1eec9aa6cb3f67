// How the API shows an event: every attribute as text, and the data as UTF-8 text when it is
// valid UTF-8, else base64. Never as markup: the console renders it as text.
import type { StoredEvent } from '@herald/core';

/** An event as the API answers it. */
export interface EventView {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** ISO 8601: when the log appended it. */
  readonly timestamp: string;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject?: string;
  readonly time?: string;
  readonly key?: string;
  /** Extension attributes, with `traceparent`, `tracestate` and `dataschema` when set. */
  readonly extensions: Readonly<Record<string, string>>;
  readonly dataContentType?: string;
  readonly data: string;
  readonly dataEncoding: 'utf8' | 'base64';
}

const strict = new TextDecoder('utf-8', { fatal: true });

export function eventView(event: StoredEvent): EventView {
  const extensions: Record<string, string> = { ...event.extensions };
  if (event.traceparent !== undefined) extensions['traceparent'] = event.traceparent;
  if (event.tracestate !== undefined) extensions['tracestate'] = event.tracestate;
  if (event.dataschema !== undefined) extensions['dataschema'] = event.dataschema;
  const { data, dataEncoding } = dataOf(event.data);
  return {
    topic: event.topic,
    partition: event.partition,
    offset: event.offset,
    timestamp: new Date(event.timestamp).toISOString(),
    id: event.id,
    type: event.type,
    source: event.source,
    ...(event.subject === undefined ? {} : { subject: event.subject }),
    ...(event.time === undefined ? {} : { time: event.time }),
    ...(event.partitionkey === undefined ? {} : { key: event.partitionkey }),
    extensions,
    ...(event.datacontenttype === undefined ? {} : { dataContentType: event.datacontenttype }),
    data,
    dataEncoding,
  };
}

function dataOf(bytes: Uint8Array | undefined): { data: string; dataEncoding: 'utf8' | 'base64' } {
  if (bytes === undefined) return { data: '', dataEncoding: 'utf8' };
  try {
    return { data: strict.decode(bytes), dataEncoding: 'utf8' };
  } catch {
    return {
      data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
      dataEncoding: 'base64',
    };
  }
}

/** The text `text` search looks in: the data as UTF-8 (invalid bytes replaced). */
export function dataText(event: StoredEvent): string {
  return event.data === undefined ? '' : new TextDecoder().decode(event.data);
}
