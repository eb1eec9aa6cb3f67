import {
  checkKnownKeys,
  checkServerList,
  clientIdOption,
  invalidOption,
  positiveOption,
} from '@herald/core/backend';
import type { BaseOptions } from '@platformatic/kafka';

/**
 * TLS settings handed to `node:tls` for every broker connection. Only these keys are passed
 * on; anything else is refused, so a configuration typo fails loudly instead of being ignored.
 */
export interface KafkaTlsOptions {
  readonly ca?: string | Buffer | (string | Buffer)[];
  readonly cert?: string | Buffer | (string | Buffer)[];
  readonly key?: string | Buffer | (string | Buffer)[];
  readonly passphrase?: string;
  readonly pfx?: string | Buffer;
  /** SNI name; defaults to the broker's host name. */
  readonly servername?: string;
  /** Default true: the broker's certificate must chain to a trusted CA. */
  readonly rejectUnauthorized?: boolean;
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers?: string;
}

/** SASL authentication. Credentials may be functions, called for every new connection. */
export interface KafkaSaslOptions {
  readonly mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'OAUTHBEARER';
  readonly username?: string | (() => string | Promise<string>);
  readonly password?: string | (() => string | Promise<string>);
  /** The bearer token for OAUTHBEARER. */
  readonly token?: string | (() => string | Promise<string>);
  /**
   * PLAIN sends the password as it is: without `tls` it is refused unless this is true (a
   * broker on a trusted network, a local test cluster).
   */
  readonly allowWithoutTls?: boolean;
}

/** How to reach the cluster and how the log behaves on it; see docs/kafka.md. */
export interface KafkaLogOptions {
  /** Bootstrap brokers as `host:port`; the rest of the cluster is discovered from them. */
  readonly brokers: readonly string[];
  /** Kafka client id of every connection, shown in group descriptions. Default `herald-<host>-<pid>`. */
  readonly clientId?: string;
  /**
   * Prefix added to every topic and group name on the cluster and hidden from Herald's API, so
   * several systems (or test runs) can share one cluster. Letters, digits, `.`, `_`, `-`.
   * Topic names plus the prefix must fit Kafka's 249 characters.
   */
  readonly namespace?: string;
  /** Largest record (attributes + data) accepted. Default 1 MiB, as Kafka's `message.max.bytes`. */
  readonly maxRecordBytes?: number;
  /** How often a group member heartbeats. Default a third of the session timeout, at most 3000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** How long a rebalance waits for members to rejoin (and `onRevoked` to finish). Default 60 000 ms. */
  readonly rebalanceTimeoutMs?: number;
  /** How long a subscription's fetch waits at the broker for new events. Default 500 ms. */
  readonly fetchMaxWaitMs?: number;
  /** Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Retries of a failed request (network errors, leader changes) before it fails. Default 3. */
  readonly retries?: number;
  /** Pause between retries. Default 250 ms. */
  readonly retryDelayMs?: number;
  readonly tls?: KafkaTlsOptions;
  readonly sasl?: KafkaSaslOptions;
}

/** The options after defaults, as the log and its subscriptions use them. */
export interface ResolvedKafkaLogOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly namespace: string;
  readonly maxRecordBytes: number;
  readonly heartbeatIntervalMs: number | undefined;
  readonly rebalanceTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly tls: KafkaTlsOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
}

