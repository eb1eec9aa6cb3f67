import { hostname, userInfo } from 'node:os';
import { HeraldError, logUrlFrom, openEventLog, openStore, redactUrl } from '@herald/core';
import type { EventLog, Store } from '@herald/core';

/**
 * Everything the CLI touches outside its arguments, so that tests can run it in-process and
 * `main` can wire it to the real process.
 */
export interface CliIo {
  /** Writes to standard output. A returned promise means "wait before writing more". */
  readonly stdout: (text: string) => void | Promise<void>;
  readonly stderr: (text: string) => void | Promise<void>;
  /**
   * `HERALD_LOG` selects the log ({@link logUrlFrom}); `HERALD_STORE` the store
   * (default: the embedded log's own file when HERALD_LOG is a `sqlite:` URL, else none);
   * `HERALD_DEBUG` adds stack traces to internal errors.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * All of standard input, or undefined when nothing is piped in (a terminal). Only `publish`
   * without `--data` calls it.
   */
  readonly readStdin?: () => Promise<Uint8Array | undefined>;
  /** Aborted on SIGINT/SIGTERM: `tail --follow` stops, closes the log and exits 0. */
  readonly signal?: AbortSignal;
  /** The clock `--since <duration>` counts back from. Defaults to `Date.now`. */
  readonly now?: () => number;
  /**
   * Asks the person at the terminal a yes/no question; undefined when nobody is there (standard
   * input or error is not a terminal): a destructive command then needs `--yes`.
   */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/** What a command receives besides its arguments. */
export interface CommandContext {
  readonly io: CliIo;
  /** The log URL in effect, for messages. */
  readonly logUrl: string;
  /** The store URL in effect (`HERALD_STORE`, else a `sqlite:` log's own file), or undefined for none. */
  readonly storeUrl: string | undefined;
  /** Writes one or more lines to standard output, waiting when the reader is slow. */
  out(text: string): Promise<void>;
  /**
   * Opens the log `HERALD_LOG` names, runs `use`, and closes the log afterwards. A failure to
   * open is rethrown as a `HeraldError` naming the URL, with the same code (`BACKEND_UNAVAILABLE`
   * for errors that were not HeraldErrors, such as a file system error).
   */
  withLog<T>(use: (log: EventLog) => Promise<T>): Promise<T>;
  /**
   * Like `withLog`, with the Store `storeUrl` names (redrive records, audit), opened with
   * `openStore` and closed after `use` (a Postgres store first publishes what `use` emitted);
   * undefined when there is none. A failure to open is rethrown like `withLog`'s, naming the
   * URL without its password.
   */
  withStore<T>(use: (log: EventLog, store: Store | undefined) => Promise<T>): Promise<T>;
}

/** Builds the context for one `run`. */
export function createCommandContext(io: CliIo): CommandContext {
  const logUrl = logUrlFrom(io.env);
  const store = io.env['HERALD_STORE'];
  const storeUrl =
    store !== undefined && store !== '' ? store : logUrl.startsWith('sqlite:') ? logUrl : undefined;
  return {
    io,
    logUrl,
    storeUrl,
    async out(text) {
      await io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    },
    async withLog(use) {
      let log: EventLog;
      try {
        log = await openEventLog(logUrl);
      } catch (error) {
        throw cannotOpen(`HERALD_LOG=${redactUrl(logUrl)}`, error);
      }
      try {
        return await use(log);
      } finally {
        await log.close();
      }
    },
    withStore(use) {
      return this.withLog(async (log) => {
        if (storeUrl === undefined) return use(log, undefined);
        let store: Store;
        try {
          store = await openStore(storeUrl, { log });
        } catch (error) {
          throw cannotOpen(`HERALD_STORE=${redactUrl(storeUrl)}`, error);
        }
        try {
          return await use(log, store);
        } finally {
          await store.close();
        }
      });
    },
  };
}

/**
 * A failure to open what `what` names, as a `HeraldError` with the same code
 * (`BACKEND_UNAVAILABLE` for errors that were not HeraldErrors, such as a file system error).
 */
function cannotOpen(what: string, error: unknown): HeraldError {
  const code = error instanceof HeraldError ? error.code : 'BACKEND_UNAVAILABLE';
  const message = error instanceof Error ? error.message : String(error);
  return new HeraldError(code, `cannot open ${what}: ${message}`, {
    cause: error,
    details: error instanceof HeraldError ? error.details : {},
  });
}

/**
 * Who runs this command, for audit records. Always the OS identity, `<os user>@<host name>`;
 * before it, in front, the name the person or job claims, from `--actor` or else `HERALD_ACTOR`
 * (set by a deployment to the identity its operators sign in with):
 * `alice@example.com (deploy@ops-1)`. A claimed name never hides who ran the command.
 */
export function currentActor(
  claimed?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  let os: string;
  try {
    os = `${userInfo().username}@${hostname()}`;
  } catch {
    os = `unknown@${hostname()}`;
  }
  const name = claimed ?? env['HERALD_ACTOR'];
  return name === undefined || name.trim() === '' ? os : `${name.trim()} (${os})`;
}
