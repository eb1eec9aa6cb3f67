import { HeraldError } from '@herald/core';
import type { KafkaLogOptions, KafkaSaslOptions } from './kafka-log-options.ts';

const DEFAULT_PORT = 9092;
const NUMBER_PARAMETERS = [
  'maxRecordBytes',
  'heartbeatIntervalMs',
  'rebalanceTimeoutMs',
  'fetchMaxWaitMs',
  'connectTimeoutMs',
  'requestTimeoutMs',
  'retries',
  'retryDelayMs',
] as const;
const PARAMETERS = new Set<string>(['clientId', 'namespace', 'tls', 'sasl', ...NUMBER_PARAMETERS]);
const SASL_BY_NAME: Readonly<Record<string, KafkaSaslOptions['mechanism']>> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

function invalid(url: string, why: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', `invalid Kafka log URL "${redact(url)}": ${why}`);
}

/** The URL with its password replaced, for messages. */
function redact(url: string): string {
  return url.replace(/^(kafka:\/\/[^:@/?]*:)[^@/?]*@/i, '$1***@');
}

/**
 * Parses a `kafka:` log URL into {@link KafkaLogOptions}:
 *
 *   kafka://[user:password@]host[:port][,host[:port]…][/][?option=value&…]
 *
 * The port defaults to 9092; IPv6 hosts go in brackets. Options: `clientId`, `namespace`,
 * `tls=true` (TLS with the system's CAs), `sasl=plain|scram-sha-256|scram-sha-512` (with the
 * URL's percent-encoded user and password), and the numeric settings of KafkaLogOptions
 * (`heartbeatIntervalMs`, `rebalanceTimeoutMs`, `fetchMaxWaitMs`, `connectTimeoutMs`,
 * `requestTimeoutMs`, `retries`, `retryDelayMs`, `maxRecordBytes`). Certificates and other TLS
 * settings need {@link openKafkaLog}'s options. Throws `INVALID_ARGUMENT` for anything else.
 *
 * @example parseKafkaUrl('kafka://k1:9092,k2:9092?clientId=orders&namespace=staging.')
 */
export function parseKafkaUrl(url: string): KafkaLogOptions {
  if (typeof url !== 'string' || !/^kafka:\/\//i.test(url)) {
    throw invalid(String(url), 'expected kafka://host:port[,host:port]');
  }
  let rest = url.slice('kafka://'.length);
  const queryAt = rest.indexOf('?');
  const query = queryAt === -1 ? '' : rest.slice(queryAt + 1);
  rest = queryAt === -1 ? rest : rest.slice(0, queryAt);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest.includes('/')) throw invalid(url, 'a Kafka URL has no path');

  let credentials: { username: string; password: string } | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    if (colon === -1) throw invalid(url, 'credentials must be user:password');
    try {
      credentials = {
        username: decodeURIComponent(userinfo.slice(0, colon)),
        password: decodeURIComponent(userinfo.slice(colon + 1)),
      };
    } catch {
      throw invalid(url, 'credentials are not valid percent-encoding');
    }
  }

  if (rest.length === 0) throw invalid(url, 'no broker named');
  const brokers = rest.split(',').map((entry) => broker(url, entry));

  const options: { -readonly [K in keyof KafkaLogOptions]: KafkaLogOptions[K] } = { brokers };
  const params = new URLSearchParams(query);
  let sasl: KafkaSaslOptions['mechanism'] | undefined;
  for (const [name, value] of params) {
    if (!PARAMETERS.has(name)) {
      throw invalid(url, `unknown option "${name}"; known: ${[...PARAMETERS].join(', ')}`);
    }
    if (name === 'clientId') options.clientId = value;
    else if (name === 'namespace') options.namespace = value;
    else if (name === 'tls') {
      if (value !== 'true' && value !== 'false') throw invalid(url, 'tls must be "true" or "false"');
      if (value === 'true') options.tls = {};
    } else if (name === 'sasl') {
      sasl = SASL_BY_NAME[value.toLowerCase()];
      if (sasl === undefined) {
        throw invalid(url, `sasl must be one of ${Object.keys(SASL_BY_NAME).join(', ')}, got "${value}"`);
      }
    } else {
      if (!/^\d+$/.test(value)) throw invalid(url, `${name} must be a non-negative integer, got "${value}"`);
      options[name as (typeof NUMBER_PARAMETERS)[number]] = Number(value);
    }
  }
  if (sasl !== undefined && credentials === undefined) {
    throw invalid(url, `sasl=${sasl.toLowerCase()} needs user:password@ before the hosts`);
  }
  if (credentials !== undefined && sasl === undefined) {
    throw invalid(
      url,
      'credentials need a mechanism: add sasl=plain, sasl=scram-sha-256 or sasl=scram-sha-512',
    );
  }
  if (sasl !== undefined && credentials !== undefined) options.sasl = { mechanism: sasl, ...credentials };
  return options;
}

function broker(url: string, entry: string): string {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(entry);
  const plain = /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(entry);
  const match = bracketed ?? plain;
  if (match === null) throw invalid(url, `"${entry}" is not host[:port]`);
  const port = match[2] === undefined ? DEFAULT_PORT : Number(match[2]);
  if (port < 1 || port > 65_535) throw invalid(url, `port ${port} is out of range`);
  return `${bracketed === null ? match[1]! : `[${match[1]!}]`}:${port}`;
}
