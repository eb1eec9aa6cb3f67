import {
  checkKnownKeys,
  checkServerList,
  clientIdOption,
  invalidOption,
  positiveOption,
} from '@herald/core/backend';
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
/** Checks every option and fills in defaults; throws `INVALID_ARGUMENT` naming the first bad one. */
export function resolveNatsLogOptions(options: NatsLogOptions): ResolvedNatsLogOptions {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('NATS log options must be an object');
  const servers = checkServerList('servers', 'server', 'NATS server', options.servers, 4222);
  const clientId = clientIdOption(options.clientId);
  const namespace = options.namespace ?? '';
  if (typeof namespace !== 'string' || !isValidNamespace(namespace)) {
    throw invalidOption(
      `namespace must be at most 64 letters, digits or "-", got ${JSON.stringify(namespace)}`,
    );
  }
  if (options.token !== undefined && (options.user !== undefined || options.pass !== undefined)) {
    throw invalidOption('use either a token or a user and password, not both');
  }
  if ((options.user === undefined) !== (options.pass === undefined)) {
    throw invalidOption('a user needs a password and a password needs a user');
  }
  const replicas = options.replicas ?? 1;
  if (![1, 3, 5].includes(replicas))
    throw invalidOption(`replicas must be 1, 3 or 5, got ${String(replicas)}`);
  const storage = options.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory') {
    throw invalidOption(`storage must be "file" or "memory", got ${JSON.stringify(storage)}`);
  }
  return {
    servers: [...servers],
    clientId,
    namespace,
    user: options.user,
    pass: options.pass,
    token: options.token,
    tls: checkTls(options.tls),
    replicas,
    storage,
    duplicateWindowMs: positiveOption('duplicateWindowMs', options.duplicateWindowMs, 120_000),
    connectTimeoutMs: positiveOption('connectTimeoutMs', options.connectTimeoutMs, 5000),
    requestTimeoutMs: positiveOption('requestTimeoutMs', options.requestTimeoutMs, 10_000),
  };
}

function checkTls(tls: NatsTlsOptions | true | undefined): NatsTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (tls === true) return {};
  if (typeof tls !== 'object' || tls === null)
    throw invalidOption('tls must be true or an object of TLS options');
  checkKnownKeys('tls', tls, TLS_KEYS);
  return { ...tls };
}