const TLS_KEYS = new Set([
  'ca',
  'cert',
  'key',
  'passphrase',
  'pfx',
  'servername',
  'rejectUnauthorized',
  'minVersion',
  'ciphers',
]);
const SASL_KEYS = new Set(['mechanism', 'username', 'password', 'token', 'allowWithoutTls']);
const SASL_MECHANISMS = new Set(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER']);
const NAMESPACE = /^[A-Za-z0-9._-]{0,100}$/;

/** Checks every option and fills in defaults; throws `INVALID_ARGUMENT` naming the first bad one. */
export function resolveKafkaLogOptions(options: KafkaLogOptions): ResolvedKafkaLogOptions {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('Kafka log options must be an object');
  const brokers = checkServerList('brokers', 'broker', 'bootstrap broker', options.brokers);
  const clientId = clientIdOption(options.clientId);
  const namespace = options.namespace ?? '';
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw invalidOption(
      `namespace must be at most 100 letters, digits, ".", "_" or "-", got ${JSON.stringify(namespace)}`,
    );
  }
  const retries = options.retries ?? 3;
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw invalidOption(`retries must be a non-negative integer, got ${String(retries)}`);
  }
  return {
    brokers: [...brokers],
    clientId,
    namespace,
    maxRecordBytes: positiveOption('maxRecordBytes', options.maxRecordBytes, 1_048_576),
    heartbeatIntervalMs:
      options.heartbeatIntervalMs === undefined
        ? undefined
        : positiveOption('heartbeatIntervalMs', options.heartbeatIntervalMs, 3000),
    rebalanceTimeoutMs: positiveOption('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 60_000),
    fetchMaxWaitMs: positiveOption('fetchMaxWaitMs', options.fetchMaxWaitMs, 500),
    connectTimeoutMs: positiveOption('connectTimeoutMs', options.connectTimeoutMs, 5000),
    requestTimeoutMs: positiveOption('requestTimeoutMs', options.requestTimeoutMs, 30_000),
    retries,
    retryDelayMs: positiveOption('retryDelayMs', options.retryDelayMs, 250),
    tls: checkTls(options.tls),
    sasl: checkSasl(options.sasl, options.tls !== undefined),
  };
}

function checkTls(tls: KafkaTlsOptions | undefined): KafkaTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (typeof tls !== 'object' || tls === null)
    throw invalidOption('tls must be an object of node:tls options');
  checkKnownKeys('tls', tls, TLS_KEYS);
  return { ...tls };
}

function checkSasl(sasl: KafkaSaslOptions | undefined, tls: boolean): KafkaSaslOptions | undefined {
  if (sasl === undefined) return undefined;
  if (typeof sasl !== 'object' || sasl === null) throw invalidOption('sasl must be an object');
  checkKnownKeys('sasl', sasl, SASL_KEYS);
  if (!SASL_MECHANISMS.has(sasl.mechanism)) {
    throw invalidOption(
      `sasl.mechanism must be one of ${[...SASL_MECHANISMS].join(', ')}, got ${String(sasl.mechanism)}`,
    );
  }
  if (
    sasl.mechanism === 'OAUTHBEARER'
      ? sasl.token === undefined
      : sasl.username === undefined || sasl.password === undefined
  ) {
    throw invalidOption(
      sasl.mechanism === 'OAUTHBEARER'
        ? 'sasl OAUTHBEARER needs a token'
        : `sasl ${sasl.mechanism} needs a username and a password`,
    );
  }
  if (sasl.mechanism === 'PLAIN' && !tls && sasl.allowWithoutTls !== true) {
    throw invalidOption(
      'sasl PLAIN without tls would send the password in clear text: add tls (tls=true in a URL), ' +
        'or allow it explicitly with sasl.allowWithoutTls (insecureSasl=true in a URL)',
    );
  }
  return { ...sasl };
}

/**
 * The `@platformatic/kafka` client options for one of the log's clients: only the allow-listed
 * connection settings are passed through. `requestTimeoutMs` may be raised for a client whose
 * requests legitimately wait long (a JoinGroup waits for the whole group).
 */
export function clientOptions(
  options: ResolvedKafkaLogOptions,
  requestTimeoutMs = options.requestTimeoutMs,
): BaseOptions {
  const base: BaseOptions = {
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    connectTimeout: options.connectTimeoutMs,
    requestTimeout: requestTimeoutMs,
    retries: options.retries,
    retryDelay: options.retryDelayMs,
    autocreateTopics: false,
  };
  if (options.tls !== undefined) base.tls = { ...options.tls };
  if (options.sasl !== undefined) {
    const { allowWithoutTls: _allowed, ...sasl } = options.sasl;
    base.sasl = sasl;
  }
  return base;
}
