// Runs the services of one process: their topics, stores, routers, health server and shutdown.
import {
  DEFAULT_INBOX_RETENTION_MS,
  type EventLog,
  HeraldError,
  type InboxRetention,
  type PublishMiddleware,
  ensureTopic,
  logUrlFrom,
  redactUrl,
  startInboxRetention,
} from '@herald/core';
import { type AuditMetrics, metrics, registerLagMetrics, startAuditMetrics } from '@herald/core/metrics';
import { auditViolationCount } from '@herald/core/ops';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics } from 'prom-client';
import { type HealthServer, type Readiness, startHealthServer } from './health.ts';
import {
  type Logger,
  type MetricsRegistry,
  SILENT_LOGGER,
  type ServiceContext,
  type ServiceDefinition,
} from './service.ts';
import {
  type PostgresStoreSettings,
  type ServiceStores,
  checkStoreFitsLog,
  openServiceLog,
  openServiceStores,
} from './stores.ts';
import { ServiceSupervisor } from './supervisor.ts';

/** The log and stores of a process, opened from URLs. */
export interface ServiceResources {
  readonly log: EventLog;
  readonly stores: ServiceStores;
  /** `<log URL, redacted>, state in <where>`, for a start-up banner. */
  readonly description: string;
  /** Closes the stores (letting relays drain), then the log. Safe to call twice. */
  close(): Promise<void>;
}

/** What `openLogAndStores` needs. */
export interface OpenLogAndStoresOptions {
  /** HERALD_LOG. Default `logUrlFrom(env)`: the embedded log under `./.herald`. */
  readonly logUrl?: string;
  /** HERALD_STORE. Default `env.HERALD_STORE`; unset: the embedded log's file. */
  readonly storeUrl?: string;
  /** Where the defaults are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Services this process runs: a store (and on Postgres an outbox relay) each. */
  readonly services: readonly string[];
  /** Services whose stores this process only reads. */
  readonly readers?: readonly string[];
  readonly postgres?: (service: string) => PostgresStoreSettings;
  readonly logger?: Logger;
  /**
   * Publish middleware of every outbox relay, e.g. `tracingPublish()` and
   * `publishMetrics({ registry })`: each gets the log. Default none.
   */
  readonly relayMiddleware?: readonly PublishMiddleware[];
}

/**
 * Opens HERALD_LOG (`sqlite:…`, `kafka://…`, `nats://…`, `memory:`) and the services' stores:
 * in the embedded log's file without HERALD_STORE, else one Postgres schema per service with an
 * outbox relay each. Errors are `HeraldError`s whose messages never show a password.
 */
export async function openLogAndStores(options: OpenLogAndStoresOptions): Promise<ServiceResources> {
  const env = options.env ?? process.env;
  const logUrl = options.logUrl ?? logUrlFrom(env);
  const storeUrl = options.storeUrl ?? (env['HERALD_STORE'] || undefined);
  checkStoreFitsLog(logUrl, storeUrl);
  const log = await openServiceLog(logUrl);
  let stores: ServiceStores;
  try {
    stores = await openServiceStores({
      logUrl,
      log,
      ...(storeUrl === undefined ? {} : { storeUrl }),
      services: options.services,
      ...(options.readers === undefined ? {} : { readers: options.readers }),
      ...(options.postgres === undefined ? {} : { postgres: options.postgres }),
      ...(options.relayMiddleware === undefined ? {} : { relayMiddleware: options.relayMiddleware }),
      logger: options.logger ?? SILENT_LOGGER,
    });
  } catch (error) {
    await log.close().catch(() => undefined);
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    log,
    stores,
    description: `${redactUrl(logUrl)}, state in ${stores.description}`,
    close: () =>
      (closing ??= (async () => {
        try {
          await stores.close();
        } finally {
          await log.close();
        }
      })()),
  };
}

