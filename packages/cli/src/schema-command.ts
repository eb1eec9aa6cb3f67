import { readFile } from 'node:fs/promises';
import { HeraldError } from '@herald/core';
import {
  checkStoredEvents,
  definitionsOf,
  loadSystem,
  openSchemaRegistry,
  parseCompatibilityMode,
  parseEventType,
} from '@herald/schemas';
import type {
  CompatibilityMode,
  RegisteredSchema,
  SchemaRegistry,
  SchemaSource,
  StoredEventsReport,
} from '@herald/schemas';
import {
  EXIT_FAILURE,
  EXIT_OK,
  UsageError,
  expectPositionals,
  parseCommandLine,
  parseInteger,
  printable,
} from './arguments.ts';
import type { CommandContext } from './command-context.ts';
import { formatTable } from './format-table.ts';

/** Help of `herald schema`. */
export const SCHEMA_HELP = `Usage:
  herald schema register --system <module> [--type <type>]... [--compatibility <MODE>] [--dry-run] [--json]
  herald schema register --type <type> --schema <file.json> [--compatibility <MODE>] [--dry-run] [--json]
  herald schema list [--json]
  herald schema show <subject|type> [--version <n>] [--json]
  herald schema compatibility <subject> [<MODE>]
  herald schema check --system <module> [--group <group>]... [--sample <n> [--seed <n>]]
                      [--max-failures <n>] [--json]

The schema registry lives in the log itself (topic herald.schemas), so it works on every backend.
A subject is an event type without its version suffix (dev.herald.orders.order-placed); the
type's .vN is the version (dev.herald.orders.order-placed.v2 is version 2). A registered version
never changes.

Commands:
  register       Register the JSON Schema of event definitions: every definition of the system
                 module (or only the --type ones), oldest version first, or one --type with a
                 JSON Schema file. A version that breaks the subject's compatibility mode is
                 refused with one line per incompatibility; later versions of that subject are
                 skipped. --compatibility sets the subject's mode first. --dry-run writes
                 nothing (each version is checked against what is registered now).
  list           Subjects with their versions and compatibility mode.
  show           The schema of a version: a type names its version; a subject its latest one
                 (or --version).
  compatibility  Print a subject's mode, or set it: BACKWARD (default), BACKWARD_TRANSITIVE,
                 FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE.
  check          Decode every retained event with each consumer's reader schema and upcasters,
                 as the consumers of the system module would. Exit status 1, with the position of
                 each event that would not decode, when any fails: a CI gate before deploying a
                 consumer or a schema. Reports, per group, how many events of each stored type
                 and version would fail. --sample <n> checks n retained events chosen at random
                 (and reads only those); --seed <n> makes the choice repeatable (without it a
                 seed is chosen and printed).

The system module (a .ts or .js file, path relative to the working directory) exports its
description as default or as \`system\`, built with defineSystem from @herald/schemas: producers
(name, source, the events they publish to each topic), consumers (group, topics, the definitions
their routes read, newer-version policy) and upcasters.

Options:
  --json         Print JSON instead of text.
  -h, --help     Show this help.

Exit status: 0 done, 1 refused or a check failed, 2 the command line was wrong.
`;

const COMMAND = 'herald schema';

/** `herald schema …`: the schema registry and the stored-events check. */
export async function runSchemaCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'register':
      return register(rest, context);
    case 'list':
      return list(rest, context);
    case 'show':
      return show(rest, context);
    case 'compatibility':
      return compatibility(rest, context);
    case 'check':
      return check(rest, context);
    case '-h':
    case '--help':
    case 'help':
      await context.out(SCHEMA_HELP);
      return EXIT_OK;
    case undefined:
      throw new UsageError(COMMAND, 'missing subcommand: register, list, show, compatibility or check');
    default:
      throw new UsageError(
        COMMAND,
        `unknown subcommand "${printable(subcommand)}": expected register, list, show, compatibility or check`,
      );
  }
}

interface RegistrationLine {
  readonly type: string;
  readonly subject: string;
  readonly version: number;
  readonly status: 'registered' | 'unchanged' | 'compatible' | 'refused' | 'skipped';
  readonly compatibility?: CompatibilityMode;
  readonly explanation?: string;
}

