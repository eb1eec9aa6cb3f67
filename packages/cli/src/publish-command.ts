import { randomUUID } from 'node:crypto';
import type { CloudEvent } from '@herald/core';
import { EXIT_OK, UsageError, expectPositionals, parseCommandLine } from './arguments.ts';
import type { CommandContext } from './command-context.ts';

/** Help of `herald publish`. */
export const PUBLISH_HELP = `Usage:
  herald publish <topic> --type <type> [--key <key>] [--source <uri>] [--subject <s>] [--data <json>]
  echo '<json>' | herald publish <topic> --type <type> [...]

Appends one CloudEvent to <topic> and prints its partition and offset.

The data is a JSON document given with --data or, without --data, read whole from standard
input. It must be valid JSON; it is stored as the UTF-8 text given (surrounding whitespace
removed) with datacontenttype application/json.

Options:
  --type <type>      CloudEvents type, e.g. dev.herald.orders.order-placed.v1 (required)
  --key <key>        Partition key: events with the same key go to the same partition, in order.
                     Without a key, events are spread over the partitions.
  --source <uri>     CloudEvents source (default /herald-cli)
  --subject <s>      CloudEvents subject
  --data <json>      The event data (write --data=<json> if it starts with "-")
  --json             Print {"id","topic","partition","offset","timestamp"} instead of a sentence
  -h, --help         Show this help.

The event id is a random UUID and its time is now.
`;

const COMMAND = 'herald publish';
const DEFAULT_SOURCE = '/herald-cli';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** `herald publish <topic> …`: appends one JSON event. */
export async function runPublishCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    type: { type: 'string' },
    key: { type: 'string' },
    source: { type: 'string' },
    subject: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(PUBLISH_HELP);
    return EXIT_OK;
  }
  const [topic] = expectPositionals(COMMAND, positionals, ['<topic>']);
  const type = nonEmpty('--type', values.type);
  if (type === undefined) throw new UsageError(COMMAND, 'missing --type <type>');
  const source = nonEmpty('--source', values.source) ?? DEFAULT_SOURCE;
  const subject = nonEmpty('--subject', values.subject);
  const text = values.data ?? (await readDataFromStdin(context));
  const data = jsonBytes(text, values.data === undefined ? 'standard input' : '--data');

  const now = context.io.now?.() ?? Date.now();
  const event: { -readonly [K in keyof CloudEvent]: CloudEvent[K] } = {
    specversion: '1.0',
    id: randomUUID(),
    source,
    type,
    time: new Date(now).toISOString(),
    datacontenttype: 'application/json',
    data,
  };
  if (values.key !== undefined) event.partitionkey = values.key;
  if (subject !== undefined) event.subject = subject;

  const result = await context.withLog((log) => log.append(topic!, event));
  if (values.json === true) {
    await context.out(
      JSON.stringify({
        id: event.id,
        topic: result.topic,
        partition: result.partition,
        offset: result.offset,
        timestamp: result.timestamp,
      }),
    );
  } else {
    await context.out(
      `published ${event.id} to ${result.topic} partition ${result.partition} offset ${result.offset}`,
    );
  }
  return EXIT_OK;
}

function nonEmpty(option: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '')
    throw new UsageError(COMMAND, `${option} must not be empty`);
  return value;
}

async function readDataFromStdin(context: CommandContext): Promise<string> {
  const bytes = await context.io.readStdin?.();
  if (bytes === undefined) {
    throw new UsageError(COMMAND, 'no data: pass --data <json> or pipe JSON into standard input');
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new UsageError(COMMAND, 'standard input is not UTF-8 text');
  }
}

/** Checks that `text` is one JSON document and returns it as UTF-8 bytes, trimmed. */
function jsonBytes(text: string, origin: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed === '')
    throw new UsageError(COMMAND, `no data: ${origin} is empty; it must be a JSON document`);
  try {
    JSON.parse(trimmed);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(COMMAND, `${origin} is not valid JSON: ${reason}`);
  }
  return encoder.encode(trimmed);
}
