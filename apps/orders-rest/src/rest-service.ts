// One service of the REST baseline in this process: its own SQLite store (`<service>.db`), its
// own Fastify server, and the fault settings every service of the baseline shares through a
// control store (`faults.db`, the same FaultController the event-driven services use). An outage
// of a downstream service closes its listener, so callers get refused connections, and
// re-opens it on the same port when the outage is lifted.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Store } from '@herald/core';
import { type SqliteLog, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { type CatalogItem, indexCatalog } from '@herald/orders-domain/catalog.ts';
import { DEFAULT_FRAUD_RULES } from '@herald/orders-domain/fraud.ts';
import { DEFAULT_GATEWAY_RULES } from '@herald/orders-domain/payment.ts';
import { LIMITS } from '@herald/orders-domain/http/schemas.ts';
import { FaultController, type FaultSettings, type FaultUpdate } from '@herald/orders-domain/faults.ts';
import { seedStock } from '@herald/orders-domain/stock-levels.ts';
import { DEFAULT_RETRY_POLICY, DownstreamClient, type RetryPolicy } from './downstream-client.ts';
import { fraudApi } from './fraud-api.ts';
import { inventoryApi } from './inventory-api.ts';
import { notificationApi } from './notification-api.ts';
import { RestOrderChain } from './order-chain.ts';
import { ordersApi } from './orders-api.ts';
import { paymentApi } from './payment-api.ts';
import { installErrorHandler } from './rest-http.ts';

/** The services of the REST baseline, each its own process and HTTP server. */
export const REST_SERVICES = ['orders', 'fraud', 'inventory', 'payment', 'notification'] as const;

export type RestServiceName = (typeof REST_SERVICES)[number];

/** Ports of the services: orders on `base`, the others on the next four ports. */
export function restPorts(base: number): Readonly<Record<RestServiceName, number>> {
  return { orders: base, fraud: base + 1, inventory: base + 2, payment: base + 3, notification: base + 4 };
}

export interface RestServiceOptions {
  readonly service: RestServiceName;
  /** Every service's store lives here, one file each, plus the shared `faults.db`. */
  readonly dataDir: string;
  readonly host: string;
  /** The orders service's port; the others follow (see restPorts). */
  readonly basePort: number;
  readonly catalog: readonly CatalogItem[];
  /** Enables the admin endpoints of the orders service. */
  readonly adminToken?: string;
  /** Faults in force from the start (each service applies its own). */
  readonly faults?: Partial<Record<string, FaultUpdate>>;
  /** The stores' durability, as the event-driven system's log. Default `full`. */
  readonly synchronous?: 'full' | 'normal';
  /** The orders service's calls. */
  readonly retryPolicy?: RetryPolicy;
}

/** A running service; `close` stops listening, closes connections and the stores. */
export interface RestService extends AsyncDisposable {
  readonly service: RestServiceName;
  readonly url: string;
  close(): Promise<void>;
}

async function openStore(
  path: string,
  synchronous: 'full' | 'normal',
): Promise<{ log: SqliteLog; store: Store }> {
  const log = await openSqliteLog({ path, synchronous, retentionIntervalMs: 0 });
  return { log, store: await openSqliteStore(log) };
}

/** Starts one service of the REST baseline in this process. */
export async function openRestService(options: RestServiceOptions): Promise<RestService> {
  const { service, dataDir, host } = options;
  const synchronous = options.synchronous ?? 'full';
  const ports = restPorts(options.basePort);
  const port = ports[service];
  await mkdir(dataDir, { recursive: true });
  const own = await openStore(join(dataDir, `${service}.db`), synchronous);
  const control = await openStore(join(dataDir, 'faults.db'), synchronous);
  const faults = new FaultController(control.store);
  const initial = options.faults?.[service];
  if (service !== 'orders' && initial !== undefined) await faults.update(service, initial);
  await faults.start();

  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: LIMITS.bodyBytes,
    forceCloseConnections: true,
  });
  installErrorHandler(app);
  // A downstream shows the faults it applies, so a caller can tell when a change took effect.
  app.get('/healthz', async () =>
    service === 'orders'
      ? { status: 'ok', service }
      : { status: 'ok', service, faults: faults.settings(service) },
  );
  const store = own.store;
  switch (service) {
    case 'fraud':
      fraudApi(app, { store, faults, rules: DEFAULT_FRAUD_RULES });
      break;
    case 'inventory':
      await seedStock(store, options.catalog);
      inventoryApi(app, { store, faults });
      break;
    case 'payment':
      paymentApi(app, { store, faults, rules: DEFAULT_GATEWAY_RULES });
      break;
    case 'notification':
      notificationApi(app, { store, faults });
      break;
    case 'orders': {
      const policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
      const url = (s: RestServiceName) => `http://${host}:${ports[s]}`;
      const clients = {
        fraud: new DownstreamClient('fraud', url('fraud'), policy),
        inventory: new DownstreamClient('inventory', url('inventory'), policy),
        payment: new DownstreamClient('payment', url('payment'), policy),
        notification: new DownstreamClient('notification', url('notification'), policy),
      };
      const chain = new RestOrderChain({ store, catalog: indexCatalog(options.catalog), clients });
      ordersApi(app, {
        store,
        chain,
        faults,
        clients: Object.values(clients),
        downstreamUrls: (['fraud', 'inventory', 'payment', 'notification'] as const).map(url),
        adminToken: options.adminToken,
      });
      break;
    }
  }
  await app.ready();

  const server = app.server;
  let transition = Promise.resolve();
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve();
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const unlisten = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  const follow = (settings: FaultSettings) => {
    transition = transition.then(() => (settings.outage ? unlisten() : listen())).catch(() => undefined);
  };
  let unsubscribe: () => unknown = () => undefined;
  if (service !== 'orders') {
    unsubscribe = faults.onChange((changed, settings) => {
      if (changed === service) follow(settings);
    });
    if (!faults.settings(service).outage) await listen();
  } else {
    await listen();
  }

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    faults.stop();
    await transition;
    await unlisten();
    await app.close().catch(() => undefined);
    await own.log.close();
    await control.log.close();
  };
  return { service, url: `http://${host}:${port}`, close, [Symbol.asyncDispose]: close };
}
