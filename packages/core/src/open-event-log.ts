import type { EventLog } from './event-log.ts';
import { HeraldError } from './errors.ts';

/** The default `HERALD_LOG`: the embedded log in a file under the working directory. */
export const DEFAULT_LOG_URL = 'sqlite:./.herald/herald.db';

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
 * Opens the log a URL names — `sqlite:./path.db`, `memory:`, later `kafka://host:port` and
 * `nats://host:port` — defaulting to `HERALD_LOG`, then to {@link DEFAULT_LOG_URL}.
 * Throws `INVALID_ARGUMENT` for a URL no backend handles, and says which package to install
 * when the backend is not installed.
 */
export async function openEventLog(
  url: string = process.env['HERALD_LOG'] ?? DEFAULT_LOG_URL,
): Promise<EventLog> {
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase();
  const specifier = scheme === undefined ? undefined : BACKENDS[scheme];
  if (specifier === undefined) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `unsupported log URL "${url}": expected one of ${Object.keys(BACKENDS).join(', ')} (e.g. ${DEFAULT_LOG_URL})`,
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
