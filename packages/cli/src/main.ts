import { createInterface } from 'node:readline/promises';
import { once } from 'node:events';
import { HeraldError } from '@herald/core';
import packageJson from '../package.json' with { type: 'json' };
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, printable } from './arguments.ts';
import { createCommandContext } from './command-context.ts';
import type { CliIo, CommandContext } from './command-context.ts';
import { AUDIT_HELP, runAuditCommand } from './audit-command.ts';
import { CHAIN_HELP, runChainCommand } from './chain-command.ts';
import { CONSOLE_HELP, runConsoleCommand } from './console-command.ts';
import { DLQ_HELP, runDlqCommand } from './dlq-command.ts';
import { GROUPS_HELP, runGroupsCommand } from './groups-command.ts';
import { MIGRATE_HELP, runMigrateCommand } from './migrate-command.ts';
import { PUBLISH_HELP, runPublishCommand } from './publish-command.ts';
import { REPLAY_HELP, runReplayCommand } from './replay-command.ts';
import { SCHEMA_HELP, runSchemaCommand } from './schema-command.ts';
import { SHADOW_HELP, runShadowCommand } from './shadow-command.ts';
import { ASYNCAPI_HELP, runAsyncApiCommand } from './asyncapi-command.ts';
import { TAIL_HELP, runTailCommand } from './tail-command.ts';
import { TOPICS_HELP, runTopicsCommand } from './topics-command.ts';

/** Help of `herald` itself. */
export const HERALD_HELP = `Usage: herald <command> [options]

Commands:
  topics create <name> --partitions <n>   Create a topic
  topics list                             List topics
  topics describe <name>                  Partitions with their earliest and latest offsets
  publish <topic> --type <type>           Append one JSON event (--data or standard input)
  tail <topic>                            Print events (from the beginning; --follow to wait)
  groups [<group>]                        Consumer groups, members, committed offsets, lag
  groups reset <group> --to-…             Move a group's committed offsets (--dry-run to plan)
  dlq list [<dlq-topic>]                  Dead-letter topics, or the entries of one
  dlq show <dlq-topic> <partition>:<offset>
                                          One dead-lettered event with its failure
  dlq redrive <dlq-topic> <p>:<o>…|--all  Append dead-lettered events to their topic again
  audit <group>                           Check the group handled or dead-lettered every event
                                          below its offsets exactly once, keys in order
  chain <event id|correlation id|key>     The causation chains it names, as trees (--export)
  replay <file> --into <log url>          Load events 'chain --export' wrote into another log
  migrate --from <url> --to <url>         Move topics, events and group positions to another log
  shadow <module>                         Run a new version of a group over history, applying
                                          nothing, and diff it with the running version
  schema register|list|show|check         Schema registry; decode stored events (CI gate)
  asyncapi --system <module>              AsyncAPI 3.0 document of a system
  console [--host <a>] [--port <n>]       Serve the operations console (admin API and web UI)

Run 'herald <command> --help' for the options of a command.

Options:
  -h, --help     Show this help.
  --version      Print herald's version.

Environment:
  HERALD_LOG     The log to use (default sqlite:./.herald/herald.db; also memory:).
  HERALD_STORE   The store for redrive records, audit and 'herald audit' (default: the sqlite: log's own
                 file; also postgres://user@host/db?schema=name).
  HERALD_DEBUG   Set to 1 to print stack traces of internal errors.

Exit status: 0 done, 1 the operation failed, 2 the command line was wrong.
`;

type Command = (args: readonly string[], context: CommandContext) => Promise<number>;

const COMMANDS: Readonly<Record<string, { readonly run: Command; readonly help: string }>> = {
  topics: { run: runTopicsCommand, help: TOPICS_HELP },
  publish: { run: runPublishCommand, help: PUBLISH_HELP },
  tail: { run: runTailCommand, help: TAIL_HELP },
  groups: { run: runGroupsCommand, help: GROUPS_HELP },
  dlq: { run: runDlqCommand, help: DLQ_HELP },
  audit: { run: runAuditCommand, help: AUDIT_HELP },
  chain: { run: runChainCommand, help: CHAIN_HELP },
  replay: { run: runReplayCommand, help: REPLAY_HELP },
  migrate: { run: runMigrateCommand, help: MIGRATE_HELP },
  shadow: { run: runShadowCommand, help: SHADOW_HELP },
  schema: { run: runSchemaCommand, help: SCHEMA_HELP },
  asyncapi: { run: runAsyncApiCommand, help: ASYNCAPI_HELP },
  console: { run: runConsoleCommand, help: CONSOLE_HELP },
};

