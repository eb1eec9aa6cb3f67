import type { HeraldError } from '../errors.ts';
import { isPort, parseHostPort } from './host-port.ts';

/*
 * The shape every broker log URL shares:
 *
 *   <scheme>://[userinfo@]host[:port][,host[:port]…][/][?option=value&…]
 *
 * A backend reads its own credentials from the userinfo and its own options from the query;
 * the split, the host list and the options every backend has are read here, so the URLs of
 * all backends refuse the same mistakes with the same words.
 */

/** A log URL cut into its parts, before the backend reads them. */
export interface LogUrlParts {
  /** The text before the last `@` of the authority, still percent-encoded; undefined without `@`. */
  readonly userinfo: string | undefined;
  /** The comma-separated host list, not yet read (see {@link parseHostList}). */
  readonly hosts: string;
  /** The query without its `?`. */
  readonly query: string;
}

/**
 * Cuts `<scheme>://…` into userinfo, hosts and query. `fail` builds the backend's error (which
 * redacts the URL); the URL may end in `/` but has no path. `product` names the backend in
 * messages (`a Kafka URL has no path`).
 */
export function splitLogUrl(
  url: unknown,
  scheme: string,
  product: string,
  fail: (why: string) => HeraldError,
): LogUrlParts {
  const prefix = `${scheme}://`;
  if (typeof url !== 'string' || url.slice(0, prefix.length).toLowerCase() !== prefix) {
    throw fail(`expected ${prefix}host:port[,host:port]`);
  }
  let rest = url.slice(prefix.length);
  // The user-info ends at the last `@`: a password with an unencoded `/`, `?` or `@` is still
  // read as the password (and never shown as a host or an option), as `redactUrl` hides it.
  const at = rest.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : rest.slice(0, at);
  rest = rest.slice(at + 1);
  const queryAt = rest.indexOf('?');
  const query = queryAt === -1 ? '' : rest.slice(queryAt + 1);
  rest = queryAt === -1 ? rest : rest.slice(0, queryAt);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest.includes('/')) throw fail(`a ${product} URL has no path`);
  return { userinfo, hosts: rest, query };
}

/**
 * Reads a URL's comma-separated `host[:port]` list into `host:port` addresses, the port
 * defaulting to `defaultPort`. `noun` names a host in messages (`no broker named`).
 */
export function parseHostList(
  hosts: string,
  defaultPort: number,
  noun: string,
  fail: (why: string) => HeraldError,
): string[] {
  if (hosts.length === 0) throw fail(`no ${noun} named`);
  return hosts.split(',').map((entry) => {
    const parsed = parseHostPort(entry, defaultPort);
    if (parsed === undefined) throw fail(`"${entry}" is not host[:port]`);
    if (!isPort(parsed.port)) throw fail(`port ${parsed.port} is out of range`);
    return parsed.address;
  });
}

/** The query options every log URL has, as read by {@link readLogUrlQuery}. */
export interface CommonUrlOptions<N extends string> {
  clientId?: string;
  namespace?: string;
  /** Present when some `tls=true`: TLS with the system's CAs. */
  tls?: true;
  /** The numeric options that were given. */
  numbers: Partial<Record<N, number>>;
}

/**
 * Reads a log URL's query in order: `clientId`, `namespace`, `tls=true|false` and the
 * non-negative integers named in `numbers` are read here; the names in `own` are handed to
 * `readOwn`, in turn; any other name is refused, listing the known ones. A later value of a
 * name overrides an earlier one (`tls=false` only leaves TLS as it was).
 */
export function readLogUrlQuery<N extends string>(
  query: string,
  numbers: readonly N[],
  own: readonly string[],
  readOwn: (name: string, value: string) => void,
  fail: (why: string) => HeraldError,
): CommonUrlOptions<N> {
  const known = new Set<string>(['clientId', 'namespace', 'tls', ...own, ...numbers]);
  const numeric = new Set<string>(numbers);
  const options: CommonUrlOptions<N> = { numbers: {} };
  for (const [name, value] of new URLSearchParams(query)) {
    if (!known.has(name)) {
      // A name that is no option name is likely part of a secret: it is not echoed.
      const shown = /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? `"${name}"` : '(a name that is not one; not shown)';
      throw fail(`unknown option ${shown}; known: ${[...known].join(', ')}`);
    }
    if (name === 'clientId') options.clientId = value;
    else if (name === 'namespace') options.namespace = value;
    else if (name === 'tls') {
      if (value !== 'true' && value !== 'false') throw fail('tls must be "true" or "false"');
      if (value === 'true') options.tls = true;
    } else if (numeric.has(name)) {
      if (!/^\d+$/.test(value)) throw fail(`${name} must be a non-negative integer, got "${value}"`);
      options.numbers[name as N] = Number(value);
    } else readOwn(name, value);
  }
  return options;
}
