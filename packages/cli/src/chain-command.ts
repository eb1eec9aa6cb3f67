import { writeFile } from 'node:fs/promises';
import { attributesOf, causationOf, correlationOf } from '@herald/core';
import { buildChain, byAppend, committedOffsets } from '@herald/core/ops';
import type { Chain, ChainNode } from '@herald/core/ops';
import type { EventLog, ReadPosition, StoredEvent } from '@herald/core';
import {
  EXIT_FAILURE,
  EXIT_OK,
  expectPositionals,
  parseCommandLine,
  parseSince,
  printable,
} from './arguments.ts';
import type { CommandContext } from './command-context.ts';
import { isForeign, tailEvents } from './tail-command.ts';

/** Help of `herald chain`. */
export const CHAIN_HELP = `Usage:
  herald chain <event id | correlation id | key> [--since <time>] [--topic <name>]...
               [--json] [--export <file>]

Follows causation across topics. Finds the events the argument names (the event with that id,
the events of that correlation id, or the events with that partition key), then every event of
their chains (the same correlationid), and prints each chain as a tree: every event under the
event whose handling emitted it (causationid), with the time the log appended it, the consumer
groups whose committed offset is past it, where it was dead-lettered and where it was redriven.
Reading never joins a consumer group.

Options:
  --since <time>    Search only events appended at or after <time>: an ISO 8601 timestamp or a
                    duration back from now (30m, 2h, 1d). Default: every retained event.
  --topic <name>    Search only this topic (repeatable). Default: every topic but Herald's own
                    (herald.*).
  --json            The chains as one JSON document.
  --export <file>   Also write the chains' events to <file>: one CloudEvent JSON per line, data
                    as data_base64 (the exact bytes), with topic, partition, offset and the
                    topic's partition count ("partitions"). 'herald replay <file> --into <log>'
                    loads them into another log.
  -h, --help        Show this help.

Exit status: 0 when a chain was found, 1 when nothing matched.
`;

const COMMAND = 'herald chain';

/** A parsed `herald chain` command line. */
export interface ChainArguments {
  readonly query: string;
  readonly from: ReadPosition;
  readonly topics: readonly string[] | undefined;
  readonly json: boolean;
  readonly exportPath: string | undefined;
}

/** Parses `herald chain` arguments; undefined means `--help` was asked for. */
export function parseChainArguments(args: readonly string[], now: number): ChainArguments | undefined {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    since: { type: 'string' },
    topic: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    export: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return undefined;
  const [query] = expectPositionals(COMMAND, positionals, ['<event id | correlation id | key>']);
  return {
    query: query!,
    from: values.since === undefined ? 'earliest' : { timestamp: parseSince(COMMAND, values.since, now) },
    topics: values.topic,
    json: values.json === true,
    exportPath: values.export,
  };
}

export type { Chain, ChainDeadLetter, ChainNode } from '@herald/core/ops';

/**
 * Finds the chains `query` names in `topics` (read from `from`, without a consumer group) and
 * builds their trees. Two reads of every topic: the first finds the correlation ids (an event
 * with id `query`, events of correlation `query`, events with key `query`), the second collects
 * every event of those correlations. Records that are not CloudEvents are passed over.
 */
export async function findChains(
  log: EventLog,
  query: string,
  options: { readonly topics: readonly string[]; readonly from: ReadPosition },
): Promise<Chain[]> {
  const correlations = new Set<string>();
  for (const topic of options.topics) {
    for await (const item of tailEvents(log, topic, { from: options.from, follow: false })) {
      if (isForeign(item)) continue;
      const correlation = correlationOf(item);
      if (item.id === query || correlation === query || item.partitionkey === query)
        correlations.add(correlation);
    }
  }
  if (correlations.size === 0) return [];
  const members = new Map<string, StoredEvent[]>();
  for (const topic of options.topics) {
    for await (const item of tailEvents(log, topic, { from: options.from, follow: false })) {
      if (isForeign(item)) continue;
      const correlation = correlationOf(item);
      if (!correlations.has(correlation)) continue;
      let list = members.get(correlation);
      if (list === undefined) members.set(correlation, (list = []));
      list.push(item);
    }
  }
  const committed = await committedOffsets(log);
  return [...members.entries()]
    .map(([correlationId, events]) => buildChain(correlationId, events.sort(byAppend), committed))
    .sort((a, b) => byAppend(a.events[0]!, b.events[0]!));
}

