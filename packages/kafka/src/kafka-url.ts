import { HeraldError, redactUrl } from '@herald/core';
import { parseHostList, readLogUrlQuery, splitLogUrl } from '@herald/core/backend';
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
const SASL_BY_NAME: Readonly<Record<string, KafkaSaslOptions['mechanism']>> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

function invalid(url: string, why: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', `invalid Kafka log URL "${redactUrl(url)}": ${why}`);
}

/** The URL with its password replaced, for messages. */

/**
 * Parses a `kafka:` log URL into {@link KafkaLogOptions}:
 *
 *   kafka://[user:password@]host[:port][,host[:port]…][/][?option=value&…]
 *
 * The port defaults to 9092; IPv6 hosts go in brackets. Options: `clientId`, `namespace`,
 * `tls=true` (TLS with the system's CAs), `sasl=plain|scram-sha-256|scram-sha-512` (with the
 * URL's percent-encoded user and password; `plain` needs `tls=true`, or `insecureSasl=true` to
 * send the password in clear text on purpose), and the numeric settings of KafkaLogOptions
 * (`heartbeatIntervalMs`, `rebalanceTimeoutMs`, `fetchMaxWaitMs`, `connectTimeoutMs`,
 * `requestTimeoutMs`, `retries`, `retryDelayMs`, `maxRecordBytes`). Certificates and other TLS
 * settings need {@link openKafkaLog}'s options. Throws `INVALID_ARGUMENT` for anything else.
 *
 * @example parseKafkaUrl('kafka://k1:9092,k2:9092?clientId=orders&namespace=staging.')
 */
export function parseKafkaUrl(url: string): KafkaLogOptions {
  const fail = (why: string): HeraldError => invalid(String(url), why);
  const parts = splitLogUrl(url, 'kafka', 'Kafka', fail);

  let credentials: { username: string; password: string } | undefined;
  if (parts.userinfo !== undefined) {
    const userinfo = parts.userinfo;
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

  const brokers = parseHostList(parts.hosts, DEFAULT_PORT, 'broker', fail);
  let sasl: KafkaSaslOptions['mechanism'] | undefined;
  let insecureSasl = false;
  const common = readLogUrlQuery(
    parts.query,
    NUMBER_PARAMETERS,
    ['sasl', 'insecureSasl'],
    (name, value) => {
      if (name === 'insecureSasl') {
        if (value !== 'true' && value !== 'false')
          throw invalid(url, 'insecureSasl must be "true" or "false"');
        insecureSasl = value === 'true';
        return;
      }
      sasl = SASL_BY_NAME[value.toLowerCase()];
      if (sasl === undefined) {
        throw invalid(url, `sasl must be one of ${Object.keys(SASL_BY_NAME).join(', ')}, got "${value}"`);
      }
    },
    fail,
  );
  const options: { -readonly [K in keyof KafkaLogOptions]: KafkaLogOptions[K] } = {
    brokers,
    ...common.numbers,
  };
  if (common.clientId !== undefined) options.clientId = common.clientId;
  if (common.namespace !== undefined) options.namespace = common.namespace;
  if (common.tls) options.tls = {};
  if (sasl !== undefined && credentials === undefined) {
    throw invalid(url, `sasl=${sasl.toLowerCase()} needs user:password@ before the hosts`);
  }
  if (credentials !== undefined && sasl === undefined) {
    throw invalid(
      url,
      'credentials need a mechanism: add sasl=plain, sasl=scram-sha-256 or sasl=scram-sha-512',
    );
  }
  if (sasl === 'PLAIN' && !common.tls && !insecureSasl) {
    throw invalid(
      url,
      'sasl=plain without tls=true would send the password in clear text: add tls=true, or insecureSasl=true to allow it',
    );
  }
  if (sasl !== undefined && credentials !== undefined) {
    options.sasl = insecureSasl
      ? { mechanism: sasl, ...credentials, allowWithoutTls: true }
      : { mechanism: sasl, ...credentials };
  }
  return options;
}
