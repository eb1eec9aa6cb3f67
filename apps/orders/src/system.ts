// Wires the order system: the log and stores, the services a process runs, and — when it runs
// the orders service — the HTTP API. `main.ts` runs everything in one process; `service-main.ts`
// runs one service per process on a shared log file, or on Kafka/NATS with a Postgres store per
// service; tests open exactly what they need.
import { randomBytes } from 'node:crypto';
import { type EventLog, HeraldError, type PublishMiddleware, type Store } from '@herald/core';
import { metrics, publishMetrics, renderMetrics } from '@herald/core/metrics';
import { tracingPublish } from '@herald/core/tracing';
import {
  type Logger,
  type MetricsRegistry,
  type PostgresStoreSettings,
  SILENT_LOGGER,
  type ServiceDefinition,
  type ServiceHost,
  type ServiceResources,
  type ServiceSupervisor,
  openLogAndStores,
  startServices,
} from '@herald/service';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadCatalogFile } from '@herald/orders-domain/catalog-file.ts';
import { type CatalogItem, indexCatalog } from '@herald/orders-domain/catalog.ts';
import { DEFAULT_FRAUD_RULES, type FraudRules } from '@herald/orders-domain/fraud.ts';
import { DEFAULT_GATEWAY_RULES, type GatewayRules } from '@herald/orders-domain/payment.ts';
import { type EngineThread, startEngineThread } from './engine/engine-client.ts';
import type { ServiceStatus } from './engine/engine-protocol.ts';
import { type HttpOptions, buildHttpApp, closeApi } from './http/app.ts';
import type { RenderedMetrics } from './http/operations-routes.ts';
import { analyticsService } from './services/analytics/analytics-service.ts';
import { FaultController, type FaultUpdate } from '@herald/orders-domain/faults.ts';
import { fraudService } from './services/fraud/fraud-service.ts';
import { inventoryService } from './services/inventory/inventory-service.ts';
import { loyaltyService } from './services/loyalty/loyalty-service.ts';
import { notificationService } from './services/notification/notification-service.ts';
import { OrderPlacement } from './services/orders/order-placement.ts';
import { OrderQueries } from './services/orders/order-queries.ts';
import { ordersService, readCatalog } from './services/orders/orders-service.ts';
import { ViewChanges } from './services/orders/view-changes.ts';
import { paymentService } from './services/payment/payment-service.ts';
import type { FlowDeps } from './services/flow.ts';
import { registerSqliteMetrics } from './sqlite-metrics.ts';
import {
  DEFAULT_PARTITIONS,
  type DownstreamService,
  SERVICES,
  type ServiceName,
  ensureTopics,
} from '@herald/orders-domain/topology.ts';

/** What a process of the order system runs, and how. */
export interface OrderSystemOptions {
  /**
   * HERALD_LOG. Without `storeUrl` it must be a `sqlite:` URL: the store shares the embedded
   * log's file (the outbox is the log). With `storeUrl`, any log (`kafka://…`, `nats://…`,
   * `sqlite:…`).
   */
  readonly logUrl: string;
  /**
   * HERALD_STORE, `postgres://…[?schemaPrefix=…]`: each service keeps its state and outbox in its
   * own schema, and a relay per service publishes the outbox to the log. Default: the embedded
   * log's file.
   */
  readonly storeUrl?: string;
  /** Services this process runs. Default: all of them. */
  readonly services?: readonly ServiceName[];
  /** Default: read from `catalogPath`, else `apps/orders-domain/catalog.json`. Seeds the store once. */
  readonly catalog?: readonly CatalogItem[];
  readonly catalogPath?: string;
  readonly fraudRules?: FraudRules;
  readonly gatewayRules?: GatewayRules;
  /** Partitions of topics created now. */
  readonly partitions?: number;
  readonly sessionTimeoutMs?: number;
  /**
   * How long an order may stay undecided before the saga rejects it with `decision-timeout`
   * (HERALD_DECISION_TIMEOUT_MS). Default 30 s.
   */
  readonly decisionTimeoutMs?: number;
  /** Faults to set at start (they are shared through the store with every process). */
  readonly faults?: Partial<Record<DownstreamService, FaultUpdate>>;
  /** How often fault settings are re-read: default 250 ms on the embedded store, 1 s on Postgres. */
  readonly faultPollIntervalMs?: number;
  /** Random source of injected faults (default Math.random); tests pass a predictable one. */
  readonly faultRandom?: () => number;
  readonly logger?: Logger;
  /** The API's logger (JSON access-log lines with trace ids). Default: the API logs nothing. */
  readonly httpLogger?: FastifyBaseLogger;
  /**
   * Register prom-client's default metrics (`process_*`, `nodejs_*`) in `registry`, which
   * `/metrics` serves. Default true; false for the engine thread, whose process already has them.
   */
  readonly defaultMetrics?: boolean;
  /** The API, when the process runs `orders`. `false`: no API. */
  readonly http?:
    | (Omit<HttpOptions, 'adminToken' | 'routes'> & {
        readonly adminToken?: string;
        /**
         * Serve `/admin/*` from an app of its own (`api.admin`, to listen on another port, e.g.
         * one only operators reach) instead of the API's. Default false.
         */
        readonly adminListener?: boolean;
      })
    | false;
  /**
   * Serve `/healthz`, `/readyz` and `/metrics` on a port of their own (the service kit's health
   * server), for a process without the API or a probe that must not share the API's port.
   * Default: none (the API serves them).
   */
  readonly health?: { readonly port?: number; readonly host?: string } | false;
  /**
   * Run the services in a worker thread (the engine thread: consumers, handlers, the log's
   * writer) and only the API on this one. On the embedded log the API sends the store
   * transaction of `POST /orders` to the engine thread (the file's one writer); on Postgres it
   * runs it through this thread's own pool. Needs the API (`orders` among the services).
   * `npm start` and the process of `service-main.ts` that runs `orders` do this; `faultRandom`
   * cannot cross threads and is not used then. Default false: everything here.
   */
  readonly engineThread?: boolean;
  /** The engine thread failed while running (with `engineThread`): stop and exit. */
  readonly onEngineFailure?: (error: Error) => void;
  /** Where the order view signals its changes. Default: a new one. */
  readonly viewChanges?: ViewChanges;
}