/** `herald chain <query> …`: prints the causation chains the query names. */
export async function runChainCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const now = context.io.now?.() ?? Date.now();
  const parsed = parseChainArguments(args, now);
  if (parsed === undefined) {
    await context.out(CHAIN_HELP);
    return EXIT_OK;
  }
  return context.withLog(async (log) => {
    const topics =
      parsed.topics ??
      (await log.listTopics()).map((topic) => topic.name).filter((name) => !name.startsWith('herald.'));
    const chains = await findChains(log, parsed.query, { topics, from: parsed.from });
    if (chains.length === 0) {
      await context.io.stderr(
        `herald chain: no event with id, correlation id or key "${printable(parsed.query)}" in ${topics.length} topic(s)\n`,
      );
      return EXIT_FAILURE;
    }
    if (parsed.exportPath !== undefined) await writeFile(parsed.exportPath, await exportLines(log, chains));
    if (parsed.json)
      await context.out(JSON.stringify({ query: parsed.query, chains: chains.map(chainJson) }));
    else for (const chain of chains) await context.out(formatChain(chain));
    return EXIT_OK;
  });
}

/** The export file: every event of the chains in append order, one JSON document per line. */
async function exportLines(log: EventLog, chains: readonly Chain[]): Promise<string> {
  const partitions = new Map<string, number>();
  const lines: string[] = [];
  for (const event of chains.flatMap((chain) => chain.events).sort(byAppend)) {
    let count = partitions.get(event.topic);
    if (count === undefined)
      partitions.set(event.topic, (count = (await log.describeTopic(event.topic)).partitions));
    lines.push(JSON.stringify(exportJson(event, count)));
  }
  return `${lines.join('\n')}\n`;
}

/** One exported event: CloudEvents JSON with the exact data bytes, and where it was. */
export function exportJson(event: StoredEvent, partitions: number): Record<string, unknown> {
  const json: Record<string, unknown> = { ...attributesOf(event) };
  if (event.data !== undefined)
    json['data_base64'] = Buffer.from(
      event.data.buffer,
      event.data.byteOffset,
      event.data.byteLength,
    ).toString('base64');
  json['topic'] = event.topic;
  json['partition'] = event.partition;
  json['offset'] = event.offset;
  json['partitions'] = partitions;
  return json;
}

function nodeJson(node: ChainNode): Record<string, unknown> {
  const { event } = node;
  return {
    id: event.id,
    type: event.type,
    topic: event.topic,
    partition: event.partition,
    offset: event.offset,
    appendedAt: new Date(event.timestamp).toISOString(),
    ...(event.partitionkey === undefined ? {} : { key: event.partitionkey }),
    ...(causationOf(event) === undefined ? {} : { causationid: causationOf(event) }),
    handledBy: node.handledBy,
    deadLetters: node.deadLetters,
    redrives: node.redrives.map((copy) => ({
      topic: copy.topic,
      partition: copy.partition,
      offset: copy.offset,
      appendedAt: new Date(copy.timestamp).toISOString(),
    })),
    caused: node.caused.map(nodeJson),
  };
}

function chainJson(chain: Chain): Record<string, unknown> {
  return { correlationid: chain.correlationId, events: chain.events.length, tree: chain.roots.map(nodeJson) };
}

/** A chain as text: a header line, then one line per event, indented under its cause. */
export function formatChain(chain: Chain): string {
  const start = chain.events[0]!.timestamp;
  const lines = [`chain ${printable(chain.correlationId)}: ${chain.events.length} event(s)`];
  const visit = (node: ChainNode, prefix: string, last: boolean, root: boolean) => {
    const { event } = node;
    const branch = root ? '' : last ? '└─ ' : '├─ ';
    const at = root ? new Date(event.timestamp).toISOString() : `+${event.timestamp - start} ms`;
    const key = event.partitionkey === undefined ? '' : ` key=${printable(event.partitionkey)}`;
    const handled =
      node.handledBy.length === 0 ? 'handled by no group yet' : `handled by ${node.handledBy.join(', ')}`;
    lines.push(
      `${prefix}${branch}${printable(event.type)} ${printable(event.topic)}/${event.partition}@${event.offset} ${at} id=${printable(event.id)}${key} · ${handled}`,
    );
    const inner = root ? prefix : `${prefix}${last ? '   ' : '│  '}`;
    for (const letter of node.deadLetters) {
      lines.push(
        `${inner}✗ dead-lettered by ${printable(letter.group)} after ${letter.attempts} attempt(s): ${printable(letter.code)} ${printable(letter.error)} → ${printable(letter.topic)}/${letter.partition}@${letter.offset}`,
      );
    }
    for (const copy of node.redrives) {
      lines.push(
        `${inner}↻ redriven → ${printable(copy.topic)}/${copy.partition}@${copy.offset} +${copy.timestamp - start} ms`,
      );
    }
    node.caused.forEach((child, i) => visit(child, inner, i === node.caused.length - 1, false));
  };
  for (const root of chain.roots) visit(root, '', true, true);
  return lines.join('\n');
}
