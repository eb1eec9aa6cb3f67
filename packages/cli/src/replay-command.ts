import { readFile } from 'node:fs/promises';
import {
  HeraldError,
  decodeStructuredCloudEvent,
  isHeraldError,
  openEventLog,
  redactUrl,
} from '@herald/core';
import type { CloudEvent, EventLog } from '@herald/core';
import { EXIT_OK, UsageError, expectPositionals, parseCommandLine, printable } from './arguments.ts';
import type { CommandContext } from './command-context.ts';

/** Help of `herald replay`. */
export const REPLAY_HELP = `Usage:
  herald replay <file> --into <log url>

Loads events written by 'herald chain --export <file>' into another log, such as a fresh
embedded log on a laptop (--into sqlite:./debug.db), so one service's handlers can run over
exactly that history with effects suppressed and a debugger attached:

  herald chain <order id> --export chain.jsonl
  herald replay chain.jsonl --into sqlite:./debug.db
  HERALD_LOG=sqlite:./debug.db node my-service.ts   # createRouter({ …, effects: 'suppress' })

Every event keeps its attributes and its exact data bytes, and goes to the partition it had,
in the order of the file. Topics are created with the partition count they had; a topic that
exists already must have that count. The whole file is read and checked before anything is
appended: a line that is not an exported event is an error naming the line, and nothing is
loaded.

Options:
  --into <log url>  The log to load into (sqlite:<file>, kafka://…, nats://…, memory:).
  -h, --help        Show this help.
`;

const COMMAND = 'herald replay';

/** One line of an export file: the event and where it was. */
export interface ExportedEvent {
  readonly event: CloudEvent;
  readonly topic: string;
  readonly partition: number;
  readonly partitions: number;
}

/** Members of an export line that say where the event was, not what it is. */
const PLACEMENT = ['topic', 'partition', 'offset', 'partitions'] as const;

/**
 * Parses an export file (`herald chain --export`): one JSON document per non-empty line.
 * Throws `INVALID_ARGUMENT` naming the first line that is not an exported event.
 */
export function parseExport(text: string): ExportedEvent[] {
  const events: ExportedEvent[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const where = `line ${index + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new HeraldError('INVALID_ARGUMENT', `${where} is not JSON`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new HeraldError('INVALID_ARGUMENT', `${where} is not a JSON object`);
    }
    const record = json as Record<string, unknown>;
    const { topic, partition, partitions } = record;
    if (typeof topic !== 'string' || topic === '')
      throw new HeraldError('INVALID_ARGUMENT', `${where} has no "topic"`);
    if (!Number.isSafeInteger(partitions) || (partitions as number) < 1)
      throw new HeraldError('INVALID_ARGUMENT', `${where} has no "partitions" count (a positive integer)`);
    if (
      !Number.isSafeInteger(partition) ||
      (partition as number) < 0 ||
      (partition as number) >= (partitions as number)
    )
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `${where} has no "partition" within its topic's ${String(partitions)}`,
      );
    const attributes = { ...record };
    for (const name of PLACEMENT) delete attributes[name];
    let event: CloudEvent;
    try {
      event = decodeStructuredCloudEvent(new TextEncoder().encode(JSON.stringify(attributes)));
    } catch (error) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `${where} is not a CloudEvent: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    events.push({ event, topic, partition: partition as number, partitions: partitions as number });
  }
  return events;
}

/**
 * Appends `events` to `log`, each to its own partition, in order; creates missing topics with
 * their partition counts first and refuses (before appending anything) a topic that exists with
 * another count. Returns how many events went to how many topics.
 */
export async function loadExport(
  log: EventLog,
  events: readonly ExportedEvent[],
): Promise<{ events: number; topics: number }> {
  const counts = new Map<string, number>();
  for (const { topic, partitions } of events) {
    const seen = counts.get(topic);
    if (seen !== undefined && seen !== partitions)
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `the file gives topic "${topic}" both ${seen} and ${partitions} partitions`,
      );
    counts.set(topic, partitions);
  }
  const existing = new Map((await log.listTopics()).map((topic) => [topic.name, topic.partitions]));
  for (const [topic, partitions] of counts) {
    const has = existing.get(topic);
    if (has !== undefined && has !== partitions) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `topic "${topic}" exists with ${has} partitions; the file's events come from ${partitions}`,
      );
    }
  }
  for (const [topic, partitions] of counts) {
    if (!existing.has(topic)) await log.createTopic(topic, { partitions });
  }
  for (const { event, topic, partition } of events) await log.append(topic, event, { partition });
  return { events: events.length, topics: counts.size };
}

/** `herald replay <file> --into <log url>`. */
export async function runReplayCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    into: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(REPLAY_HELP);
    return EXIT_OK;
  }
  const [file] = expectPositionals(COMMAND, positionals, ['<file>']);
  if (values.into === undefined) throw new UsageError(COMMAND, 'missing --into <log url>');
  let text: string;
  try {
    text = await readFile(file!, 'utf8');
  } catch (error) {
    throw new HeraldError('INVALID_ARGUMENT', `cannot read ${printable(file!)}: ${(error as Error).message}`);
  }
  const events = parseExport(text);
  const target = values.into;
  let log: EventLog;
  try {
    log = await openEventLog(target);
  } catch (error) {
    if (isHeraldError(error)) throw error;
    throw new HeraldError('BACKEND_UNAVAILABLE', `cannot open ${redactUrl(target)}`, { cause: error });
  }
  try {
    const loaded = await loadExport(log, events);
    await context.out(
      `loaded ${loaded.events} event(s) into ${loaded.topics} topic(s) of ${redactUrl(target)}`,
    );
  } finally {
    await log.close();
  }
  return EXIT_OK;
}
