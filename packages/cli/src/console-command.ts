import { HeraldError } from '@herald/core';
import { startConsole, usersFromEnv } from '@herald/console';
import { EXIT_OK, expectPositionals, parseCommandLine, parseInteger } from './arguments.ts';
import type { CommandContext } from './command-context.ts';

/** Help of `herald console`. */
export const CONSOLE_HELP = `Usage:
  herald console [--host <address>] [--port <n>]

Serves the operations console (its admin API and web console, see docs/console.md) against
HERALD_LOG and HERALD_STORE until interrupted (Ctrl-C): topics and their events, causation,
consumer groups with lag, dead letters (redrive, discard), group resets, schemas and the audit
trail. Every change made through it, and every refused attempt, is recorded in the audit trail
(the topic herald.audit). Prints the address to open; never a password or a session.

Options:
  --host <address>  Listen on this address. Default 127.0.0.1 (this machine only); anything else
                    exposes the console to the network, so serve it behind TLS.
  --port <n>        Listen on this port. Default 8081; 0 picks a free one.
  -h, --help        Show this help.

Environment:
  HERALD_CONSOLE_USERS           A users file: {"users": [{"name", "role", "hash"}]}, roles
                                 viewer, operator or admin, hashes from scrypt (see
                                 docs/console.md). Changes made in the console are written back.
  HERALD_CONSOLE_ADMIN_PASSWORD  Without a users file: the password of an 'admin' user (at
                                 least 12 characters), for a first start.
  HERALD_CONSOLE_SECURE_COOKIE   Set to 1 when the console is served over HTTPS (a proxy in front).

Exit status: 0 after an interrupt, 1 when it cannot start (no users, port taken, log unreachable).
`;

const COMMAND = 'herald console';

/** Port `herald console` listens on unless told otherwise. */
export const DEFAULT_CONSOLE_PORT = 8081;

/** A parsed `herald console` command line. */
export interface ConsoleArguments {
  readonly host: string;
  readonly port: number;
}

/** Parses `herald console` arguments; undefined means `--help` was asked for. */
export function parseConsoleArguments(args: readonly string[]): ConsoleArguments | undefined {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    host: { type: 'string' },
    port: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return undefined;
  expectPositionals(COMMAND, positionals, []);
  const port =
    values.port === undefined ? DEFAULT_CONSOLE_PORT : parseInteger(COMMAND, '--port', values.port, 0);
  if (port > 65_535) throw new HeraldError('INVALID_ARGUMENT', `${COMMAND}: --port must be at most 65535`);
  return { host: values.host ?? '127.0.0.1', port };
}

/** `herald console`: serves the console until the process is interrupted. */
export async function runConsoleCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const parsed = parseConsoleArguments(args);
  if (parsed === undefined) {
    await context.out(CONSOLE_HELP);
    return EXIT_OK;
  }
  const users = await usersFromEnv(context.io.env);
  return context.withStore(async (log, store) => {
    const server = await startConsole({
      log,
      ...(store === undefined ? {} : { store }),
      users,
      listen: { host: parsed.host, port: parsed.port },
      secureCookie: context.io.env['HERALD_CONSOLE_SECURE_COOKIE'] === '1',
    });
    try {
      await context.out(`herald console: serving ${server.url} (${users.size} user(s); Ctrl-C to stop)`);
      if (parsed.host !== '127.0.0.1' && parsed.host !== 'localhost' && parsed.host !== '::1') {
        await context.io.stderr(
          `herald console: listening on ${parsed.host}: reachable from the network; serve it behind TLS\n`,
        );
      }
      await stopped(context.io.signal);
    } finally {
      await server.close();
    }
    return EXIT_OK;
  });
}

function stopped(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => undefined);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
