// One process per service (or several services in one process):
//
//   node apps/orders/src/service-main.ts <service> [<service> …]
//
// services: orders (the API on PORT + the saga + the order view), inventory, payment, fraud,
// notification, loyalty, analytics. Every process opens the same HERALD_LOG: a shared embedded
// log file, whose file also holds the state, or Kafka/NATS with HERALD_STORE=postgres://…, where
// each service keeps its state and outbox in its own schema and publishes the outbox through its
// relay. A second process of one service shares its partitions (and stands by as its relay), and
// a killed one's partitions move to the survivors after HERALD_SESSION_TIMEOUT_MS. Prints
// "ready: <services>" once its consumers run. Every process serves /healthz, /readyz and
// /metrics: the API's port for `orders`, else the service kit's health server on
// HERALD_HEALTH_PORT (a free port when unset; printed) and HERALD_HEALTH_HOST. Stops gracefully
// on SIGTERM/SIGINT. Environment otherwise as for main.ts (HERALD_ADMIN_PORT too, for the process
// that runs orders). The process that runs orders serves the API on its main thread and runs its
// services' consumers in an engine thread, as main.ts does (HERALD_THREADS=1: all on one).
import { healthFromEnv, stopOnSignals } from '@herald/service';
import { stopWhenParentGone } from '@herald/orders-domain/parent-process.ts';
import { saveGeneratedToken } from './admin-token.ts';
import { configFromEnv } from './config.ts';
import { createLogger, orExit, serviceLogger } from './logger.ts';
import { listenOrExit } from './listen.ts';
import { redactUrl } from '@herald/core';
import { engineFailureStop } from './engine/engine-failure.ts';
import { openOrderSystem } from './system.ts';
import { startTelemetry } from './telemetry.ts';
import { SERVICES, type ServiceName, isServiceName } from '@herald/orders-domain/topology.ts';

const names = process.argv.slice(2);
const unknown = names.filter((n) => !isServiceName(n));
if (names.length === 0 || unknown.length > 0) {
  console.error(
    `usage: node apps/orders/src/service-main.ts <service> [<service> …]\n  services: ${SERVICES.join(', ')}` +
      (unknown.length > 0 ? `\n  unknown: ${unknown.join(', ')}` : ''),
  );
  process.exit(2);
}
const services = [...new Set(names)] as ServiceName[];

const telemetry = await orExit(() => startTelemetry(`herald-orders-${services.join('-')}`));
const config = await orExit(() => configFromEnv());
const log = await orExit(() => createLogger(`herald-orders-${services.join('-')}`));
const logger = serviceLogger(log);
const runsApi = services.includes('orders');
// The API serves health on its port; a process without it gets the kit's health server.
const health =
  !runsApi || process.env['HERALD_HEALTH_PORT'] ? await orExit(() => healthFromEnv(process.env)) : undefined;
// The process that serves the API runs its consumers in an engine thread (HERALD_THREADS=2, the
// default), as `npm start` does, so a request never waits for handler code.
const engineThread = runsApi && config.threads === 2;
const engineFailure = engineFailureStop();
const system = await orExit(() =>
  openOrderSystem({
    engineThread,
    onEngineFailure: engineFailure.onEngineFailure,
    logUrl: config.logUrl,
    ...(config.storeUrl === undefined ? {} : { storeUrl: config.storeUrl }),
    catalogPath: config.catalogPath,
    partitions: config.partitions,
    faults: config.faults,
    services,
    logger,
    httpLogger: log,
    ...(health === undefined ? {} : { health }),
    ...(config.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: config.sessionTimeoutMs }),
    ...(config.decisionTimeoutMs === undefined ? {} : { decisionTimeoutMs: config.decisionTimeoutMs }),
    http: {
      rateLimit: config.rateLimit,
      adminListener: config.admin !== undefined,
      ...(config.adminToken === undefined ? {} : { adminToken: config.adminToken }),
    },
  }),
);
telemetry?.exportMetrics(system.registry);
if (system.api !== undefined) {
  console.log(`orders API on ${await listenOrExit(system.api.app, config, system)}`);
  if (system.api.admin !== undefined && config.admin !== undefined) {
    console.log(`admin API on ${await listenOrExit(system.api.admin, config.admin, system)}`);
  }
  if (system.api.generatedToken) {
    const file = saveGeneratedToken(system.api.adminToken, config.adminTokenFile);
    console.log(`admin token (generated) in ${file}, readable by you only`);
  }
}
console.log(
  `ready: ${services.join(', ')} on ${redactUrl(config.logUrl)}, state in ${system.storeDescription}` +
    (system.healthUrl === undefined ? '' : `; health on ${system.healthUrl}`),
);

const shutdown = stopOnSignals(
  {
    stop: async () => {
      await system.stop();
      await telemetry?.shutdown();
    },
  },
  { logger, exit: engineFailure.exit },
);
// Started with an IPC channel (a test, a benchmark): stops when that parent is gone.
stopWhenParentGone(() => shutdown.trigger('parent gone'));
engineFailure.stopOnFailure(shutdown, logger);
