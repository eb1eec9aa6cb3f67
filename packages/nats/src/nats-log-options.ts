import { hostname } from 'node:os';
import { HeraldError } from '@herald/core';
import { isValidNamespace } from './nats-names.ts';

/** TLS for the server connection. Only these keys are passed on; anything else is refused. */
export interface NatsTlsOptions {
  /** PEM text of the CA that signed the server's certificate (default: the system's CAs). */
  readonly ca?: string;
  readonly caFile?: string;
  /** Client certificate and key, PEM text or files, for servers that verify clients. */
  readonly cert?: string;
  readonly certFile?: string;
  readonly key?: string;
  readonly keyFile?: string;
  /** Default true: the server's certificate must chain to a trusted CA. */
  readonly rejectUnauthorized?: boolean;
  /** TLS before the NATS INFO exchange; needs `handshake_first` on the server. */
  readonly handshakeFirst?: boolean;
}

/** How to reach the server and how the log lays itself out on it; see docs/nats.md. */
export interface NatsLogOptions {
  /** Servers as `host:port` (the port defaults to 4222); others in the cluster are discovered. */
  readonly servers: readonly string[];
  /** Connection name shown by the server and client id shown in group descriptions. Default `herald-<host>-<pid>`. */
  readonly clientId?: string;
  /**
   * Prefix of every stream, subject and key this log uses, hidden from Herald's API, so several
   * systems (or test runs) can share one server. Up to 64 letters, digits and `-`.
   */
  readonly namespace?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** TLS settings, or `true` for TLS with the system's CAs. */
  readonly tls?: NatsTlsOptions | true;
  /** Replicas of every stream and KV bucket Herald creates (1, 3 or 5 on a cluster). Default 1. */
  readonly replicas?: number;
  /** Where streams keep events. Default `file` (durable); `memory` loses them when the server stops. */
  readonly storage?: 'file' | 'memory';
  /**
   * How long the server remembers an event's id to drop a retried publish of it. Default
   * 120 000 ms (JetStream's default); never longer than the topic's retention.
   */
  readonly duplicateWindowMs?: number;
  /** Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** How long a request (publish acknowledgement, API call) may take. Default 10 000 ms. */
  readonly requestTimeoutMs?: number;
}

/** The options after defaults, as the log and its subscriptions use them. */
export interface ResolvedNatsLogOptions {
  readonly servers: readonly string[];
  readonly clientId: string;
  readonly namespace: string;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly token: string | undefined;
  readonly tls: NatsTlsOptions | undefined;
  readonly replicas: number;
  readonly storage: 'file' | 'memory';
  readonly duplicateWindowMs: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

const TLS_KEYS = new Set([
  'ca',
  'caFile',
  'cert',
  'certFile',
  'key',
  'keyFile',
  'rejectUnauthorized',
  'handshakeFirst',
]);
const SERVER = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;
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
export function resolveNatsLogOptions(options: NatsLogOptions): ResolvedNatsLogOptions {
  if (typeof options !== 'object' || options === null) throw invalid('NATS log options must be an object');
  const servers = options.servers;
  if (!Array.isArray(servers) || servers.length === 0) {
    throw invalid('servers must list at least one NATS server as "host:port"');
  }
  for (const server of servers as unknown[]) {
    const match = typeof server === 'string' ? SERVER.exec(server) : null;
    const port = match?.[2] === undefined ? 4222 : Number(match[2]);
    if (match === null || port < 1 || port > 65_535) {
      throw invalid(`server ${JSON.stringify(server)} is not "host:port"`);
    }
  }
  const clientId = options.clientId ?? `herald-${hostname()}-${process.pid}`;
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    throw invalid(`clientId must be 1 to 200 characters without spaces, got ${JSON.stringify(clientId)}`);
  }
  const namespace = options.namespace ?? '';
  if (typeof namespace !== 'string' || !isValidNamespace(namespace)) {
    throw invalid(`namespace must be at most 64 letters, digits or "-", got ${JSON.stringify(namespace)}`);
  }
  if (options.token !== undefined && (options.user !== undefined || options.pass !== undefined)) {
    throw invalid('use either a token or a user and password, not both');
  }
  if ((options.user === undefined) !== (options.pass === undefined)) {
    throw invalid('a user needs a password and a password needs a user');
  }
  const replicas = options.replicas ?? 1;
  if (![1, 3, 5].includes(replicas)) throw invalid(`replicas must be 1, 3 or 5, got ${String(replicas)}`);
  const storage = options.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory') {
    throw invalid(`storage must be "file" or "memory", got ${JSON.stringify(storage)}`);
  }
  return {
    servers: [...(servers as readonly string[])],
    clientId,
    namespace,
    user: options.user,
    pass: options.pass,
    token: options.token,
    tls: checkTls(options.tls),
    replicas,
    storage,
    duplicateWindowMs: positive('duplicateWindowMs', options.duplicateWindowMs, 120_000),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 5000),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 10_000),
  };
}

function checkTls(tls: NatsTlsOptions | true | undefined): NatsTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (tls === true) return {};
  if (typeof tls !== 'object' || tls === null) throw invalid('tls must be true or an object of TLS options');
  for (const key of Object.keys(tls)) {
    if (!TLS_KEYS.has(key)) {
      throw invalid(`tls option "${key}" is not supported; use ${[...TLS_KEYS].join(', ')}`);
    }
  }
  return { ...tls };
}
