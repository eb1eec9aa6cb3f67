// `npm start`: the whole order system in one process on the embedded log — the API, the saga,
// inventory, payment, fraud, notification, loyalty and analytics, each in its own consumer
// group. The services run in an engine thread and the API in the main thread (HERALD_THREADS=1:
// one thread for everything). Seeds the catalog and stock from catalog.json on first start; stops gracefully on
// SIGTERM/SIGINT (stop taking requests, finish and commit work in flight, close the log), and
// the same way when started with an IPC channel (a test, the lab) that closes: its parent is gone.
//
// Environment: HERALD_LOG (default sqlite:./.herald/herald.db), HERALD_STORE (default: the
// state lives in the log's file; postgres://… for a schema per service and an outbox relay,
// needed on Kafka or NATS), PORT (3000), HOST (127.0.0.1),
// HERALD_CATALOG, HERALD_ADMIN_TOKEN (generated when unset and written, never printed, to
// HERALD_ADMIN_TOKEN_FILE, default .herald/admin-token), HERALD_FAULTS,
// HERALD_PARTITIONS, HERALD_SESSION_TIMEOUT_MS, HERALD_RATE_LIMIT, HERALD_THREADS,
// HERALD_ADMIN_PORT and HERALD_ADMIN_HOST (the admin API on a listener of its own),
// HERALD_CONSOLE_PORT (3001) and HERALD_CONSOLE_HOST (127.0.0.1) for the operations console
// (HERALD_CONSOLE=off: none), whose users come from HERALD_CONSOLE_USERS or
// HERALD_CONSOLE_ADMIN_PASSWORD, else an admin whose generated password is written, never
// printed, to HERALD_CONSOLE_PASSWORD_FILE (default .herald/console-admin-password), HERALD_HEALTH_PORT (health
// and metrics on a port of their own too, besides the API's), HERALD_LOG_LEVEL (JSON logs on
// stdout; default info), and OTEL_* for traces and OTLP metrics (telemetry.ts).
import { healthFromEnv, stopOnSignals } from '@herald/service';
import { stopWhenParentGone } from '@herald/orders-domain/parent-process.ts';
import { saveGeneratedToken } from './admin-token.ts';
import { configFromEnv } from './config.ts';
import { createLogger, orExit, serviceLogger } from './logger.ts';
import { listenOrExit } from './listen.ts';
import { redactUrl } from '@herald/core';
import { startOrdersConsole } from './ops-console.ts';
import { engineFailureStop } from './engine/engine-failure.ts';
import { openOrderSystem } from './system.ts';
import { startTelemetry } from './telemetry.ts';

const telemetry = await orExit(() => startTelemetry('herald-orders'));
const config = await orExit(() => configFromEnv());
const log = await orExit(() => createLogger('herald-orders'));
const logger = serviceLogger(log);
const health = process.env['HERALD_HEALTH_PORT'] ? await orExit(() => healthFromEnv(process.env)) : undefined;
const engineFailure = engineFailureStop();
const system = await orExit(() =>
  openOrderSystem({
    engineThread: config.threads === 2,
    onEngineFailure: engineFailure.onEngineFailure,
    logUrl: config.logUrl,
    ...(config.storeUrl === undefined ? {} : { storeUrl: config.storeUrl }),
    catalogPath: config.catalogPath,
    partitions: config.partitions,
    faults: config.faults,
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
const api = system.api!;
// Before the API listens: once /readyz answers, the banner and its files follow at once.
const opsConsole = await orExit(async () => {
  try {
    return await startOrdersConsole(system);
  } catch (error) {
    await system.stop();
    throw error;
  }
});
const base = await listenOrExit(api.app, config, system);
const adminBase =
  api.admin === undefined || config.admin === undefined
    ? base
    : await listenOrExit(api.admin, config.admin, system);

console.log(`
Herald order system on ${redactUrl(config.logUrl)}
  state      ${system.storeDescription}
  API        ${base}            OpenAPI: ${base}/openapi.json
  health     ${base}/healthz   ${base}/readyz   metrics: ${base}/metrics${system.healthUrl === undefined ? '' : `   (also on ${system.healthUrl})`}
  services   ${system
    .services()
    .map((s) => `${s.name} (${s.groups.join(', ')})`)
    .join(
      '\n             ',
    )}${config.threads === 2 ? '\n             (in an engine thread; the API has the main thread)' : ''}
  telemetry  ${telemetry?.description ?? 'off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces, OTEL_METRICS_EXPORTER=otlp for metrics too)'}
  logs       JSON lines on stdout, with trace_id and span_id inside a span (HERALD_LOG_LEVEL, default info)
  console    ${opsConsole === undefined ? 'off (HERALD_CONSOLE=off)' : `${opsConsole.server.url}   ${opsConsole.passwordFile === undefined ? '(users from HERALD_CONSOLE_USERS or HERALD_CONSOLE_ADMIN_PASSWORD)' : `user admin, password in ${opsConsole.passwordFile} (generated, readable by you only)`}`}
  admin      ${adminBase}/admin/faults with "Authorization: Bearer ${api.generatedToken ? `$(cat ${saveGeneratedToken(api.adminToken, config.adminTokenFile)})" (a generated token, in a file only you can read; set HERALD_ADMIN_TOKEN to choose one)` : '<HERALD_ADMIN_TOKEN>"'}

Place an order and watch it converge:
  curl -si ${base}/orders -H 'content-type: application/json' \\
    -d '{"customerId":"ada","items":[{"sku":"LAMP-01","quantity":1}],"shippingCountry":"DE"}'
  curl -s '${base}/orders/<orderId>?wait=5'
  curl -sN ${base}/orders/<orderId>/events
Look at the log:  npx herald tail orders --follow
Stop with Ctrl-C (SIGINT) or SIGTERM: in-flight work is finished and committed first.
`);

const shutdown = stopOnSignals(
  {
    stop: async () => {
      await opsConsole?.server.close();
      await system.stop();
      await telemetry?.shutdown();
    },
  },
  { logger, exit: engineFailure.exit },
);
stopWhenParentGone(() => shutdown.trigger('parent gone'));
engineFailure.stopOnFailure(shutdown, logger);
