import { hostname } from 'node:os';
import { HeraldError } from '@herald/core';
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
const SASL_KEYS = new Set(['mechanism', 'username', 'password', 'token']);
const SASL_MECHANISMS = new Set(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER']);
const BROKER = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const NAMESPACE = /^[A-Za-z0-9._-]{0,100}$/;
const CLIENT_ID = /^\S{1,200}$/;

function invalid(message: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', message);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Checks every option and fills in defaults; throws `INVALID_ARGUMENT` naming the first bad one. */
export function resolveKafkaLogOptions(options: KafkaLogOptions): ResolvedKafkaLogOptions {
  if (typeof options !== 'object' || options === null) throw invalid('Kafka log options must be an object');
  const brokers = options.brokers;
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw invalid('brokers must list at least one bootstrap broker as "host:port"');
  }
  for (const broker of brokers as unknown[]) {
    const match = typeof broker === 'string' ? BROKER.exec(broker) : null;
    if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65_535) {
      throw invalid(`broker ${JSON.stringify(broker)} is not "host:port"`);
    }
  }
  const clientId = options.clientId ?? `herald-${hostname()}-${process.pid}`;
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    throw invalid(`clientId must be 1 to 200 characters without spaces, got ${JSON.stringify(clientId)}`);
  }
  const namespace = options.namespace ?? '';
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw invalid(
      `namespace must be at most 100 letters, digits, ".", "_" or "-", got ${JSON.stringify(namespace)}`,
    );
  }
  const retries = options.retries ?? 3;
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw invalid(`retries must be a non-negative integer, got ${String(retries)}`);
  }
  return {
    brokers: [...(brokers as readonly string[])],
    clientId,
    namespace,
    maxRecordBytes: positive('maxRecordBytes', options.maxRecordBytes, 1_048_576),
    heartbeatIntervalMs:
      options.heartbeatIntervalMs === undefined
        ? undefined
        : positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 3000),
    rebalanceTimeoutMs: positive('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 60_000),
    fetchMaxWaitMs: positive('fetchMaxWaitMs', options.fetchMaxWaitMs, 500),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 5000),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 30_000),
    retries,
    retryDelayMs: positive('retryDelayMs', options.retryDelayMs, 250),
    tls: checkTls(options.tls),
    sasl: checkSasl(options.sasl),
  };
}

function checkTls(tls: KafkaTlsOptions | undefined): KafkaTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (typeof tls !== 'object' || tls === null) throw invalid('tls must be an object of node:tls options');
  for (const key of Object.keys(tls)) {
    if (!TLS_KEYS.has(key)) {
      throw invalid(`tls option "${key}" is not supported; use ${[...TLS_KEYS].join(', ')}`);
    }
  }
  return { ...tls };
}

function checkSasl(sasl: KafkaSaslOptions | undefined): KafkaSaslOptions | undefined {
  if (sasl === undefined) return undefined;
  if (typeof sasl !== 'object' || sasl === null) throw invalid('sasl must be an object');
  for (const key of Object.keys(sasl)) {
    if (!SASL_KEYS.has(key))
      throw invalid(`sasl option "${key}" is not supported; use ${[...SASL_KEYS].join(', ')}`);
  }
  if (!SASL_MECHANISMS.has(sasl.mechanism)) {
    throw invalid(
      `sasl.mechanism must be one of ${[...SASL_MECHANISMS].join(', ')}, got ${String(sasl.mechanism)}`,
    );
  }
  if (
    sasl.mechanism === 'OAUTHBEARER'
      ? sasl.token === undefined
      : sasl.username === undefined || sasl.password === undefined
  ) {
    throw invalid(
      sasl.mechanism === 'OAUTHBEARER'
        ? 'sasl OAUTHBEARER needs a token'
        : `sasl ${sasl.mechanism} needs a username and a password`,
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
  if (options.sasl !== undefined) base.sasl = { ...options.sasl };
  return base;
}