/** What `startServices` runs. */
export interface StartServicesOptions {
  readonly services: readonly ServiceDefinition[];
  /** The log and stores; `host.stop()` closes them. */
  readonly resources: ServiceResources;
  /**
   * Default: a new registry, with prom-client's default metrics (`process_*`, `nodejs_*`) in
   * it. A registry given here gets no default metrics from the kit: the caller decides (one
   * registry per process should have them).
   */
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  readonly sessionTimeoutMs?: number;
  /** How long a crashed router waits before it is built again. Default 1 s. */
  readonly restartDelayMs?: number;
  /** Serve `/healthz`, `/readyz`, `/metrics` here; `false`: no health server. Default: a free port. */
  readonly health?: { readonly port?: number; readonly host?: string } | false;
  /**
   * Create the topics the services produce when missing (`ensureTopic`; an existing topic with
   * another partition count fails the start with `CONFLICT`). Default true; false when the
   * program creates its topics itself.
   */
  readonly createTopics?: boolean;
  /**
   * Serve this on the admin listener (the health server, `127.0.0.1` unless `health.host` says
   * otherwise), apart from any public listener of the program: the operations console, e.g.
   * `admin: serviceConsole({ users: await usersFromEnv() })`. Needs the health server.
   */
  readonly admin?: (context: AdminMountContext) => Promise<AdminMount>;
  /** Runs after the routers stopped and before the stores and log close (stop timers, flush). */
  readonly beforeClose?: () => void | Promise<void>;
  /**
   * How long the services' inbox entries are kept (`startInboxRetention`, hourly). Default 7
   * days; `false` keeps them for ever.
   */
  readonly inboxRetentionMs?: number | false;
  /**
   * Audit every group's guarantees this often (`startAuditMetrics`: `herald_audit_violations`
   * {group} on `/metrics`, violations logged as errors), over the events the inbox retention
   * still covers. Off by default: each round reads the groups' topics whole.
   */
  readonly auditIntervalMs?: number;
}

/**
 * Something the admin listener (the health server) serves beside `/healthz`, `/readyz` and
 * `/metrics`: the operations console (`serviceConsole` of `@herald/console`). Built once the
 * services run; closed when they have stopped, before the stores and the log close.
 */
export interface AdminMount {
  handle(request: IncomingMessage, response: ServerResponse): void;
  close(): Promise<void>;
}

/** What an {@link AdminMount} is built from. */
export interface AdminMountContext {
  readonly log: EventLog;
  readonly stores: ServiceStores;
  readonly registry: MetricsRegistry;
  /** The services this process runs, in the order given. */
  readonly services: readonly string[];
  readonly logger: Logger;
}

/** The services of a process, running. */
export interface ServiceHost extends AsyncDisposable {
  readonly log: EventLog;
  readonly stores: ServiceStores;
  readonly registry: MetricsRegistry;
  readonly supervisors: readonly ServiceSupervisor[];
  /** The health server, unless `health: false`. */
  readonly health: HealthServer | undefined;
  readonly description: string;
  /**
   * Ready when not stopping, every service is running (or deliberately paused) and the log
   * answers `listTopics` within a second.
   */
  readiness(): Promise<Readiness>;
  /**
   * Graceful shutdown: `/readyz` turns 503, every router stops fetching, finishes its work in
   * flight, commits and leaves its group; `beforeClose` runs; relays drain (bounded); stores and
   * log close; the health server closes last. Safe to call twice.
   */
  stop(): Promise<void>;
}

const LOG_PROBE_TIMEOUT_MS = 1_000;

/**
 * Creates every topic the services produce (when missing, `ensureTopic`), starts a supervisor
 * per service (running `prepare` first), registers consumer-lag metrics for every group, and
 * serves health. When a step fails, what was started is stopped and the resources are closed.
 */
