import { HeraldError, redactUrl } from '@herald/core';
import { parseHostList, readLogUrlQuery, splitLogUrl } from '@herald/core/backend';
import type { NatsLogOptions } from './nats-log-options.ts';

const DEFAULT_PORT = 4222;
const NUMBER_PARAMETERS = ['replicas', 'duplicateWindowMs', 'connectTimeoutMs', 'requestTimeoutMs'] as const;

function invalid(url: string, why: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', `invalid NATS log URL "${redactUrl(url)}": ${why}`);
}

/** The URL with its password or token replaced, for messages. */

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
  const fail = (why: string): HeraldError => invalid(String(url), why);
  const parts = splitLogUrl(url, 'nats', 'NATS', fail);

  const options: { -readonly [K in keyof NatsLogOptions]: NatsLogOptions[K] } = { servers: [] };
  if (parts.userinfo !== undefined) {
    const userinfo = parts.userinfo;
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
  options.servers = parseHostList(parts.hosts, DEFAULT_PORT, 'server', fail);

  const common = readLogUrlQuery(
    parts.query,
    NUMBER_PARAMETERS,
    ['storage'],
    (_name, value) => {
      if (value !== 'file' && value !== 'memory') throw invalid(url, 'storage must be "file" or "memory"');
      options.storage = value;
    },
    fail,
  );
  Object.assign(options, common.numbers);
  if (common.clientId !== undefined) options.clientId = common.clientId;
  if (common.namespace !== undefined) options.namespace = common.namespace;
  if (common.tls) options.tls = true;
  return options;
}