async function register(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} register`;
  const { values, positionals } = parseCommandLine(command, args, {
    system: { type: 'string' },
    type: { type: 'string', multiple: true },
    schema: { type: 'string' },
    compatibility: { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(SCHEMA_HELP);
    return EXIT_OK;
  }
  expectPositionals(command, positionals, []);
  const mode = values.compatibility === undefined ? undefined : parseMode(command, values.compatibility);
  const types = values.type ?? [];
  let sources: SchemaSource[];
  if (values.schema !== undefined) {
    if (values.system !== undefined)
      throw new UsageError(command, 'give either --system or --schema, not both');
    if (types.length !== 1) throw new UsageError(command, '--schema needs exactly one --type');
    sources = [{ type: types[0]!, jsonSchema: await readJsonSchema(values.schema) }];
  } else if (values.system !== undefined) {
    const definitions = definitionsOf(await loadSystem(values.system));
    const unknown = types.filter((t) => !definitions.some((d) => d.type === t));
    if (unknown.length > 0) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `the system defines no ${unknown.map((t) => printable(t)).join(', ')}`,
      );
    }
    sources = definitions.filter((d) => types.length === 0 || types.includes(d.type));
  } else {
    throw new UsageError(command, 'missing --system <module> (or --type <type> --schema <file.json>)');
  }
  for (const source of sources) parseEventType(source.type);
  sources.sort(byVersion);

  const dryRun = values['dry-run'] === true;
  const lines = await context.withLog(async (log) => {
    const registry = await openSchemaRegistry({ log });
    const refused = new Set<string>();
    const out: RegistrationLine[] = [];
    for (const source of sources) {
      const { subject, version } = parseEventType(source.type);
      if (refused.has(subject)) {
        out.push({
          type: source.type,
          subject,
          version,
          status: 'skipped',
          explanation: 'an earlier version was refused',
        });
        continue;
      }
      const line = dryRun
        ? await dryRunOne(registry, source, mode)
        : await registerOne(registry, source, mode);
      if (line.status === 'refused') refused.add(subject);
      out.push(line);
    }
    return out;
  });

  if (values.json === true) {
    await context.out(JSON.stringify(lines));
  } else {
    const text = lines.map((line) => {
      const head = `${line.status.padEnd(10)}  ${line.type}${line.compatibility === undefined ? '' : `  (${line.compatibility})`}`;
      const details = (line.explanation ?? '').split('\n').filter((l) => l !== '');
      return [printable(head), ...details.map((l) => `            ${printable(l)}`)].join('\n');
    });
    await context.out(text.length === 0 ? 'nothing to register' : text.join('\n'));
  }
  return lines.some((l) => l.status === 'refused') ? EXIT_FAILURE : EXIT_OK;
}

async function registerOne(
  registry: SchemaRegistry,
  source: SchemaSource,
  mode: CompatibilityMode | undefined,
): Promise<RegistrationLine> {
  const { subject, version } = parseEventType(source.type);
  try {
    const result = await registry.register(source, mode === undefined ? {} : { compatibility: mode });
    return {
      type: source.type,
      subject,
      version,
      status: result.status,
      compatibility: result.compatibility,
    };
  } catch (error) {
    if (!(error instanceof HeraldError) || (error.code !== 'CONFLICT' && error.code !== 'INVALID_ARGUMENT'))
      throw error;
    const compatibility = error.details['compatibility'];
    return {
      type: source.type,
      subject,
      version,
      status: 'refused',
      ...(typeof compatibility === 'string' ? { compatibility: compatibility as CompatibilityMode } : {}),
      explanation: error.message
        .split('\n')
        .slice(error.message.includes('\n') ? 1 : 0)
        .join('\n'),
    };
  }
}

async function dryRunOne(
  registry: SchemaRegistry,
  source: SchemaSource,
  mode: CompatibilityMode | undefined,
): Promise<RegistrationLine> {
  const verdict = await registry.check(source, mode === undefined ? {} : { compatibility: mode });
  const status =
    verdict.status === 'new' ? 'compatible' : verdict.status === 'unchanged' ? 'unchanged' : 'refused';
  return {
    type: verdict.type,
    subject: verdict.subject,
    version: verdict.version,
    status,
    compatibility: verdict.compatibility,
    ...(verdict.explanation === '' ? {} : { explanation: verdict.explanation }),
  };
}

function byVersion(a: SchemaSource, b: SchemaSource): number {
  const [x, y] = [parseEventType(a.type), parseEventType(b.type)];
  return x.subject === y.subject ? x.version - y.version : x.subject.localeCompare(y.subject);
}

async function readJsonSchema(path: string): Promise<boolean | Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new HeraldError('INVALID_ARGUMENT', `cannot read the schema file ${printable(path)}`, { cause });
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (cause) {
    throw new HeraldError('INVALID_ARGUMENT', `${printable(path)} is not JSON`, { cause });
  }
  if (
    typeof schema !== 'boolean' &&
    (schema === null || typeof schema !== 'object' || Array.isArray(schema))
  ) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `${printable(path)} is not a JSON Schema (an object or a boolean)`,
    );
  }
  return schema as boolean | Record<string, unknown>;
}

function parseMode(command: string, value: string): CompatibilityMode {
  try {
    return parseCompatibilityMode(value);
  } catch (error) {
    throw new UsageError(command, error instanceof Error ? error.message : String(error));
  }
}

async function list(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} list`;
  const { values, positionals } = parseCommandLine(command, args, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(SCHEMA_HELP);
    return EXIT_OK;
  }
  expectPositionals(command, positionals, []);
  const subjects = await context.withLog(async (log) => (await openSchemaRegistry({ log })).subjects());
  if (values.json === true) {
    await context.out(JSON.stringify(subjects));
  } else if (subjects.length === 0) {
    await context.out('no schemas registered');
  } else {
    const rows = subjects.map((s) => [
      s.subject,
      s.versions.map((v) => v.version).join(','),
      String(s.versions[s.versions.length - 1]?.version ?? '-'),
      s.compatibility,
    ]);
    await context.out(formatTable([['SUBJECT', 'VERSIONS', 'LATEST', 'COMPATIBILITY'], ...rows]));
  }
  return EXIT_OK;
}

