import { DEAD_LETTER_ATTRIBUTES, isHeraldError, redactUrl } from '@herald/core';
import {
  DEFAULT_MAX_REDRIVES,
  REDRIVE_ATTRIBUTE,
  REDRIVE_COLLECTION,
  deadLetterMetadataOf,
  discard,
  readEntry,
  redrive,
  readPartition,
  redriveRecordId,
} from '@herald/core/ops';
import type { HeraldError, Store, StoredEvent } from '@herald/core';
import type {
  DiscardOutcome,
  DiscardResult,
  RedriveOutcome,
  RedrivePosition,
  RedriveRecord,
  RedriveResult,
} from '@herald/core/ops';
import {
  EXIT_FAILURE,
  confirmed,
  EXIT_OK,
  UsageError,
  expectPositionals,
  parseCommandLine,
  parseInteger,
  parsePosition,
  printable,
} from './arguments.ts';
import { decodeJsonData, toCloudEventJson } from './cloud-event-json.ts';
import { currentActor } from './command-context.ts';
import type { CommandContext } from './command-context.ts';
import { formatTable } from './format-table.ts';

/** Help of `herald dlq`. */
export const DLQ_HELP = `Usage:
  herald dlq list [<dlq-topic>] [--json]
  herald dlq show <dlq-topic> <partition>:<offset> [--json]
  herald dlq redrive <dlq-topic> (<partition>:<offset>... | --all) [--again] [--max-redrives <n>]
                     [--dry-run] [--yes] [--idempotency-key <key>] [--actor <name>] [--force]
                     [--best-effort] [--json]
  herald dlq discard <dlq-topic> <partition>:<offset>... [--reason <text>] [--dry-run]
                     [--actor <name>] [--json]

Dead-letter topics (<topic>.dead-letter) hold the events a consumer group gave up on, with
the failure as dl* attributes: dlerror, dlcode, dlattempts, dlgroup, and where the event was
(dltopic, dlpartition, dloffset).

Commands:
  list      Without a topic: the dead-letter topics with their number of entries and how many
            were redriven. With one: its entries (position, id, type, error code, attempts,
            redrives, error).
  show      One entry: every attribute, the failure, its redrives, and the data (as text when
            it is UTF-8, else base64).
  redrive   Appends each entry's original event to its original topic again: the same id,
            attributes, key and data, without the dl* attributes, plus dlredrive=<n> (the
            entry's redrive count). Consumers with the idempotency middleware apply it once.
            --all                 every entry never redriven so far
            --again               redrive entries that were redriven before once more (a plain
                                  request for an entry redriven already is the same request
                                  and does nothing again)
            --max-redrives <n>    redrives allowed per entry (default ${DEFAULT_MAX_REDRIVES}); beyond, it is refused;
                                  above the default it needs --yes (or a yes at the terminal)
            --dry-run             print what would be redriven; change nothing
            -y, --yes             redrive --all, or raise the cap, without asking (needed without
                                  a terminal)
            --idempotency-key <k> the request's key: repeating a request with the same key
                                  redrives each entry at most once
            --actor <name>        who asks, for the audit, before <os user>@<host> (default
                                  HERALD_ACTOR when set)
            --force               redrive entries that were discarded too (else refused)
            --best-effort         redrive although there is no store (see below)
  discard   Gives up on entries for good: each is marked discarded (never redriven again unless
            forced, passed over by --all) and audited, and the key its dead letter parks in its
            group is released: the group handles the events waiting behind it, in their
            original order. Discarding an entry twice does nothing the second time. Needs a
            store. --reason <text> says why (kept with the entry and in the audit); --dry-run
            prints what would be discarded and released; --actor as for redrive.

A dead letter parks its key in its group: the key's later events wait (see 'herald groups
<group>') until the dead letter is redriven and handled, or discarded.

Each redrive or discard is one store transaction with the entry's record (herald.redrives)
and an audit entry (herald.audit): two identical requests, one after the other or at the same
time, are one redrive with one event appended, and the cap holds. The store is HERALD_STORE; on the embedded
SQLite log it defaults to the log's own file. On Kafka and NATS set HERALD_STORE to the
postgres:// store of the services that consume the topic (its outbox publishes the redriven
event to the log once the transaction commits; the command waits for that before it exits).

Without a store a redrive is refused unless --best-effort is given: it is then neither
counted, capped, deduplicated nor audited, and the same request made twice appends the event
twice (the same event id: consumers with the idempotency middleware still apply it once).

Options:
  --json       Print JSON.
  -h, --help   Show this help.

Exit status: 0 done, 1 a redrive was refused or the operation failed, 2 wrong command line.
`;

