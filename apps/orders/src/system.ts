// Wires the order system: the log and stores, the services a process runs, and — when it runs
// the orders service — the HTTP API. `main.ts` runs everything in one process; `service-main.ts`
// runs one service per process on a shared log file, or on Kafka/NATS with a Postgres store per
// service; tests open exactly what they need.
import { randomBytes } from 'node:crypto';
import { type EventLog, type Store, openEventLog, openStore } from '@herald/core';
import { metrics, registerLagMetrics } from '@herald/core/metrics';
import { tracingPublish } from '@herald/core/tracing';
import { openLogFromUrl } from '@herald/sqlite';
import type { FastifyInstance } from 'fastify';
import { loadCatalogFile } from '@herald/orders-domain/catalog-file.ts';
import { type CatalogItem, indexCatalog } from '@herald/orders-domain/catalog.ts';
import { DEFAULT_FRAUD_RULES, type FraudRules } from '@herald/orders-domain/fraud.ts';
import { DEFAULT_GATEWAY_RULES, type GatewayRules } from '@herald/orders-domain/payment.ts';
import { type HttpOptions, buildHttpApp } from './http/app.ts';
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
import { type Logger, type Service, type ServiceContext, ServiceRunner } from './services/service-kit.ts';
import { type ServiceStores, embeddedServiceStores, openPostgresServiceStores } from './service-stores.ts';
import { registerSqliteMetrics } from './sqlite-metrics.ts';
import { redactUrl } from './store-url.ts';
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
  /** Faults to set at start (they are shared through the store with every process). */
  readonly faults?: Partial<Record<DownstreamService, FaultUpdate>>;
  /** How often fault settings are re-read: default 250 ms on the embedded store, 1 s on Postgres. */
  readonly faultPollIntervalMs?: number;
  /** Random source of injected faults (default Math.random); tests pass a predictable one. */
  readonly faultRandom?: () => number;
  readonly logger?: Logger;
  /** The API, when the process runs `orders`. `false`: no API. */
  readonly http?: (Omit<HttpOptions, 'adminToken'> & { readonly adminToken?: string }) | false;
}

/** The API of a process that runs the orders service. */
export interface OrderApi {
  readonly app: FastifyInstance;
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
  readonly registry: ServiceContext['registry'];
  readonly runners: readonly ServiceRunner[];
  readonly api: OrderApi | undefined;
  /**
   * Graceful shutdown: stop taking requests (waiting reads end), stop every consumer (finish
   * work in flight, commit, leave the group), let the relays publish what the outboxes hold
   * (bounded), close the stores and the log. Safe to call twice.
   */
  stop(): Promise<void>;
}

const SILENT: Logger = { info: () => undefined, error: () => undefined };

/** Services whose state the API reads: `GET /inventory/:sku`, `/loyalty/:id`, `/analytics`. */
const API_READS: readonly ServiceName[] = ['inventory', 'loyalty', 'analytics'];
const POSTGRES_FAULT_POLL_MS = 1000;

/**
 * Opens the log and store, creates the topics, starts the chosen services (seeding catalog and
 * stock on first start) and builds the API. The API is not listening yet: `system.api.app.listen`.
 *
 * @example
 * await using system = await openOrderSystem({ logUrl: 'sqlite:./.herald/herald.db' });
 * await system.api!.app.listen({ port: 3000 });
 */