async function show(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} show`;
  const { values, positionals } = parseCommandLine(command, args, {
    version: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(SCHEMA_HELP);
    return EXIT_OK;
  }
  const [name] = expectPositionals(command, positionals, ['<subject|type>']);
  const wanted =
    values.version === undefined ? undefined : parseInteger(command, '--version', values.version, 1);
  const found = await context.withLog(async (log) => {
    const registry = await openSchemaRegistry({ log });
    let subject = name!;
    let version = wanted;
    if (registry.subject(subject) === undefined && /\.v[1-9][0-9]*$/.test(subject)) {
      const parts = parseEventType(subject);
      if (wanted !== undefined && wanted !== parts.version) {
        throw new UsageError(
          command,
          `${printable(subject)} is version ${parts.version}; --version ${wanted} contradicts it`,
        );
      }
      ({ subject, version } = parts);
    }
    const info = registry.subject(subject);
    const schema =
      version === undefined
        ? info?.versions[info.versions.length - 1]
        : info?.versions.find((v) => v.version === version);
    return { subject, version, info, schema };
  });
  if (found.schema === undefined || found.info === undefined) {
    const what = found.version === undefined ? found.subject : `version ${found.version} of ${found.subject}`;
    await context.io.stderr(
      `herald: no schema registered for ${printable(what)} (see 'herald schema list')\n`,
    );
    return EXIT_FAILURE;
  }
  const schema: RegisteredSchema = found.schema;
  if (values.json === true) {
    await context.out(JSON.stringify({ ...schema, compatibility: found.info.compatibility }));
    return EXIT_OK;
  }
  const header = formatTable([
    ['subject', schema.subject],
    ['version', String(schema.version)],
    ['type', schema.type],
    ['uri', schema.uri],
    ['compatibility', found.info.compatibility],
    ['fingerprint', schema.fingerprint],
    ['registered', new Date(schema.registeredAt).toISOString()],
  ]);
  const body = JSON.stringify(schema.schema, null, 2).split('\n').map(printable).join('\n');
  await context.out(`${header}\n\n${body}`);
  return EXIT_OK;
}

async function compatibility(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} compatibility`;
  const { values, positionals } = parseCommandLine(command, args, {
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(SCHEMA_HELP);
    return EXIT_OK;
  }
  const [subject, value] = expectPositionals(command, positionals, ['<subject>', '<MODE>?']);
  const mode = value === undefined ? undefined : parseMode(command, value);
  const result = await context.withLog(async (log) => {
    const registry = await openSchemaRegistry({ log });
    if (mode !== undefined) await registry.setCompatibility(subject!, mode);
    return registry.subject(subject!);
  });
  const current = result?.compatibility ?? 'BACKWARD';
  const configured = result?.compatibilityConfigured === true ? '' : ' (default)';
  await context.out(
    mode === undefined
      ? `${printable(subject!)}: ${current}${configured}`
      : `${printable(subject!)}: compatibility set to ${current}`,
  );
  return EXIT_OK;
}