const COMMAND = 'herald dlq';
const DEAD_LETTER_SUFFIX = '.dead-letter';
const ERROR_WIDTH = 60;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `herald dlq …`: list, show and redrive dead-lettered events. */
export async function runDlqCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'list':
      return listCommand(rest, context);
    case 'show':
      return showCommand(rest, context);
    case 'redrive':
      return redriveCommand(rest, context);
    case 'discard':
      return discardCommand(rest, context);
    case '-h':
    case '--help':
    case 'help':
      await context.out(DLQ_HELP);
      return EXIT_OK;
    case undefined:
      throw new UsageError(COMMAND, 'missing subcommand: list, show, redrive or discard');
    default:
      throw new UsageError(
        COMMAND,
        `unknown subcommand "${printable(subcommand)}": expected list, show, redrive or discard`,
      );
  }
}

/** A parsed `herald dlq redrive` command line. */
export interface RedriveArguments {
  readonly topic: string;
  readonly positions: 'all' | readonly { readonly partition: number; readonly offset: number }[];
  readonly again: boolean;
  readonly maxRedrives: number;
  readonly dryRun: boolean;
  /** `--yes`: a bulk redrive (`--all`) goes ahead without asking. */
  readonly yes: boolean;
  readonly idempotencyKey?: string;
  readonly actor?: string;
  /** `--force`: discarded entries are redriven too. */
  readonly force: boolean;
  /** `--best-effort`: redrive although there is no store to count, cap, deduplicate and audit. */
  readonly bestEffort: boolean;
  readonly json: boolean;
}