export type { ServiceStatus } from './engine/engine-protocol.ts';

/** The API of a process that runs the orders service. */
export interface OrderApi {
  readonly app: FastifyInstance;
  /** The admin API's own app, with `http.adminListener` (not listening yet). */
  readonly admin: FastifyInstance | undefined;
  readonly placement: OrderPlacement;
  readonly queries: OrderQueries;
  readonly adminToken: string;
  /** Whether `adminToken` was generated (nobody configured one): print it. */
  readonly generatedToken: boolean;
}

/** A running process of the order system. */
export interface OrderSystem extends AsyncDisposable {
  readonly log: EventLog;
  /**
   * The orders service's store (else the first service's). On the embedded store every service
   * shares it; on Postgres, `storeOf` has the others.
   */
  readonly store: Store;
  /** The store of a service this process runs (or, for the API, reads). */
  storeOf(service: ServiceName): Store;
  /** Where the state lives, for the start-up banner (passwords redacted). */
  readonly storeDescription: string;
  readonly faults: FaultController;
  readonly registry: MetricsRegistry;
  /**
   * The publish middleware of a producer writing into this system's stores (`OrderPlaced`): a
   * span per publish, and, where the store's transaction writes straight into the log (the
   * embedded store), the producer metrics; on Postgres the relays count what they publish.
   */
  readonly publishMiddleware: readonly PublishMiddleware[];
  /** One supervisor per service this thread runs (none with `engineThread`). */
  readonly runners: readonly ServiceSupervisor[];
  /** The services this process runs, in this thread or the engine thread, and their states now. */
  services(): readonly ServiceStatus[];
  readonly api: OrderApi | undefined;
  /** The kit's health server, when `health` asked for one. */
  readonly healthUrl: string | undefined;
  /** The engine thread, with `engineThread`. */
  readonly engine: EngineThread | undefined;
  /**
   * Graceful shutdown: stop taking requests (waiting reads end), stop every consumer (finish
   * work in flight, commit, leave the group), let the relays publish what the outboxes hold
   * (bounded), close the stores and the log. Safe to call twice.
   */
  stop(): Promise<void>;
}

/** Services whose state the API reads: `GET /inventory/:sku`, `/loyalty/:id`, `/analytics`. */
const API_READS: readonly ServiceName[] = ['inventory', 'loyalty', 'analytics'];
const POSTGRES_FAULT_POLL_MS = 1000;
/** The schema every process reads and writes fault settings in. */
const FAULTS = 'faults';

/**
 * How each service's Postgres schema is opened. Repeatable read, not serializable: every handler
 * writes what it read (a document, a stock level, the inbox entry), and Postgres fails the later
 * of two concurrent writers of one row with a serialization failure that the store runs again,
 * so no update is lost. Serializable adds predicate locks on index pages that, on these small
 * tables, fail unrelated transactions too. Group commit for every service: handler transactions
 * run one after another in shared Postgres transactions, so hot documents (the analytics
 * funnel, a SKU's stock, an order's saga) stop failing and running again, and a commit carries
 * many events. The transaction behind `POST /orders` is urgent: it runs alone, beside the
 * running group, never queued behind the consumers (ADR 0018). The fault settings keep the
 * store's defaults.
 */