/**
 * Runs one herald command line (without `node` and the script path) and resolves to its exit
 * status. Never throws and never prints a stack trace for an expected failure: usage mistakes
 * are one line on stderr with status 2, failures of the operation (unknown topic, bad
 * `HERALD_LOG`, backend errors) one line with status 1.
 *
 * @example const status = await run(['topics', 'list'], { stdout: (t) => void out.push(t), stderr, env: {} });
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const context = createCommandContext(io);
  try {
    return await dispatch(argv, context);
  } catch (error) {
    await io.stderr(`herald: ${describeError(error, io)}\n`);
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

async function dispatch(argv: readonly string[], context: CommandContext): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    await context.io.stderr(HERALD_HELP);
    return EXIT_USAGE;
  }
  if (first === '-h' || first === '--help') {
    await context.out(HERALD_HELP);
    return EXIT_OK;
  }
  if (first === '--version') {
    await context.out(packageJson.version);
    return EXIT_OK;
  }
  if (first === 'help') {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    if (rest[0] !== undefined && topic === undefined)
      throw new UsageError('herald', `unknown command "${rest[0]}"`);
    await context.out(topic?.help ?? HERALD_HELP);
    return EXIT_OK;
  }
  if (first.startsWith('-')) throw new UsageError('herald', `unknown option ${first}`);
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (command === undefined) {
    throw new UsageError(
      'herald',
      `unknown command "${first}": expected ${Object.keys(COMMANDS).join(', ')}`,
    );
  }
  return command.run(rest, context);
}

function describeError(error: unknown, io: CliIo): string {
  if (error instanceof UsageError) return `${printable(error.message)} (see '${error.command} --help')`;
  if (error instanceof HeraldError) {
    const hint = error.code === 'UNKNOWN_TOPIC' ? " (see 'herald topics list')" : '';
    return `${printable(error.message)}${hint}${debugDetails(error, io)}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `internal error: ${printable(message)}${debugDetails(error, io)}`;
}

function debugDetails(error: unknown, io: CliIo): string {
  if (io.env['HERALD_DEBUG'] === undefined || io.env['HERALD_DEBUG'] === '') return '';
  return `\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}${
    error instanceof Error && error.cause !== undefined
      ? `\ncaused by: ${debugDetails(error.cause, io).trim()}`
      : ''
  }`;
}

/**
 * Runs herald as the current process: arguments from `process.argv`, real stdio, SIGINT and
 * SIGTERM stop a running `tail --follow` (a second signal exits at once with status 130), and
 * a closed standard output (`herald tail | head`) ends the command quietly. Sets
 * `process.exitCode` rather than exiting, so pending output is flushed.
 */
export async function main(): Promise<void> {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const io: CliIo = {
    stdout: streamWriter(process.stdout, () => controller.abort()),
    stderr: streamWriter(process.stderr, () => undefined),
    env: process.env,
    readStdin: readProcessStdin,
    signal: controller.signal,
    ...(process.stdin.isTTY && process.stderr.isTTY ? { confirm: askAtTerminal } : {}),
  };
  try {
    process.exitCode = await run(process.argv.slice(2), io);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function streamWriter(stream: NodeJS.WriteStream, onClosed: () => void): (text: string) => Promise<void> {
  let closed = false;
  stream.on('error', () => {
    closed = true;
    onClosed();
  });
  return async (text) => {
    if (closed) return;
    if (stream.write(text)) return;
    try {
      await once(stream, 'drain');
    } catch {
      closed = true;
    }
  };
}

/** Asks on standard error, reads one line of standard input: yes for `y` or `yes`. */
async function askAtTerminal(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

async function readProcessStdin(): Promise<Uint8Array | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