export async function startServices(options: StartServicesOptions): Promise<ServiceHost> {
  const { log, stores } = options.resources;
  const logger = options.logger ?? SILENT_LOGGER;
  const registry = options.registry ?? withDefaultMetrics(metrics().registry);
  const names = options.services.map((s) => s.name);
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate !== undefined)
    throw new HeraldError('INVALID_ARGUMENT', `service ${duplicate} is given twice`);
  if (options.admin !== undefined && options.health === false)
    throw new HeraldError('INVALID_ARGUMENT', 'admin is served on the health server: it needs health');
  const supervisors: ServiceSupervisor[] = [];
  let health: HealthServer | undefined;
  let retention: InboxRetention | undefined;
  let audits: AuditMetrics | undefined;
  let admin: AdminMount | undefined;
  let stopping: Promise<void> | undefined;
  let shuttingDown = false;

  const stop = () =>
    (stopping ??= (async () => {
      shuttingDown = true;
      try {
        await Promise.all(supervisors.map((s) => s.stop()));
        await retention?.stop();
        await audits?.stop();
        await admin?.close();
        await options.beforeClose?.();
      } finally {
        try {
          await options.resources.close();
        } finally {
          await health?.close();
        }
      }
    })());

  const readiness = async (): Promise<Readiness> => {
    if (shuttingDown) return { ready: false, detail: 'shutting down' };
    const states = supervisors.map((s) => `${s.service.name}: ${s.state}`);
    if (!supervisors.every((s) => s.state !== 'stopped')) return { ready: false, detail: states.join(', ') };
    const probe = await probeLog(log);
    if (probe !== undefined) return { ready: false, detail: `log unreachable: ${probe}` };
    return { ready: true, detail: states.join(', ') };
  };

  try {
    if (options.createTopics !== false) {
      for (const definition of options.services) {
        for (const { topic, partitions } of definition.produces)
          await ensureTopic(log, topic, { partitions });
      }
    }
    const services = options.services.map((definition) => {
      const context: ServiceContext = {
        name: definition.name,
        log,
        store: stores.storeOf(definition.name),
        registry,
        logger,
        ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
      };
      return definition.create(context);
    });
    registerLagMetrics(
      log,
      services.flatMap((s) => s.groups),
      registry,
    );
    for (const service of services) {
      const supervisor = new ServiceSupervisor(service, {
        logger,
        ...(options.restartDelayMs === undefined ? {} : { restartDelayMs: options.restartDelayMs }),
      });
      supervisors.push(supervisor);
      await supervisor.start();
    }
    if (options.inboxRetentionMs !== false) {
      retention = startInboxRetention(
        options.services.map((s) => stores.storeOf(s.name)),
        {
          ...(options.inboxRetentionMs === undefined ? {} : { retentionMs: options.inboxRetentionMs }),
          onError: (error: unknown) =>
            logger.error('inbox retention failed; it runs again at the next interval', error),
        },
      );
    }
    if (options.auditIntervalMs !== undefined) {
      const retentionMs = options.inboxRetentionMs ?? DEFAULT_INBOX_RETENTION_MS;
      audits = startAuditMetrics(
        log,
        services.flatMap((service, i) =>
          service.groups.map((group) => ({ group, store: stores.storeOf(options.services[i]!.name) })),
        ),
        registry,
        {
          intervalMs: options.auditIntervalMs,
          // Older events may have lost their inbox entries to retention: they would read as skipped.
          ...(retentionMs === false ? {} : { audit: { since: (now: number) => now - retentionMs } }),
          onError: (error, group) =>
            logger.error(`the guarantee audit of ${group} failed; it runs again at the next interval`, error),
          onReport: (report) => {
            const count = auditViolationCount(report);
            if (count > 0)
              logger.error(
                `the guarantee audit of ${report.group} found ${count} violations (herald audit ${report.group})`,
                report.firstViolations,
              );
          },
        },
      );
    }
    if (options.admin !== undefined) {
      admin = await options.admin({ log, stores, registry, services: names, logger });
    }
    if (options.health !== false) {
      const mounted = admin;
      health = await startHealthServer({
        ...(options.health ?? {}),
        registry,
        readiness,
        ...(mounted === undefined
          ? {}
          : { fallback: (request, response) => mounted.handle(request, response) }),
      });
    }
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return {
    log,
    stores,
    registry,
    supervisors,
    health,
    description: options.resources.description,
    readiness,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Undefined when the log answers, else why not. */
async function probeLog(log: EventLog): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      log.listTopics(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${LOG_PROBE_TIMEOUT_MS} ms`)),
          LOG_PROBE_TIMEOUT_MS,
        );
      }),
    ]);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

/** The graceful shutdown `stopOnSignals` installed. */
export interface GracefulShutdown {
  /** Stops the same way a signal does, for another reason (a parent process gone, say). */
  trigger(reason: string): void;
  /** Removes the signal handlers. */
  remove(): void;
}

/**
 * On the first SIGTERM or SIGINT (or `trigger`): logs the reason, stops `host` gracefully, then
 * calls `exit(0)` — or `exit(1)` when stopping failed. Later signals while stopping are ignored.
 */
export function stopOnSignals(
  host: { stop(): Promise<void> },
  options: {
    readonly logger?: Logger;
    readonly exit?: (code: number) => void;
    readonly signals?: readonly NodeJS.Signals[];
  } = {},
): GracefulShutdown {
  const logger = options.logger ?? SILENT_LOGGER;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let stopping = false;
  const trigger = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${reason}: stopping — no new events; finishing and committing work in flight`);
    host.stop().then(
      () => {
        logger.info('stopped');
        exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', error);
        exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, trigger);
  return {
    trigger,
    remove() {
      for (const signal of signals) process.off(signal, trigger);
    },
  };
}

/** What `runServices` needs: the services, and optionally everything `openLogAndStores` and `startServices` take. */
export interface RunServicesOptions
  extends Omit<OpenLogAndStoresOptions, 'services'>, Omit<StartServicesOptions, 'resources' | 'health'> {
  /** Default: port `HERALD_HEALTH_PORT` (a free one when unset), host `HERALD_HEALTH_HOST` or 127.0.0.1. */
  readonly health?: { readonly port?: number; readonly host?: string } | false;
  /** Install SIGTERM/SIGINT handlers that stop gracefully and exit. Default true. */
  readonly handleSignals?: boolean;
}

/**
 * A process's whole life in one call: opens HERALD_LOG and HERALD_STORE, creates the topics,
 * starts and supervises the services, serves health, and stops gracefully on SIGTERM/SIGINT.
 *
 * @example
 * const host = await runServices({ services: [mailer], logger: console });
 * console.log(`ready; health on ${host.health?.url}`);
 */
export async function runServices(options: RunServicesOptions): Promise<ServiceHost> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? SILENT_LOGGER;
  const resources = await openLogAndStores({ ...options, services: options.services.map((s) => s.name) });
  const health = options.health ?? healthFromEnv(env);
  const host = await startServices({ ...options, resources, health });
  if (options.handleSignals !== false) stopOnSignals(host, { logger });
  return host;
}

/** `HERALD_HEALTH_PORT` and `HERALD_HEALTH_HOST`; a port that is not 0-65535 is refused. */
export function healthFromEnv(env: Readonly<Record<string, string | undefined>>): {
  readonly port: number;
  readonly host: string;
} {
  const raw = env['HERALD_HEALTH_PORT'];
  const port = raw === undefined || raw === '' ? 0 : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `HERALD_HEALTH_PORT must be a port number (0-65535), not ${JSON.stringify(raw)}`,
    );
  }
  return { port, host: env['HERALD_HEALTH_HOST'] || '127.0.0.1' };
}

/** `registry` with prom-client's default metrics of the process registered in it. */
function withDefaultMetrics(registry: MetricsRegistry): MetricsRegistry {
  collectDefaultMetrics({ register: registry });
  return registry;
}
