import { redactUrl } from './redact-url.ts';
import type { EventLog } from './event-log.ts';
import { HeraldError } from './errors.ts';

/** The log a program opens when `HERALD_LOG` is unset: the embedded log in a file under the working directory. */
export const DEFAULT_LOG_URL = 'sqlite:./.herald/herald.db';

/**
 * The log URL an environment names: `HERALD_LOG`, or {@link DEFAULT_LOG_URL} when it is unset or
 * empty. Core never reads the process environment itself: a program passes its own, so a test or
 * an embedding host decides what it sees.
 *
 * @example await using log = await openEventLog(logUrlFrom(process.env));
 */
export function logUrlFrom(env: Readonly<Record<string, string | undefined>>): string {
  const url = env['HERALD_LOG'];
  return url === undefined || url === '' ? DEFAULT_LOG_URL : url;
}

/**
 * What a backend package exports so that `openEventLog` can open it by URL scheme.
 * Backends are loaded on demand, so an application installs only the one it uses.
 */
export interface LogBackendModule {
  openLogFromUrl(url: string): Promise<EventLog>;
}

const BACKENDS: Readonly<Record<string, string>> = {
  'memory:': '@herald/core/memory',
  'sqlite:': '@herald/sqlite',
  'kafka:': '@herald/kafka',
  'nats:': '@herald/nats',
};

/**
 * Opens the log a URL names: `sqlite:./path.db`, `memory:`, `kafka://host:port` or
 * `nats://host:port` (see each backend's `openLogFromUrl` for its query parameters). The URL is
 * required: to follow `HERALD_LOG`, pass {@link logUrlFrom}`(process.env)`.
 * Throws `INVALID_ARGUMENT` for a URL no backend handles, and `UNSUPPORTED`, naming the package
 * to install, when the backend is not installed.
 */
export async function openEventLog(url: string): Promise<EventLog> {
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase();
  const specifier = scheme === undefined ? undefined : BACKENDS[scheme];
  if (specifier === undefined) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `unsupported log URL "${redactUrl(url)}": expected one of ${Object.keys(BACKENDS).join(', ')} (e.g. ${DEFAULT_LOG_URL})`,
    );
  }
  let backend: LogBackendModule;
  try {
    backend = (await import(specifier)) as LogBackendModule;
  } catch (cause) {
    throw new HeraldError('UNSUPPORTED', `the ${scheme} backend needs the package ${specifier}; install it`, {
      cause,
    });
  }
  return backend.openLogFromUrl(url);
}
