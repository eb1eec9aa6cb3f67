/*
 * Addresses of a backend's servers, written `host[:port]`: a name or IPv4 address, or an IPv6
 * address in brackets, optionally followed by a port. Log URLs and log options read them alike.
 */

const BRACKETED = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/;
const PLAIN = /^([A-Za-z0-9.-]+)(?::(\d+))?$/;

/** One server address, read from `host[:port]`. */
export interface HostPort {
  /** The host without brackets. */
  readonly host: string;
  /** As written, or the default; not yet checked to be in range (see {@link isPort}). */
  readonly port: number;
  /** `host:port`, an IPv6 host in brackets: the form handed to a client. */
  readonly address: string;
}

/**
 * Reads `host[:port]`; undefined when the entry is not of that shape, or names no port and
 * there is no `defaultPort`.
 *
 * @example parseHostPort('[::1]', 9092) // { host: '::1', port: 9092, address: '[::1]:9092' }
 */
export function parseHostPort(entry: string, defaultPort?: number): HostPort | undefined {
  const bracketed = BRACKETED.exec(entry);
  const match = bracketed ?? PLAIN.exec(entry);
  if (match === null) return undefined;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (port === undefined) return undefined;
  const host = match[1]!;
  return { host, port, address: `${bracketed === null ? host : `[${host}]`}:${port}` };
}

/** True for a TCP port a server can listen on: 1 to 65 535. */
export function isPort(port: number): boolean {
  return port >= 1 && port <= 65_535;
}