/** Parses `herald dlq redrive` arguments; undefined means `--help` was asked for. */
export function parseRedriveArguments(args: readonly string[]): RedriveArguments | undefined {
  const command = `${COMMAND} redrive`;
  const { values, positionals } = parseCommandLine(command, args, {
    all: { type: 'boolean' },
    again: { type: 'boolean' },
    'max-redrives': { type: 'string' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    'idempotency-key': { type: 'string' },
    actor: { type: 'string' },
    force: { type: 'boolean' },
    'best-effort': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return undefined;
  const [topic, ...rest] = positionals;
  if (topic === undefined) throw new UsageError(command, 'missing <dlq-topic>');
  const all = values.all === true;
  if (all && rest.length > 0) {
    throw new UsageError(command, 'give either <partition>:<offset> positions or --all, not both');
  }
  if (!all && rest.length === 0) {
    throw new UsageError(command, 'missing <partition>:<offset> (or --all for every entry never redriven)');
  }
  if (all && values.again === true) {
    throw new UsageError(command, '--again needs positions: --all takes only entries never redriven');
  }
  const parsed: { -readonly [K in keyof RedriveArguments]: RedriveArguments[K] } = {
    topic,
    positions: all ? 'all' : rest.map((value) => parsePosition(command, value)),
    again: values.again === true,
    maxRedrives:
      values['max-redrives'] === undefined
        ? DEFAULT_MAX_REDRIVES
        : parseInteger(command, '--max-redrives', values['max-redrives'], 1),
    dryRun: values['dry-run'] === true,
    yes: values.yes === true,
    force: values.force === true,
    bestEffort: values['best-effort'] === true,
    json: values.json === true,
  };
  const key = values['idempotency-key'];
  if (key !== undefined) {
    if (key.trim() === '') throw new UsageError(command, '--idempotency-key must not be empty');
    parsed.idempotencyKey = key;
  }
  if (values.actor !== undefined) {
    if (values.actor.trim() === '') throw new UsageError(command, '--actor must not be empty');
    parsed.actor = values.actor;
  }
  return parsed;
}

async function listCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} list`;
  const { values, positionals } = parseCommandLine(command, args, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(DLQ_HELP);
    return EXIT_OK;
  }
  const [topic] = expectPositionals(command, positionals, ['<dlq-topic>?']);
  const json = values.json === true;
  return topic === undefined ? listTopics(context, json) : listEntries(context, topic, json);
}

async function listTopics(context: CommandContext, json: boolean): Promise<number> {
  const summaries = await context.withStore(async (log, store) => {
    const topics = (await log.listTopics()).filter((t) => t.name.endsWith(DEAD_LETTER_SUFFIX));
    const out: { topic: string; entries: number; redriven: number | null }[] = [];
    for (const { name } of topics) {
      const description = await log.describeTopic(name);
      const entries = description.partitionInfo.reduce((sum, p) => sum + (p.latest - p.earliest), 0);
      const records = await redriveCounts(store, name);
      out.push({
        topic: name,
        entries,
        redriven: records === undefined ? null : [...records.values()].filter((n) => n > 0).length,
      });
    }
    return out;
  });
  if (json) {
    await context.out(JSON.stringify(summaries));
  } else if (summaries.length === 0) {
    await context.out(`no dead-letter topics (topics named <topic>${DEAD_LETTER_SUFFIX})`);
  } else {
    await context.out(
      formatTable([
        ['TOPIC', 'ENTRIES', 'REDRIVEN'],
        ...summaries.map((s) => [s.topic, String(s.entries), s.redriven === null ? '-' : String(s.redriven)]),
      ]),
    );
  }
  return EXIT_OK;
}

/** One row of `herald dlq list <topic>`. */
export interface DeadLetterRow {
  readonly partition: number;
  readonly offset: number;
  readonly id: string;
  readonly type: string;
  readonly code: string | undefined;
  readonly attempts: number | undefined;
  readonly error: string | undefined;
  /** Redrives recorded for the entry; null without a store (unknown). */
  readonly redrives: number | null;
  /** Whether the entry was discarded; null without a store (unknown). */
  readonly discarded?: boolean | null;
}

async function listEntries(context: CommandContext, topic: string, json: boolean): Promise<number> {
  const rows = await context.withStore(async (log, store) => {
    const counts = await redriveCounts(store, topic);
    const discarded = await discardedEntries(store, topic);
    const description = await log.describeTopic(topic);
    const out: DeadLetterRow[] = [];
    for (const { partition } of description.partitionInfo) {
      for await (const entry of readPartition(log, topic, partition)) {
        const metadata = deadLetterMetadataOf(entry);
        out.push({
          partition: entry.partition,
          offset: entry.offset,
          id: entry.id,
          type: entry.type,
          code: metadata?.code,
          attempts: metadata?.attempts,
          error: metadata?.error,
          redrives:
            counts === undefined
              ? null
              : (counts.get(redriveRecordId(topic, entry.partition, entry.offset)) ?? 0),
          discarded:
            discarded === undefined
              ? null
              : discarded.has(redriveRecordId(topic, entry.partition, entry.offset)),
        });
      }
    }
    return out;
  });
  if (json) {
    await context.out(JSON.stringify(rows));
  } else if (rows.length === 0) {
    await context.out(`${printable(topic)} has no entries`);
  } else {
    await context.out(formatDeadLetterRows(rows));
  }
  return EXIT_OK;
}

/** The table of `herald dlq list <topic>`; long errors are cut (see `herald dlq show`). */
export function formatDeadLetterRows(rows: readonly DeadLetterRow[]): string {
  return formatTable([
    ['POSITION', 'ID', 'TYPE', 'DLCODE', 'ATTEMPTS', 'REDRIVES', 'ERROR'],
    ...rows.map((row) => [
      `${row.partition}:${row.offset}`,
      row.id,
      row.type,
      row.code ?? '-',
      row.attempts === undefined ? '-' : String(row.attempts),
      row.redrives === null ? '-' : `${row.redrives}${row.discarded === true ? ' (discarded)' : ''}`,
      shorten(row.error ?? '-', ERROR_WIDTH),
    ]),
  ]);
}

async function showCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} show`;
  const { values, positionals } = parseCommandLine(command, args, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(DLQ_HELP);
    return EXIT_OK;
  }
  const [topic, at] = expectPositionals(command, positionals, ['<dlq-topic>', '<partition>:<offset>']);
  const position = parsePosition(command, at!);
  const { entry, record, recorded } = await context.withStore(async (log, store) => ({
    entry: await readEntry(log, topic!, position),
    record: await store?.get<RedriveRecord>(
      REDRIVE_COLLECTION,
      redriveRecordId(topic!, position.partition, position.offset),
    ),
    recorded: store !== undefined,
  }));
  if (values.json === true) {
    await context.out(
      JSON.stringify({
        event: toCloudEventJson(entry),
        deadLetter: deadLetterMetadataOf(entry) ?? null,
        redrive: record ?? (recorded ? { count: 0, redrives: [] } : null),
      }),
    );
  } else {
    await context.out(formatEntry(entry, record, recorded));
  }
  return EXIT_OK;
}

/** The text of `herald dlq show`: attributes, failure, redrives, then the data. */
export function formatEntry(
  entry: StoredEvent,
  record: RedriveRecord | undefined,
  recorded: boolean,
): string {
  const metadata = deadLetterMetadataOf(entry);
  const failure = new Set<string>([...Object.values(DEAD_LETTER_ATTRIBUTES), REDRIVE_ATTRIBUTE]);
  const attributes: string[][] = [
    ['entry', `${entry.topic} ${entry.partition}:${entry.offset}`],
    ['appended', new Date(entry.timestamp).toISOString()],
    ['id', entry.id],
    ['type', entry.type],
    ['source', entry.source],
  ];
  for (const name of [
    'time',
    'subject',
    'partitionkey',
    'datacontenttype',
    'dataschema',
    'traceparent',
    'tracestate',
  ] as const) {
    const value = entry[name];
    if (value !== undefined) attributes.push([name, value]);
  }
  for (const [name, value] of Object.entries(entry.extensions ?? {})) {
    if (!failure.has(name)) attributes.push([name, value]);
  }
  const sections = [formatTable(attributes)];

  if (metadata === undefined) {
    sections.push('not a dead-letter entry: it has no dltopic attribute');
  } else {
    const rows: string[][] = [
      [
        'failed in',
        `group ${metadata.group ?? '?'}, ${metadata.topic} ${metadata.partition ?? '?'}:${metadata.offset ?? '?'}`,
      ],
      ['dlcode', metadata.code ?? '-'],
      ['dlattempts', metadata.attempts === undefined ? '-' : String(metadata.attempts)],
      ['first failure', metadata.firstFailure ?? '-'],
      ['last failure', metadata.lastFailure ?? '-'],
    ];
    if (metadata.redriven !== undefined)
      rows.push(['redriven before', `dlredrive=${metadata.redriven} when parked`]);
    sections.push(formatTable(rows));
    sections.push(`dlerror:\n${indent(metadata.error ?? '-')}`);
  }

  if (record?.discarded !== undefined) {
    const { at, actor, reason } = record.discarded;
    sections.push(
      `discarded: ${at} by ${printable(actor)}${reason === undefined ? '' : `: ${printable(reason)}`}`,
    );
  }
  if (!recorded) {
    sections.push('redrives: unknown (this log has no store)');
  } else if (record === undefined || record.count === 0) {
    sections.push('redrives: none');
  } else {
    sections.push(
      `redrives: ${record.count}\n${formatTable(
        record.redrives.map((r) => [
          `  #${r.n}`,
          r.at,
          `by ${r.actor}`,
          r.appended === null ? '' : `to ${r.appended.topic} ${r.appended.partition}:${r.appended.offset}`,
        ]),
      )}`,
    );
  }
  sections.push(formatData(entry));
  return sections.join('\n\n');
}

function formatData(entry: StoredEvent): string {
  const data = entry.data;
  if (data === undefined) return 'data: none';
  const label = `${data.byteLength} byte${data.byteLength === 1 ? '' : 's'}${
    entry.datacontenttype === undefined ? '' : ` of ${printable(entry.datacontenttype)}`
  }`;
  const json = decodeJsonData(entry);
  if (json !== undefined)
    return `data (${label}, JSON):\n${indent(JSON.stringify(json.value, null, 2) ?? '')}`;
  let text: string | undefined;
  try {
    text = utf8.decode(data);
  } catch {
    text = undefined;
  }
  if (text !== undefined) return `data (${label}, text):\n${indent(text)}`;
  return `data (${label}, base64):\n${indent(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'))}`;
}

async function redriveCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const parsed = parseRedriveArguments(args);
  if (parsed === undefined) {
    await context.out(DLQ_HELP);
    return EXIT_OK;
  }
  // A redrive nothing counts repeats itself when the request is repeated: only on purpose.
  if (context.storeUrl === undefined && !parsed.bestEffort && !parsed.dryRun) {
    throw new UsageError(
      `${COMMAND} redrive`,
      `HERALD_LOG=${printable(redactUrl(context.logUrl))} has no store to count, cap, deduplicate and audit redrives: set HERALD_STORE (the postgres:// store whose outbox publishes to this log), or add --best-effort to redrive without one (the same request made twice then appends twice)`,
    );
  }
  // A cap above the default is a decision someone makes on purpose: confirmed, and audited with
  // every redrive it allows.
  if (
    parsed.maxRedrives > DEFAULT_MAX_REDRIVES &&
    !parsed.dryRun &&
    !(await confirmed(
      `${COMMAND} redrive`,
      context.io,
      `raise the redrive cap of ${printable(parsed.topic)} from ${DEFAULT_MAX_REDRIVES} to ${parsed.maxRedrives}`,
      parsed.yes,
    ))
  ) {
    await context.io.stderr('herald: nothing was redriven\n');
    return EXIT_FAILURE;
  }
  if (
    parsed.positions === 'all' &&
    !parsed.dryRun &&
    !(await confirmed(
      `${COMMAND} redrive`,
      context.io,
      `redrive every entry of ${printable(parsed.topic)} never redriven`,
      parsed.yes,
    ))
  ) {
    await context.io.stderr('herald: nothing was redriven\n');
    return EXIT_FAILURE;
  }
  let result: RedriveResult;
  let failure: HeraldError | undefined;
  let recorded = true;
  try {
    result = await context.withStore(async (log, store) => {
      recorded = store !== undefined;
      if (store === undefined) {
        await context.io.stderr(
          `herald: warning: HERALD_LOG=${printable(redactUrl(context.logUrl))} has no store: this redrive is best effort, not counted, capped, deduplicated or audited (consumers with the idempotency middleware still apply each event once)\n`,
        );
      }
      return redrive({
        log,
        ...(store === undefined ? {} : { store }),
        deadLetterTopic: parsed.topic,
        positions: await positionsOf(parsed, store),
        maxRedrives: parsed.maxRedrives,
        dryRun: parsed.dryRun,
        actor: currentActor(parsed.actor),
        force: parsed.force,
        ...(parsed.idempotencyKey === undefined ? {} : { idempotencyKey: parsed.idempotencyKey }),
      });
    });
  } catch (error) {
    const outcomes = isHeraldError(error, 'CONFLICT') ? error.details['outcomes'] : undefined;
    if (!Array.isArray(outcomes)) throw error;
    failure = error as HeraldError;
    result = { deadLetterTopic: parsed.topic, outcomes: outcomes as RedriveOutcome[], recorded, skipped: 0 };
  }

  if (parsed.json) {
    await context.out(JSON.stringify(result));
  } else if (result.outcomes.length === 0) {
    await context.out(
      `nothing to redrive in ${printable(parsed.topic)}${
        result.skipped > 0
          ? `: its ${result.skipped} entr${result.skipped === 1 ? 'y was' : 'ies were'} redriven before (redrive one once more with <partition>:<offset> --again)`
          : ''
      }`,
    );
  } else {
    await context.out(
      result.outcomes
        .map((o) => formatOutcome(parsed.topic, o, parsed.maxRedrives, result.recorded))
        .join('\n'),
    );
  }
  if (failure !== undefined) {
    const hints: string[] = [];
    if (result.outcomes.some((o) => o.reason?.includes('redrive cap') === true)) {
      hints.push('--max-redrives raises the cap');
    }
    if (result.outcomes.some((o) => o.reason?.includes('discarded') === true)) {
      hints.push('--force redrives a discarded entry');
    }
    if (result.outcomes.some((o) => o.reason?.includes('as the request expected') === true)) {
      hints.push(`see 'herald dlq show'; --again redrives it once more`);
    }
    await context.io.stderr(
      `herald: ${printable(failure.message)}${hints.length === 0 ? '' : ` (${hints.join('; ')})`}\n`,
    );
    return EXIT_FAILURE;
  }
  if (result.outcomes.some((o) => o.status === 'refused')) return EXIT_FAILURE;
  return EXIT_OK;
}