async function check(args: readonly string[], context: CommandContext): Promise<number> {
  const command = `${COMMAND} check`;
  const { values, positionals } = parseCommandLine(command, args, {
    system: { type: 'string' },
    group: { type: 'string', multiple: true },
    'max-failures': { type: 'string' },
    sample: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(SCHEMA_HELP);
    return EXIT_OK;
  }
  expectPositionals(command, positionals, []);
  if (values.system === undefined) throw new UsageError(command, 'missing --system <module>');
  if (values.seed !== undefined && values.sample === undefined)
    throw new UsageError(command, '--seed chooses a sample: give --sample <n> too');
  const sample =
    values.sample === undefined
      ? undefined
      : {
          size: parseInteger(command, '--sample', values.sample, 1),
          seed:
            values.seed === undefined
              ? Math.floor(Math.random() * 2 ** 31)
              : parseInteger(command, '--seed', values.seed, 0),
        };
  const maxFailures =
    values['max-failures'] === undefined
      ? 20
      : parseInteger(command, '--max-failures', values['max-failures'], 0);
  const system = await loadSystem(values.system);
  const groups = values.group;
  const unknown = (groups ?? []).filter((g) => !system.consumers.some((c) => c.group === g));
  if (unknown.length > 0) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `the system has no consumer group ${unknown.map((g) => printable(g)).join(', ')}`,
    );
  }
  const report = await context.withLog((log) =>
    checkStoredEvents(log, system, {
      maxFailures,
      ...(groups === undefined ? {} : { groups }),
      ...(sample === undefined ? {} : { sample }),
    }),
  );
  await context.out(values.json === true ? JSON.stringify(report) : describeReport(report));
  return report.ok ? EXIT_OK : EXIT_FAILURE;
}

function describeReport(report: StoredEventsReport): string {
  const table = formatTable([
    ['GROUP', 'TOPICS', 'CHECKED', 'DECODED', 'FAILED', 'NOT ROUTED'],
    ...report.consumers.map((c) => [
      c.group,
      c.topics.join(','),
      String(c.checked),
      String(c.decoded),
      String(c.failed),
      String(c.notRouted),
    ]),
  ]);
  // Each line is made printable on its own: text from the log (ids, types, messages) cannot start
  // a line of its own or move the cursor.
  const lines: string[] = [];
  const missing = [...new Set(report.consumers.flatMap((c) => c.missingTopics))].sort();
  if (missing.length > 0) {
    lines.push(`note: no topic ${missing.join(', ')} in this log (nothing stored there to check)`);
  }
  if (report.sample !== undefined) {
    lines.push(
      `sample: ${report.sample.size} of ${report.retained} retained events, seed ${report.sample.seed} (--sample ${report.sample.size} --seed ${report.sample.seed} repeats it)`,
    );
  }
  for (const consumer of report.consumers) {
    if (consumer.failed === 0) continue;
    lines.push('');
    for (const t of consumer.byType.filter((t) => t.failed > 0)) {
      lines.push(`${consumer.group}: ${t.failed} of ${t.checked} ${t.type} events would fail to decode`);
    }
    for (const f of consumer.failures) {
      lines.push(
        `${f.group}: ${f.topic}/${f.partition}@${f.offset} ${f.type} (id ${f.id}) read as ${f.reader}: ${f.code}: ${f.message}`,
      );
    }
    if (consumer.failed > consumer.failures.length) {
      lines.push(
        `${consumer.group}: … and ${consumer.failed - consumer.failures.length} more (see --max-failures)`,
      );
    }
  }
  const failed = report.consumers.reduce((sum, c) => sum + c.failed, 0);
  const failedGroups = report.consumers.filter((c) => c.failed > 0).length;
  lines.push('');
  lines.push(
    report.ok
      ? `OK: every consumer decodes all ${report.events} ${report.sample === undefined ? 'retained' : 'sampled'} events it would receive`
      : `FAILED: ${failed} stored event${failed === 1 ? '' : 's'} would not decode (${failedGroups} consumer group${failedGroups === 1 ? '' : 's'})`,
  );
  return [table, ...lines.map((line) => printable(line))].join('\n');
}
