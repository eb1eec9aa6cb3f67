import { setTimeout as delay } from 'node:timers/promises';
import { HeraldError, isHeraldError } from '@herald/core';
import type { EventLog, ForeignRecordDetails, ReadPosition, StoredEvent } from '@herald/core';
import {
  EXIT_OK,
  UsageError,
  expectPositionals,
  parseCommandLine,
  parseInteger,
  parseSince,
  printable,
} from './arguments.ts';
import { decodeJsonData, toCloudEventJson } from './cloud-event-json.ts';
import type { CommandContext } from './command-context.ts';

/** Help of `herald tail`. */
export const TAIL_HELP = `Usage:
  herald tail <topic> [--from-beginning | --from-end | --offset <n> | --since <time>]
                      [--partition <n>] [--follow] [--limit <n>] [--json]

Prints the events of <topic>. Reading never joins a consumer group, so tail never moves any
group's committed position.

Where to start (one of; like kcat, the default is the beginning):
  --from-beginning   The oldest retained event of each partition (default).
  --from-end         Only events appended after tail starts (use with --follow).
  --offset <n>       Offset <n> in every partition read (see --partition).
  --since <time>     The first event appended at or after <time>: an ISO 8601 timestamp
                     (2025-01-31T12:00:00Z; local time without a zone) or a duration back from
                     now (30s, 10m, 2h, 1d, 1h30m).

Options:
  --partition <n>    Read only partition <n> (default: all partitions).
  -f, --follow       After the last event, keep waiting for new ones until interrupted
                     (Ctrl-C / SIGTERM ends tail with status 0). Without it, tail stops at the
                     end the topic had when it started.
  --limit <n>        Stop after <n> events.
  --json             One CloudEvent per line in the CloudEvents JSON format, plus "topic",
                     "partition" and "offset"; data is a JSON value when datacontenttype is
                     JSON and the bytes parse, otherwise "data_base64".
  -h, --help         Show this help.

Order: events of one partition always appear in offset order. Events of different partitions
are merged by the time the log appended them, as far as they have been read; the log itself
gives no order across partitions.

Default output, one line per event:
  <append time> <topic>/<partition>@<offset> <type> [key=<key>] <data>

A record some other producer wrote that is not a CloudEvent is shown as it is, marked, and
tail goes on after it:
  <append time> <topic>/<partition>@<offset> [not a CloudEvent: <why>] [key=<key>] <value>
(with --json: {"topic", "partition", "offset", "foreign": true, "reason", "key_base64",
"value_base64", "headers"}).
`;

const COMMAND = 'herald tail';
const PAGE_SIZE = 500;
const MIN_POLL_MS = 50;
const MAX_POLL_MS = 500;

/** Which partitions `tailEvents` reads, from where, and whether it waits for more. */
export interface TailOptions {
  /** Start of every partition read; `latest` means "after the events present at start". */
  readonly from: ReadPosition;
  /** Only this partition (default: all). */
  readonly partition?: number;
  /** Keep polling for new events instead of stopping at the end present at start. */
  readonly follow: boolean;
  /** Stops following; the iteration then ends without an error. */
  readonly signal?: AbortSignal;
}

/** A parsed `herald tail` command line. */
export interface TailArguments extends Omit<TailOptions, 'signal'> {
  readonly topic: string;
  readonly limit?: number;
  readonly json: boolean;
}

/** Parses `herald tail` arguments; undefined means `--help` was asked for. */
export function parseTailArguments(args: readonly string[], now: number): TailArguments | undefined {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    'from-beginning': { type: 'boolean' },
    'from-end': { type: 'boolean' },
    offset: { type: 'string' },
    since: { type: 'string' },
    partition: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return undefined;
  const [topic] = expectPositionals(COMMAND, positionals, ['<topic>']);
  const starts = (['from-beginning', 'from-end', 'offset', 'since'] as const).filter(
    (name) => values[name] !== undefined && values[name] !== false,
  );
  if (starts.length > 1) {
    throw new UsageError(
      COMMAND,
      `choose one start position, not ${starts.map((s) => `--${s}`).join(' and ')}`,
    );
  }
  let from: ReadPosition = 'earliest';
  if (values['from-end'] === true) from = 'latest';
  if (values.offset !== undefined) from = { offset: parseInteger(COMMAND, '--offset', values.offset, 0) };
  if (values.since !== undefined) from = { timestamp: parseSince(COMMAND, values.since, now) };
  const parsed: { -readonly [K in keyof TailArguments]: TailArguments[K] } = {
    topic: topic!,
    from,
    follow: values.follow === true,
    json: values.json === true,
  };
  if (values.partition !== undefined)
    parsed.partition = parseInteger(COMMAND, '--partition', values.partition, 0);
  if (values.limit !== undefined) parsed.limit = parseInteger(COMMAND, '--limit', values.limit, 1);
  return parsed;
}