function postgresSettings(service: string): PostgresStoreSettings {
  if (service === FAULTS) return {};
  return { isolation: 'repeatable read', groupCommit: true };
}

/**
 * Opens the log and store, creates the topics, starts the chosen services (seeding catalog and
 * stock on first start) and builds the API. The API is not listening yet: `system.api.app.listen`.
 *
 * @example
 * await using system = await openOrderSystem({ logUrl: 'sqlite:./.herald/herald.db' });
 * await system.api!.app.listen({ port: 3000 });
 */
export async function openOrderSystem(options: OrderSystemOptions): Promise<OrderSystem> {
  const logger = options.logger ?? SILENT_LOGGER;
  const names = options.services ?? SERVICES;
  const withApi = names.includes('orders') && options.http !== false;
  if (options.engineThread === true && !withApi) {
    throw new HeraldError('INVALID_ARGUMENT', 'engineThread needs the API: the orders service with http');
  }
  const inEngine = options.engineThread === true;
  // The process's registry, which `/metrics` serves. With the engine thread the consumers'
  // metrics live in that thread's registry; this one has the API's and the runtime's.
  const registry = inEngine ? new Registry() : metrics().registry;
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const resources: ServiceResources = await openLogAndStores({
    logUrl: options.logUrl,
    ...(options.storeUrl === undefined ? {} : { storeUrl: options.storeUrl }),
    // What the options say, never the process environment.
    env: {},
    // With the engine thread, the services (and on Postgres their outbox relays) run there, and
    // this thread opens only the orders service's store, for the API, without a relay of its
    // own: the engine thread's relay publishes what the API commits (a commit wakes it).
    services: inEngine ? [] : names,
    // The API serves stock, loyalty points and analytics from those services' schemas; every
    // process shares the fault settings.
    readers: [...(inEngine ? ['orders' as const] : []), ...(withApi ? API_READS : []), FAULTS],
    postgres: postgresSettings,
    // On Postgres the relays publish what the services emit: a send span and the producer
    // metrics per append (with the engine thread, in that thread's registry: /metrics renders
    // both, and a metric must be in one only).
    relayMiddleware: [
      tracingPublish(),
      ...(options.storeUrl === undefined || inEngine ? [] : [publishMetrics({ registry })]),
    ],
    logger,
  });
  const { log, stores } = resources;
  const publishMiddleware: readonly PublishMiddleware[] = [
    tracingPublish({ log }),
    // (With the engine thread, that thread records the orders: its registry has them.)
    ...(stores.kind === 'postgres' || inEngine ? [] : [publishMetrics({ registry, log })]),
  ];
  const storeOf = (service: ServiceName): Store => stores.storeOf(service);
  const store = storeOf(names.includes('orders') ? 'orders' : (names[0] ?? 'orders'));
  // On Postgres every process re-reads the fault settings from the database: once a second keeps
  // an idle deployment quiet (a change made through one process reaches the others within 1 s).
  const faultPollIntervalMs =
    options.faultPollIntervalMs ?? (stores.kind === 'postgres' ? POSTGRES_FAULT_POLL_MS : undefined);
  const faults = new FaultController(stores.storeOf(FAULTS), {
    ...(faultPollIntervalMs === undefined ? {} : { pollIntervalMs: faultPollIntervalMs }),
    ...(options.faultRandom === undefined ? {} : { random: options.faultRandom }),
  });
  const shutdown = new AbortController();
  let host: ServiceHost | undefined;
  let engine: EngineThread | undefined;
  let api: OrderApi | undefined;
  let stopping: Promise<void> | undefined;

  const stop = () =>
    (stopping ??= (async () => {
      shutdown.abort();
      if (api !== undefined) await Promise.all([closeApi(api.app), api.admin?.close()]);
      await engine?.stop();
      if (host !== undefined) {
        await host.stop();
      } else {
        faults.stop();
        await resources.close();
      }
    })());

  try {
    const partitions = options.partitions ?? DEFAULT_PARTITIONS;
    // Every topic of the flow, created when missing; existing topics keep their partitions.
    await ensureTopics(log, partitions);
    await faults.start();
    for (const [service, update] of Object.entries(options.faults ?? {})) {
      if (update !== undefined) await faults.update(service as DownstreamService, update);
    }
    const catalog = options.catalog ?? (await loadCatalogFile(options.catalogPath));
    const changes = options.viewChanges ?? new ViewChanges();
    let services: () => readonly ServiceStatus[];
    let renderConsumerMetrics: () => Promise<RenderedMetrics>;
    if (inEngine) {
      engine = await startEngineThread(
        {
          logUrl: options.logUrl,
          ...(options.storeUrl === undefined ? {} : { storeUrl: options.storeUrl }),
          services: names,
          catalog,
          ...(options.fraudRules === undefined ? {} : { fraudRules: options.fraudRules }),
          ...(options.gatewayRules === undefined ? {} : { gatewayRules: options.gatewayRules }),
          partitions,
          ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
          ...(options.decisionTimeoutMs === undefined
            ? {}
            : { decisionTimeoutMs: options.decisionTimeoutMs }),
          ...(options.faultPollIntervalMs === undefined
            ? {}
            : { faultPollIntervalMs: options.faultPollIntervalMs }),
          ...(options.health === undefined || options.health === false ? {} : { health: options.health }),
        },
        {
          logger,
          onViewsChanged: (orderIds) => {
            for (const orderId of orderIds) changes.notify(orderId);
          },
          onFailure: (error) => options.onEngineFailure?.(error),
        },
      );
      const running = engine;
      changes.onWaiting((orders) => running.setWaitingViews(orders));
      services = () => running.services();
      renderConsumerMetrics = async () => {
        const [own, engineThread] = await Promise.all([renderMetrics(registry), running.metrics()]);
        return { contentType: own.contentType, body: `${engineThread.body}\n${own.body}` };
      };
    } else {
      const deps: FlowDeps = { faults, partitions };
      registerSqliteMetrics(log, registry);
      const started = await startServices({
        services: names.map((name) => serviceOf(name, deps, { ...options, catalog, changes })),
        resources,
        registry,
        logger,
        createTopics: false,
        health: options.health ?? false,
        beforeClose: () => faults.stop(),
        ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
      });
      host = started;
      services = () =>
        started.supervisors.map((r) => ({ name: r.service.name, groups: r.service.groups, state: r.state }));
      renderConsumerMetrics = () => renderMetrics(registry);
    }

    if (withApi) {
      const http = options.http ?? {};
      // The embedded log's file has one writer, the engine thread's: the API sends its
      // transaction there. A Postgres store takes writers from any thread, so with the engine
      // thread the API records orders through this thread's own pool, never waiting for a turn
      // of the consumers' event loop.
      const placement = new OrderPlacement({
        store,
        catalog: indexCatalog(await readCatalog(store)),
        ...(engine === undefined || stores.kind === 'postgres'
          ? { publish: publishMiddleware }
          : { recorder: engine.recorder }),
      });
      const queries = new OrderQueries({ log, store, changes });
      const adminToken = http.adminToken ?? randomBytes(24).toString('base64url');
      const { adminListener = false, ...httpOptions } = http;
      const build = (routes: 'all' | 'public' | 'admin') =>
        buildHttpApp(
          {
            log,
            store,
            storeOf,
            placement,
            queries,
            faults,
            metrics: renderConsumerMetrics,
            registry,
            ...(options.httpLogger === undefined ? {} : { logger: options.httpLogger }),
            shutdown: shutdown.signal,
            readiness: () => {
              if (shutdown.signal.aborted) return { ready: false, detail: 'shutting down' };
              const now = services();
              const ready = now.every((s) => s.state !== 'stopped');
              return { ready, detail: now.map((s) => `${s.name}: ${s.state}`).join(', ') };
            },
            onError: (message, error) => logger.error(message, error),
          },
          { ...httpOptions, adminToken, routes },
        );
      const app = build(adminListener ? 'public' : 'all');
      const admin = adminListener ? build('admin') : undefined;

      await app.ready();
      await admin?.ready();
      api = { app, admin, placement, queries, adminToken, generatedToken: http.adminToken === undefined };
    }
    return {
      log,
      store,
      storeOf,
      storeDescription: stores.description,
      faults,
      registry,
      publishMiddleware,
      runners: host?.supervisors ?? [],
      services,
      api,
      healthUrl: host?.health?.url ?? engine?.healthUrl,
      engine,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

function serviceOf(
  name: ServiceName,
  deps: FlowDeps,
  options: OrderSystemOptions & { catalog: readonly CatalogItem[]; changes: ViewChanges },
): ServiceDefinition {
  switch (name) {
    case 'orders':
      return ordersService(deps, {
        catalog: options.catalog,
        changes: options.changes,
        ...(options.decisionTimeoutMs === undefined ? {} : { decisionTimeoutMs: options.decisionTimeoutMs }),
      });
    case 'inventory':
      return inventoryService(deps, { catalog: options.catalog });
    case 'payment':
      return paymentService(deps, { rules: options.gatewayRules ?? DEFAULT_GATEWAY_RULES });
    case 'fraud':
      return fraudService(deps, { rules: options.fraudRules ?? DEFAULT_FRAUD_RULES });
    case 'notification':
      return notificationService(deps);
    case 'loyalty':
      return loyaltyService(deps);
    case 'analytics':
      return analyticsService(deps);
  }
}
