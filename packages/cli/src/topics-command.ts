import type { CreateTopicOptions, RetentionPolicy } from '@herald/core';
import { EXIT_OK, UsageError, expectPositionals, parseCommandLine, parseInteger } from './arguments.ts';
import type { CommandContext } from './command-context.ts';
import { formatTable } from './format-table.ts';

/** Help of `herald topics`. */
export const TOPICS_HELP = `Usage:
  herald topics create <name> --partitions <n> [--retention-ms <ms>] [--retention-bytes <n>]
  herald topics list [--json]
  herald topics describe <name> [--json]

Commands:
  create     Create a topic. --partitions is required; it fixes how many consumers of one
             group can work in parallel, and which partition each key lands in.
             --retention-ms <ms>     events older than this may be deleted
             --retention-bytes <n>   oldest events may be deleted while a partition is larger
             Without retention options, events are kept forever.
  list       Topics with their partition count and retention.
  describe   Each partition with its earliest retained offset, its latest offset (the offset the
             next event will get) and the number of events it holds.

Options:
  --json     Print JSON instead of a table.
  -h, --help Show this help.
`;

const COMMAND = 'herald topics';

/** `herald topics …`: create, list and describe topics. */
export async function runTopicsCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'create':
      return createTopic(rest, context);
    case 'list':
      return listTopics(rest, context);
    case 'describe':
      return describeTopic(rest, context);
    case '-h':
    case '--help':
    case 'help':
      await context.out(TOPICS_HELP);
      return EXIT_OK;
    case undefined:
      throw new UsageError(COMMAND, 'missing subcommand: create, list or describe');
    default:
      throw new UsageError(COMMAND, `unknown subcommand "${subcommand}": expected create, list or describe`);
  }
}

async function createTopic(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} create`;
  const { values, positionals } = parseCommandLine(command, args, {
    partitions: { type: 'string' },
    'retention-ms': { type: 'string' },
    'retention-bytes': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(TOPICS_HELP);
    return EXIT_OK;
  }
  const [name] = expectPositionals(command, positionals, ['<name>']);
  if (values.partitions === undefined) throw new UsageError(command, 'missing --partitions <n>');
  const partitions = parseInteger(command, '--partitions', values.partitions, 1);
  const retention: { ms?: number; bytes?: number } = {};
  if (values['retention-ms'] !== undefined) {
    retention.ms = parseInteger(command, '--retention-ms', values['retention-ms'], 1);
  }
  if (values['retention-bytes'] !== undefined) {
    retention.bytes = parseInteger(command, '--retention-bytes', values['retention-bytes'], 1);
  }
  const options: CreateTopicOptions =
    Object.keys(retention).length > 0 ? { partitions, retention } : { partitions };
  const topic = await context.withLog((log) => log.createTopic(name!, options));
  await context.out(
    `created topic ${topic.name} with ${topic.partitions} partition${topic.partitions === 1 ? '' : 's'}, retention ${describeRetention(topic.retention)}`,
  );
  return EXIT_OK;
}

async function listTopics(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} list`;
  const { values, positionals } = parseCommandLine(command, args, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(TOPICS_HELP);
    return EXIT_OK;
  }
  expectPositionals(command, positionals, []);
  const topics = await context.withLog((log) => log.listTopics());
  if (values.json === true) {
    await context.out(JSON.stringify(topics));
  } else if (topics.length === 0) {
    await context.out('no topics');
  } else {
    const rows = topics.map((t) => [
      t.name,
      String(t.partitions),
      optional(t.retention.ms),
      optional(t.retention.bytes),
    ]);
    await context.out(formatTable([['TOPIC', 'PARTITIONS', 'RETENTION_MS', 'RETENTION_BYTES'], ...rows]));
  }
  return EXIT_OK;
}

async function describeTopic(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} describe`;
  const { values, positionals } = parseCommandLine(command, args, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(TOPICS_HELP);
    return EXIT_OK;
  }
  const [name] = expectPositionals(command, positionals, ['<name>']);
  const topic = await context.withLog((log) => log.describeTopic(name!));
  if (values.json === true) {
    await context.out(JSON.stringify(topic));
    return EXIT_OK;
  }
  const header = formatTable([
    ['topic', topic.name],
    ['partitions', String(topic.partitions)],
    ['retention', describeRetention(topic.retention)],
  ]);
  const partitions = formatTable([
    ['PARTITION', 'EARLIEST', 'LATEST', 'EVENTS'],
    ...topic.partitionInfo.map((p) => [
      String(p.partition),
      String(p.earliest),
      String(p.latest),
      String(p.latest - p.earliest),
    ]),
  ]);
  await context.out(`${header}\n\n${partitions}`);
  return EXIT_OK;
}

function optional(value: number | undefined): string {
  return value === undefined ? '-' : String(value);
}

function describeRetention(retention: RetentionPolicy): string {
  const parts: string[] = [];
  if (retention.ms !== undefined) parts.push(`ms=${retention.ms}`);
  if (retention.bytes !== undefined) parts.push(`bytes=${retention.bytes}`);
  return parts.length === 0 ? 'forever' : parts.join(' ');
}