/** With `--again`, each position expects the count its record has now. */
async function positionsOf(
  parsed: RedriveArguments,
  store: Store | undefined,
): Promise<'all' | RedrivePosition[]> {
  if (parsed.positions === 'all') return 'all';
  const positions: RedrivePosition[] = [];
  for (const position of parsed.positions) {
    if (!parsed.again || store === undefined) {
      positions.push(position);
      continue;
    }
    const record = await store.get<RedriveRecord>(
      REDRIVE_COLLECTION,
      redriveRecordId(parsed.topic, position.partition, position.offset),
    );
    positions.push({ ...position, expectedCount: record?.count ?? 0 });
  }
  return positions;
}

/** One line per entry of `herald dlq redrive`. */
export function formatOutcome(
  topic: string,
  outcome: RedriveOutcome,
  maxRedrives: number,
  recorded: boolean,
): string {
  const entry = `${printable(topic)} ${outcome.partition}:${outcome.offset} (${printable(outcome.eventId)})`;
  const target = outcome.appended
    ? `${printable(outcome.appended.topic)} partition ${outcome.appended.partition} offset ${outcome.appended.offset}`
    : printable(outcome.topic);
  const count = recorded
    ? `redrive ${outcome.count} of at most ${maxRedrives}`
    : `dlredrive=${outcome.count}`;
  switch (outcome.status) {
    case 'redriven':
      return `redriven ${entry} to ${target} (${count})`;
    case 'planned':
      return `would redrive ${entry} to ${target} (${count})`;
    case 'duplicate':
      return `already redriven ${entry} to ${target} by the same request before (${count}); --again redrives it once more`;
    case 'refused':
      return `refused ${entry}: ${printable(outcome.reason ?? 'refused')}`;
  }
}

