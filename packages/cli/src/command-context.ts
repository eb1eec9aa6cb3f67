import { hostname, userInfo } from 'node:os';
import { HeraldError, logUrlFrom, openEventLog } from '@herald/core';
import type { EventLog, Store } from '@herald/core';
import { SqliteLog, openSqliteStore } from '@herald/sqlite';

/**
 * Everything the CLI touches outside its arguments, so that tests can run it in-process and
 * `main` can wire it to the real process.
 */
export interface CliIo {
  /** Writes to standard output. A returned promise means "wait before writing more". */
  readonly stdout: (text: string) => void | Promise<void>;
  readonly stderr: (text: string) => void | Promise<void>;
  /** `HERALD_LOG` selects the log ({@link logUrlFrom}); `HERALD_DEBUG` adds stack traces to internal errors. */
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
}

/** What a command receives besides its arguments. */
export interface CommandContext {
  readonly io: CliIo;
  /** The log URL in effect, for messages. */
  readonly logUrl: string;
  /** Writes one or more lines to standard output, waiting when the reader is slow. */
  out(text: string): Promise<void>;
  /**
   * Opens the log `HERALD_LOG` names, runs `use`, and closes the log afterwards. A failure to
   * open is rethrown as a `HeraldError` naming the URL, with the same code (`BACKEND_UNAVAILABLE`
   * for errors that were not HeraldErrors, such as a file system error).
   */
  withLog<T>(use: (log: EventLog) => Promise<T>): Promise<T>;
  /**
   * Like `withLog`, with the log's Store when it has one: for the embedded SQLite log, the
   * SqliteStore on the same file (redrive records, audit). Other backends get undefined.
   */
  withStore<T>(use: (log: EventLog, store: Store | undefined) => Promise<T>): Promise<T>;
}

/** Builds the context for one `run`. */
export function createCommandContext(io: CliIo): CommandContext {
  const logUrl = logUrlFrom(io.env);
  return {
    io,
    logUrl,
    async out(text) {
      await io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    },
    async withLog(use) {
      let log: EventLog;
      try {
        log = await openEventLog(logUrl);
      } catch (error) {
        const code = error instanceof HeraldError ? error.code : 'BACKEND_UNAVAILABLE';
        const message = error instanceof Error ? error.message : String(error);
        throw new HeraldError(code, `cannot open HERALD_LOG=${logUrl}: ${message}`, {
          cause: error,
          details: error instanceof HeraldError ? error.details : {},
        });
      }
      try {
        return await use(log);
      } finally {
        await log.close();
      }
    },
    withStore(use) {
      return this.withLog(async (log) =>
        use(log, log instanceof SqliteLog ? await openSqliteStore(log) : undefined),
      );
    },
  };
}

/** Who runs this command, for audit records: `<os user>@<host name>`. */
export function currentActor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}
