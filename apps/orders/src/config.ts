// Configuration from the environment, validated at start: a typo stops the process with a clear
// message instead of running with a default nobody wanted.
import { logUrlFrom } from '@herald/core';
import { DEFAULT_ADMIN_TOKEN_FILE } from './admin-token.ts';
import { DEFAULT_CATALOG_PATH } from '@herald/orders-domain/catalog-file.ts';
import type { RateLimitOptions } from './http/rate-limit.ts';
import { type FaultUpdate, faultsConfigSchema } from '@herald/orders-domain/faults.ts';
import type { DownstreamService } from '@herald/orders-domain/topology.ts';
import { DEFAULT_PARTITIONS } from '@herald/orders-domain/topology.ts';
import { redactUrl } from '@herald/core';
import { isPostgresUrl } from '@herald/service';

/** Settings of `main.ts` and `service-main.ts`, from the environment. */
export interface EnvConfig {
  /** HERALD_LOG, default `sqlite:./.herald/herald.db`. */
  readonly logUrl: string;
  /**
   * HERALD_STORE: unset, the services' state lives in the embedded log's file (a `sqlite:` log);
   * `postgres://…`, each service keeps its state and outbox in its own Postgres schema.
   */
  readonly storeUrl: string | undefined;
  /** PORT, default 3000. */
  readonly port: number;
  /** HOST, default 127.0.0.1 (set 0.0.0.0 to listen on every interface). */
  readonly host: string;
  /** HERALD_CATALOG, default `apps/orders-domain/catalog.json`. */
  readonly catalogPath: string;
  /** HERALD_ADMIN_TOKEN; generated at start when unset. */
  readonly adminToken: string | undefined;
  /** HERALD_ADMIN_TOKEN_FILE: where a generated token is written (mode 0600), never printed. */
  readonly adminTokenFile: string;
  /** HERALD_FAULTS: JSON, e.g. `{"payment":{"latencyMs":50,"errorRate":0.1}}`. */
  readonly faults: Partial<Record<DownstreamService, FaultUpdate>>;
  /** HERALD_PARTITIONS: partitions of topics created at start, default 4. */
  readonly partitions: number;
  /** HERALD_SESSION_TIMEOUT_MS: consumer-group session timeout, default the log's (10 s). */
  readonly sessionTimeoutMs: number | undefined;
  /**
   * HERALD_DECISION_TIMEOUT_MS: how long an order may stay undecided before the saga rejects it
   * (`decision-timeout`) and the services compensate. Default 30 000 (unset: the saga's default).
   */
  readonly decisionTimeoutMs: number | undefined;
  /** HERALD_RATE_LIMIT: requests per second per client (bursts of twice that); 0 = off. Default 200. */
  readonly rateLimit: RateLimitOptions;
  /**
   * HERALD_THREADS (`main.ts` only): 2 (default) runs the services in an engine thread and the
   * API in the main thread; 1 runs everything on one thread.
   */
  readonly threads: 1 | 2;
  /**
   * HERALD_ADMIN_PORT: serve `/admin/*` on a listener of its own at this port (and
   * HERALD_ADMIN_HOST, default 127.0.0.1), not on the API's. Unset: on the API's port.
   */
  readonly admin: { readonly port: number; readonly host: string } | undefined;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** Reads and checks the environment; throws naming the variable that is wrong. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  let faults: Partial<Record<DownstreamService, FaultUpdate>> = {};
  const faultsText = env['HERALD_FAULTS'];
  if (faultsText !== undefined && faultsText !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(faultsText);
    } catch {
      throw new Error('HERALD_FAULTS must be JSON, e.g. {"payment":{"latencyMs":50,"errorRate":0.1}}');
    }
    const result = faultsConfigSchema.safeParse(parsed);
    if (!result.success) {
      throw new Error(
        `HERALD_FAULTS: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    faults = result.data;
  }
  const sessionTimeoutMs = env['HERALD_SESSION_TIMEOUT_MS'];
  const rate = integer(env, 'HERALD_RATE_LIMIT', 200, 0, 1_000_000);
  const token = env['HERALD_ADMIN_TOKEN'];
  if (token !== undefined && token !== '' && token.length < 16) {
    throw new Error('HERALD_ADMIN_TOKEN must be at least 16 characters');
  }
  const storeUrl = env['HERALD_STORE'] || undefined;
  if (storeUrl !== undefined && !isPostgresUrl(storeUrl)) {
    throw new Error(
      "HERALD_STORE must be a postgres:// URL (or unset: the state lives in the embedded log's file), " +
        `not ${JSON.stringify(redactUrl(storeUrl))}`,
    );
  }
  return {
    logUrl: logUrlFrom(env),
    storeUrl,
    port: integer(env, 'PORT', 3000, 0, 65_535),
    host: env['HOST'] || '127.0.0.1',
    catalogPath: env['HERALD_CATALOG'] || DEFAULT_CATALOG_PATH,
    adminToken: token === '' ? undefined : token,
    adminTokenFile: env['HERALD_ADMIN_TOKEN_FILE'] || DEFAULT_ADMIN_TOKEN_FILE,
    faults,
    partitions: integer(env, 'HERALD_PARTITIONS', DEFAULT_PARTITIONS, 1, 256),
    sessionTimeoutMs:
      sessionTimeoutMs === undefined || sessionTimeoutMs === ''
        ? undefined
        : integer(env, 'HERALD_SESSION_TIMEOUT_MS', 10_000, 500, 600_000),
    decisionTimeoutMs:
      env['HERALD_DECISION_TIMEOUT_MS'] === undefined || env['HERALD_DECISION_TIMEOUT_MS'] === ''
        ? undefined
        : integer(env, 'HERALD_DECISION_TIMEOUT_MS', 30_000, 100, 86_400_000),
    rateLimit: { perSecond: rate, burst: rate * 2 },
    threads: integer(env, 'HERALD_THREADS', 2, 1, 2) as 1 | 2,
    admin:
      env['HERALD_ADMIN_PORT'] === undefined || env['HERALD_ADMIN_PORT'] === ''
        ? undefined
        : {
            port: integer(env, 'HERALD_ADMIN_PORT', 0, 0, 65_535),
            host: env['HERALD_ADMIN_HOST'] || '127.0.0.1',
          },
  };
}