async function discardedEntries(store: Store | undefined, topic: string): Promise<Set<string> | undefined> {
  if (store === undefined) return undefined;
  const records = await store.list<RedriveRecord>(REDRIVE_COLLECTION, { prefix: `${topic}/` });
  return new Set(records.filter((r) => r.value.discarded !== undefined).map((r) => r.id));
}

async function redriveCounts(
  store: Store | undefined,
  topic: string,
): Promise<Map<string, number> | undefined> {
  if (store === undefined) return undefined;
  const records = await store.list<RedriveRecord>(REDRIVE_COLLECTION, { prefix: `${topic}/` });
  return new Map(records.map((r) => [r.id, r.value.count]));
}

function shorten(text: string, width: number): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${printable(line)}`)
    .join('\n');
}

/** A parsed `herald dlq discard` command line. */
export interface DiscardArguments {
  readonly topic: string;
  readonly positions: readonly { readonly partition: number; readonly offset: number }[];
  readonly reason?: string;
  readonly dryRun: boolean;
  readonly actor?: string;
  readonly json: boolean;
}

/** Parses `herald dlq discard` arguments; undefined means `--help` was asked for. */
export function parseDiscardArguments(args: readonly string[]): DiscardArguments | undefined {
  const command = `${COMMAND} discard`;
  const { values, positionals } = parseCommandLine(command, args, {
    reason: { type: 'string' },
    'dry-run': { type: 'boolean' },
    actor: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return undefined;
  const [topic, ...rest] = positionals;
  if (topic === undefined) throw new UsageError(command, 'missing <dlq-topic>');
  if (rest.length === 0) throw new UsageError(command, 'missing <partition>:<offset>');
  const parsed: { -readonly [K in keyof DiscardArguments]: DiscardArguments[K] } = {
    topic,
    positions: rest.map((value) => parsePosition(command, value)),
    dryRun: values['dry-run'] === true,
    json: values.json === true,
  };
  if (values.reason !== undefined) {
    if (values.reason.trim() === '') throw new UsageError(command, '--reason must not be empty');
    parsed.reason = values.reason;
  }
  if (values.actor !== undefined) {
    if (values.actor.trim() === '') throw new UsageError(command, '--actor must not be empty');
    parsed.actor = values.actor;
  }
  return parsed;
}

async function discardCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const parsed = parseDiscardArguments(args);
  if (parsed === undefined) {
    await context.out(DLQ_HELP);
    return EXIT_OK;
  }
  const result = await context.withStore(async (log, store): Promise<DiscardResult | undefined> => {
    if (store === undefined) return undefined;
    return discard({
      log,
      store,
      deadLetterTopic: parsed.topic,
      positions: parsed.positions,
      dryRun: parsed.dryRun,
      actor: currentActor(parsed.actor),
      ...(parsed.reason === undefined ? {} : { reason: parsed.reason }),
    });
  });
  if (result === undefined) {
    await context.io.stderr(
      `herald: HERALD_LOG=${printable(redactUrl(context.logUrl))} has no store: a discard must be recorded (set HERALD_STORE)\n`,
    );
    return EXIT_FAILURE;
  }
  if (parsed.json) {
    await context.out(JSON.stringify(result));
  } else {
    await context.out(result.outcomes.map((o) => formatDiscardOutcome(parsed.topic, o)).join('\n'));
  }
  return EXIT_OK;
}

/** One line per entry of `herald dlq discard`. */
export function formatDiscardOutcome(topic: string, outcome: DiscardOutcome): string {
  const entry = `${printable(topic)} ${outcome.partition}:${outcome.offset} (${printable(outcome.eventId)})`;
  const released =
    outcome.released === undefined
      ? ''
      : `; key ${printable(outcome.released.key)} of group ${printable(outcome.released.group)} released, ${outcome.released.count} parked event${outcome.released.count === 1 ? '' : 's'} to handle in order`;
  switch (outcome.status) {
    case 'discarded':
      return `discarded ${entry}${released}`;
    case 'planned':
      return `would discard ${entry}${released.replace('released', 'would be released').replace(' to handle', ' would be handled')}`;
    case 'duplicate':
      return `already discarded ${entry}${outcome.discarded === undefined ? '' : ` at ${outcome.discarded.at} by ${printable(outcome.discarded.actor)}`}`;
  }
}