/** `herald tail <topic> …`: prints events without joining a consumer group. */
export async function runTailCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const now = context.io.now?.() ?? Date.now();
  const parsed = parseTailArguments(args, now);
  if (parsed === undefined) {
    await context.out(TAIL_HELP);
    return EXIT_OK;
  }
  const options: TailOptions =
    context.io.signal === undefined ? parsed : { ...parsed, signal: context.io.signal };
  await context.withLog(async (log) => {
    let printed = 0;
    for await (const event of tailEvents(log, parsed.topic, options)) {
      const line = isForeign(event)
        ? parsed.json
          ? JSON.stringify(foreignRecordJson(event))
          : formatForeignLine(event)
        : parsed.json
          ? JSON.stringify(toCloudEventJson(event))
          : formatEventLine(event);
      await context.out(line);
      printed += 1;
      if (parsed.limit !== undefined && printed >= parsed.limit) break;
    }
  });
  return EXIT_OK;
}

/** A record of the topic that is not a CloudEvent (another producer wrote it), as stored. */
export interface ForeignRecord extends ForeignRecordDetails {
  readonly topic: string;
  /** Why it is not a CloudEvent. */
  readonly reason: string;
}

/** Whether what `tailEvents` yielded is a foreign record rather than an event. */
export function isForeign(item: StoredEvent | ForeignRecord): item is ForeignRecord {
  return 'reason' in item && 'record' in item;
}

interface Cursor {
  readonly partition: number;
  position: ReadPosition;
  /** Offsets at or past this are not read (the end present at start when not following). */
  readonly end: number;
  buffer: (StoredEvent | ForeignRecord)[];
  /** The last read found nothing new. */
  idle: boolean;
  /** Nothing more will be read from this partition. */
  done: boolean;
}

/**
 * Reads the events of `topic` with `EventLog.read` only (no consumer group), merging partitions
 * by append timestamp: the next event is always the oldest head among partitions that have
 * unread events buffered, and a partition that has events left but an empty buffer is read
 * before anything else is yielded (equal timestamps: lower partition first). Within a partition,
 * offset order is kept. When following, partitions are polled every 50–500 ms (backing off
 * while nothing arrives).
 *
 * A record that is not a CloudEvent is yielded as a {@link ForeignRecord} in its place, and the
 * partition is read on after it.
 *
 * Throws `UNKNOWN_TOPIC` for a missing topic, `INVALID_ARGUMENT` for a partition it lacks.
 */
export async function* tailEvents(
  log: EventLog,
  topic: string,
  options: TailOptions,
): AsyncGenerator<StoredEvent | ForeignRecord, void, undefined> {
  const description = await log.describeTopic(topic);
  if (options.partition !== undefined && options.partition >= description.partitions) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `topic "${topic}" has no partition ${options.partition} (it has ${description.partitions})`,
      { details: { topic, partition: options.partition } },
    );
  }
  const cursors: Cursor[] = description.partitionInfo
    .filter((info) => options.partition === undefined || info.partition === options.partition)
    .map((info) => ({
      partition: info.partition,
      position: options.from === 'latest' ? { offset: info.latest } : options.from,
      end: options.follow ? Number.POSITIVE_INFINITY : info.latest,
      buffer: [],
      idle: false,
      done: false,
    }));
  const { signal } = options;
  const stopped = (): boolean => signal?.aborted === true;
  let pollMs = MIN_POLL_MS;

  while (!stopped()) {
    let fetched = 0;
    for (const cursor of cursors) {
      if (cursor.buffer.length > 0 || cursor.done) continue;
      if (
        typeof cursor.position === 'object' &&
        'offset' in cursor.position &&
        cursor.position.offset >= cursor.end
      ) {
        cursor.done = true;
        continue;
      }
      const events = await readPage(log, topic, cursor.partition, cursor.position);
      const wanted = events.filter((event) => event.offset < cursor.end);
      const last = wanted.at(-1);
      cursor.buffer = wanted;
      cursor.idle = last === undefined;
      if (last !== undefined) cursor.position = { offset: last.offset + 1 };
      else if (!options.follow) cursor.done = true;
      fetched += wanted.length;
    }

    while (!stopped()) {
      if (cursors.some((c) => c.buffer.length === 0 && !c.idle && !c.done)) break;
      let next: Cursor | undefined;
      for (const cursor of cursors) {
        const head = cursor.buffer[0];
        if (head === undefined) continue;
        const best = next?.buffer[0];
        if (best === undefined || head.timestamp < best.timestamp) next = cursor;
      }
      if (next === undefined) break;
      yield next.buffer.shift()!;
    }

    if (cursors.every((c) => c.done && c.buffer.length === 0)) return;
    if (fetched > 0) {
      pollMs = MIN_POLL_MS;
    } else {
      try {
        await delay(pollMs, undefined, signal === undefined ? {} : { signal });
      } catch {
        return;
      }
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
    }
  }
}