export async function openOrderSystem(options: OrderSystemOptions): Promise<OrderSystem> {
  const { storeUrl } = options;
  if (storeUrl === undefined && !options.logUrl.startsWith('sqlite:')) {
    throw new Error(
      `without HERALD_STORE the order system keeps its state in the embedded log's file, so HERALD_LOG must be a sqlite: URL, not ${redactUrl(options.logUrl)}; ` +
        'on Kafka or NATS give it a store: HERALD_STORE=postgres://…',
    );
  }
  const logger = options.logger ?? SILENT;
  const names = options.services ?? SERVICES;
  let log: EventLog;
  let stores: ServiceStores;
  if (storeUrl === undefined) {
    const sqliteLog = await openLogFromUrl(options.logUrl);
    log = sqliteLog;
    stores = embeddedServiceStores(await openStore(options.logUrl, { log: sqliteLog }));
  } else {
    log = await openEventLog(options.logUrl);
    try {
      stores = await openPostgresServiceStores({
        url: storeUrl,
        log,
        services: names,
        // The API serves stock, loyalty points and analytics from those services' schemas.
        readers: names.includes('orders') && options.http !== false ? API_READS : [],
        logger,
      });
    } catch (error) {
      await log.close().catch(() => undefined);
      throw error;
    }
  }
  const store = stores.storeOf(names.includes('orders') ? 'orders' : (names[0] ?? 'orders'));
  const runners: ServiceRunner[] = [];
  // On Postgres every process re-reads the fault settings from the database: once a second keeps
  // an idle deployment quiet (a change made through one process reaches the others within 1 s).
  const faultPollIntervalMs =
    options.faultPollIntervalMs ?? (stores.kind === 'postgres' ? POSTGRES_FAULT_POLL_MS : undefined);
  const faults = new FaultController(stores.faults, {
    ...(faultPollIntervalMs === undefined ? {} : { pollIntervalMs: faultPollIntervalMs }),
    ...(options.faultRandom === undefined ? {} : { random: options.faultRandom }),
  });
  const shutdown = new AbortController();
  let api: OrderApi | undefined;
  let stopping: Promise<void> | undefined;

  const stop = () =>
    (stopping ??= (async () => {
      shutdown.abort();
      await api?.app.close();
      await Promise.all(runners.map((r) => r.stop()));
      faults.stop();
      try {
        await stores.close();
      } finally {
        await log.close();
      }
    })());

  try {
    await ensureTopics(log, options.partitions ?? DEFAULT_PARTITIONS);
    await faults.start();
    for (const [service, update] of Object.entries(options.faults ?? {})) {
      if (update !== undefined) await faults.update(service as DownstreamService, update);
    }
    const registry = metrics().registry;
    const shared: ServiceContext = {
      log,
      store,
      faults,
      registry,
      logger,
      ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    };
    const catalog = options.catalog ?? (await loadCatalogFile(options.catalogPath));
    const changes = new ViewChanges();
    const services = names.map((name) =>
      serviceOf(name, { ...shared, store: stores.storeOf(name) }, { ...options, catalog, changes }),
    );
    registerLagMetrics(
      log,
      services.flatMap((s) => s.groups),
      registry,
    );
    registerSqliteMetrics(log, registry);
    for (const service of services) {
      const runner = new ServiceRunner(service, { ...shared, store: stores.storeOf(service.name) });
      runners.push(runner);
      await runner.start();
    }

    if (names.includes('orders') && options.http !== false) {
      const http = options.http ?? {};
      const placement = new OrderPlacement({
        store,
        catalog: indexCatalog(await readCatalog(store)),
        publish: [tracingPublish()],
      });
      const queries = new OrderQueries({ log, store, changes });
      const adminToken = http.adminToken ?? randomBytes(24).toString('base64url');
      const app = buildHttpApp(
        {
          log,
          store,
          storeOf: (service) => stores.storeOf(service),
          placement,
          queries,
          faults,
          registry,
          shutdown: shutdown.signal,
          readiness: () => {
            if (shutdown.signal.aborted) return { ready: false, detail: 'shutting down' };
            const states = runners.map((r) => `${r.service.name}: ${r.state}`);
            const ready = runners.every((r) => r.state !== 'stopped');
            return { ready, detail: states.join(', ') };
          },
          onError: (message, error) => logger.error(message, error),
        },
        { ...http, adminToken },
      );
      await app.ready();
      api = { app, placement, queries, adminToken, generatedToken: http.adminToken === undefined };
    }
    return {
      log,
      store,
      storeOf: (service) => stores.storeOf(service),
      storeDescription: stores.description,
      faults,
      registry,
      runners,
      api,
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
  context: ServiceContext,
  options: OrderSystemOptions & { catalog: readonly CatalogItem[]; changes: ViewChanges },
): Service {
  switch (name) {
    case 'orders':
      return ordersService(context, { catalog: options.catalog, changes: options.changes });
    case 'inventory':
      return inventoryService(context, { catalog: options.catalog });
    case 'payment':
      return paymentService(context, { rules: options.gatewayRules ?? DEFAULT_GATEWAY_RULES });
    case 'fraud':
      return fraudService(context, { rules: options.fraudRules ?? DEFAULT_FRAUD_RULES });
    case 'notification':
      return notificationService(context);
    case 'loyalty':
      return loyaltyService(context);
    case 'analytics':
      return analyticsService(context);
  }
}
