import { HeraldError } from '@herald/core';
import type { NatsLogOptions } from './nats-log-options.ts';

const DEFAULT_PORT = 4222;
const NUMBER_PARAMETERS = ['replicas', 'duplicateWindowMs', 'connectTimeoutMs', 'requestTimeoutMs'] as const;
const PARAMETERS = new Set<string>(['clientId', 'namespace', 'tls', 'storage', ...NUMBER_PARAMETERS]);

function invalid(url: string, why: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', `invalid NATS log URL "${redact(url)}": ${why}`);
}

/** The URL with its password or token replaced, for messages. */
function redact(url: string): string {
  return url.replace(/^(nats:\/\/)([^/?]*)@/i, (_match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon === -1 ? '***' : `${userinfo.slice(0, colon)}:***`}@`;
  });
}

/**
 * Parses a `nats:` log URL into {@link NatsLogOptions}:
 *
 *   nats://[user:password@ | token@]host[:port][,host[:port]…][/][?option=value&…]
 *
 * The port defaults to 4222; IPv6 hosts go in brackets; user, password and token are
 * percent-decoded. Options: `namespace`, `clientId`, `tls=true` (TLS with the system's CAs),
 * `storage=file|memory`, and the numbers `replicas`, `duplicateWindowMs`, `connectTimeoutMs`,
 * `requestTimeoutMs`. Certificates need {@link openNatsLog}'s options. Throws `INVALID_ARGUMENT`
 * for anything else.
 *
 * @example parseNatsUrl('nats://n1:4222,n2:4222?namespace=staging&replicas=3')
 */
export function parseNatsUrl(url: string): NatsLogOptions {
  if (typeof url !== 'string' || !/^nats:\/\//i.test(url)) {
    throw invalid(String(url), 'expected nats://host:port[,host:port]');
  }
  let rest = url.slice('nats://'.length);
  const queryAt = rest.indexOf('?');
  const query = queryAt === -1 ? '' : rest.slice(queryAt + 1);
  rest = queryAt === -1 ? rest : rest.slice(0, queryAt);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest.includes('/')) throw invalid(url, 'a NATS URL has no path');

  const options: { -readonly [K in keyof NatsLogOptions]: NatsLogOptions[K] } = { servers: [] };
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    try {
      if (colon === -1) {
        if (userinfo.length === 0) throw invalid(url, 'an empty token before "@"');
        options.token = decodeURIComponent(userinfo);
      } else {
        options.user = decodeURIComponent(userinfo.slice(0, colon));
        options.pass = decodeURIComponent(userinfo.slice(colon + 1));
      }
    } catch (error) {
      if (error instanceof HeraldError) throw error;
      throw invalid(url, 'credentials are not valid percent-encoding');
    }
  }
  if (rest.length === 0) throw invalid(url, 'no server named');
  options.servers = rest.split(',').map((entry) => server(url, entry));

  for (const [name, value] of new URLSearchParams(query)) {
    if (!PARAMETERS.has(name)) {
      throw invalid(url, `unknown option "${name}"; known: ${[...PARAMETERS].join(', ')}`);
    }
    if (name === 'clientId') options.clientId = value;
    else if (name === 'namespace') options.namespace = value;
    else if (name === 'tls') {
      if (value !== 'true' && value !== 'false') throw invalid(url, 'tls must be "true" or "false"');
      if (value === 'true') options.tls = true;
    } else if (name === 'storage') {
      if (value !== 'file' && value !== 'memory') throw invalid(url, 'storage must be "file" or "memory"');
      options.storage = value;
    } else {
      if (!/^\d+$/.test(value)) throw invalid(url, `${name} must be a non-negative integer, got "${value}"`);
      options[name as (typeof NUMBER_PARAMETERS)[number]] = Number(value);
    }
  }
  return options;
}

function server(url: string, entry: string): string {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(entry);
  const plain = /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(entry);
  const match = bracketed ?? plain;
  if (match === null) throw invalid(url, `"${entry}" is not host[:port]`);
  const port = match[2] === undefined ? DEFAULT_PORT : Number(match[2]);
  if (port < 1 || port > 65_535) throw invalid(url, `port ${port} is out of range`);
  return `${bracketed === null ? match[1]! : `[${match[1]!}]`}:${port}`;
}