/**
 * One page of a partition from `from`. At a foreign record (the read throws DECODE_FAILED with
 * its details) the page is the events before it, then the record itself.
 */
async function readPage(
  log: EventLog,
  topic: string,
  partition: number,
  from: ReadPosition,
): Promise<(StoredEvent | ForeignRecord)[]> {
  try {
    return [...(await log.read(topic, { partition, from, limit: PAGE_SIZE }))];
  } catch (error) {
    const foreign = foreignRecordOf(error, topic, partition);
    if (foreign === undefined) throw error;
    // Where the page started, when `from` was not an offset: the first record's offset.
    let start: number;
    if (typeof from === 'object' && 'offset' in from) start = from.offset;
    else {
      try {
        start = (await log.read(topic, { partition, from, limit: 1 }))[0]?.offset ?? foreign.offset;
      } catch (first) {
        start = foreignRecordOf(first, topic, partition)?.offset ?? foreign.offset;
      }
    }
    const before =
      start < foreign.offset
        ? await log.read(topic, { partition, from: { offset: start }, limit: foreign.offset - start })
        : [];
    return [...before, foreign];
  }
}

function foreignRecordOf(error: unknown, topic: string, partition: number): ForeignRecord | undefined {
  if (!isHeraldError(error, 'DECODE_FAILED')) return undefined;
  const details = error.details as Partial<ForeignRecordDetails>;
  if (details.partition !== partition || typeof details.offset !== 'number' || details.record === undefined)
    return undefined;
  return {
    topic,
    partition,
    offset: details.offset,
    timestamp: details.timestamp ?? 0,
    record: details.record,
    reason: error.message,
  };
}

/** One human-readable line for a foreign record: its position, why, its key and value. */
export function formatForeignLine(record: ForeignRecord): string {
  const position = `${record.topic}/${record.partition}@${record.offset}`;
  const key = record.record.key === null ? '' : ` key=${printable(fromBase64(record.record.key))}`;
  const value = record.record.value === null ? '(no value)' : printable(fromBase64(record.record.value));
  const why = record.reason.replace(/^.*? is not a CloudEvent: /, '');
  return `${new Date(record.timestamp).toISOString()} ${printable(position)} [not a CloudEvent: ${printable(why)}]${key} ${value}`;
}

/** The JSON line of a foreign record for `--json`. */
export function foreignRecordJson(record: ForeignRecord): Record<string, unknown> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    foreign: true,
    reason: record.reason,
    key_base64: record.record.key,
    value_base64: record.record.value,
    headers: record.record.headers,
  };
}

function fromBase64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}

/** One human-readable line: append time, position, type, key and data. */
export function formatEventLine(event: StoredEvent): string {
  const position = `${event.topic}/${event.partition}@${event.offset}`;
  const key = event.partitionkey === undefined ? '' : ` key=${printable(event.partitionkey)}`;
  return `${new Date(event.timestamp).toISOString()} ${printable(position)} ${printable(event.type)}${key} ${describeData(event)}`;
}

function describeData(event: StoredEvent): string {
  if (event.data === undefined) return '(no data)';
  const json = decodeJsonData(event);
  if (json !== undefined) return printable(JSON.stringify(json.value) ?? '');
  return `(${event.data.byteLength} bytes of ${printable(event.datacontenttype ?? 'data')})`;
}
