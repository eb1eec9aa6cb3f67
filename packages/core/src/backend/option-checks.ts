import { hostname } from 'node:os';
import { HeraldError } from '../errors.ts';
import { isPort, parseHostPort } from './host-port.ts';

/*
 * Checks of a backend's open options that every backend shares. Each throws
 * `INVALID_ARGUMENT` naming the option, so a configuration mistake fails when the log is
 * opened, not at the first request.
 */

const CLIENT_ID = /^\S{1,200}$/;

/** An `INVALID_ARGUMENT` error for a bad option. */
export function invalidOption(message: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', message);
}

/** `value`, or `fallback` when it is undefined; throws unless it is a positive safe integer. */
export function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw invalidOption(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * The client id a log's connections show (in group descriptions, on the server): `clientId`,
 * or `herald-<host>-<pid>` when it is undefined; 1 to 200 characters without white space.
 */
export function clientIdOption(clientId: unknown): string {
  const id = clientId ?? `herald-${hostname()}-${process.pid}`;
  if (typeof id !== 'string' || !CLIENT_ID.test(id)) {
    throw invalidOption(`clientId must be 1 to 200 characters without spaces, got ${JSON.stringify(id)}`);
  }
  return id;
}

/**
 * Checks a list of servers given as `host:port` (the port may be left out when there is a
 * `defaultPort`). `noun` names one in messages: `server "x" is not "host:port"`.
 */
export function checkServerList(
  option: string,
  noun: string,
  description: string,
  servers: unknown,
  defaultPort?: number,
): readonly string[] {
  if (!Array.isArray(servers) || servers.length === 0) {
    throw invalidOption(`${option} must list at least one ${description} as "host:port"`);
  }
  for (const server of servers as unknown[]) {
    const parsed = typeof server === 'string' ? parseHostPort(server, defaultPort) : undefined;
    if (parsed === undefined || !isPort(parsed.port)) {
      throw invalidOption(`${noun} ${JSON.stringify(server)} is not "host:port"`);
    }
  }
  return servers as readonly string[];
}

/**
 * Refuses any key of an options object (`tls`, `sasl`…) that the backend does not pass on, so a
 * typo fails loudly instead of being ignored.
 */
export function checkKnownKeys(option: string, value: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw invalidOption(`${option} option "${key}" is not supported; use ${[...known].join(', ')}`);
    }
  }
}
