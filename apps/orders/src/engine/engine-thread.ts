// The engine thread of `npm start`: every service of the order system (their consumer groups,
// handlers and store transactions, the log's writer and its group commit) runs here, in a worker
// thread, while the API thread serves HTTP. A request never waits for handler code to give the
// event loop back, and the process uses a second core. The API thread sends the store
// transaction of `POST /orders` here (an urgent one: it leads the next group commit), so the
// log file keeps one writer and one group commit for everything.
//
// Contract with the API thread (engine-client.ts): posts `ready` once every service runs (or
// `failed-to-start`, then ends); answers each request with `reply` or `reply-error` under its
// id; posts `services` when a service's state changes and `views-changed` (batched per turn)
// when order views commit; forwards its log lines. On `stop` it stops the services gracefully
// (work in flight finished and committed), replies, and ends.
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { ROOT_CONTEXT, context, propagation } from '@opentelemetry/api';
import { renderMetrics } from '@herald/core/metrics';
import { SqliteLog } from '@herald/sqlite';
import type { Logger } from '@herald/service';
import { OrderRecorder } from '../services/orders/order-placement.ts';
import { ViewChanges } from '../services/orders/view-changes.ts';
import { type OrderSystem, openOrderSystem } from '../system.ts';
import { startTelemetry } from '../telemetry.ts';
import { carry } from './carried-error.ts';
import type {
  EngineMessage,
  EngineRequest,
  EngineSettings,
  RecordReply,
  RecordRequest,
  ReplyValue,
  ServiceStatus,
} from './engine-protocol.ts';

/** How often service states are compared with the last ones posted. */
const STATE_POLL_MS = 100;

const port = parentPort;
if (port === null) throw new Error('engine-thread.ts runs as a worker thread of the order system');
const { settings, records, waitingViews } = workerData as {
  settings: EngineSettings;
  records: MessagePort;
  /** How many orders the API thread's readers wait for (engine-client.ts `setWaitingViews`). */
  waitingViews: Int32Array;
};
const post = (message: EngineMessage): void => port.postMessage(message);

const logger: Logger = {
  info: (message) => post({ kind: 'log', level: 'info', message }),
  error: (message, error) =>
    post({ kind: 'log', level: 'error', message, ...(error === undefined ? {} : { error: carry(error) }) }),
};

/**
 * Signals view changes to this thread's waiters and, once per turn, to the API thread's while it
 * has any (a message per turn costs this thread more than the rest of a turn's view update).
 */
class ForwardedViewChanges extends ViewChanges {
  readonly #changed = new Set<string>();

  override notify(orderId: string): void {
    super.notify(orderId);
    if (Atomics.load(waitingViews, 0) === 0) return;
    if (this.#changed.size === 0) setImmediate(() => this.#flush());
    this.#changed.add(orderId);
  }

  #flush(): void {
    post({ kind: 'views-changed', orderIds: [...this.#changed] });
    this.#changed.clear();
  }
}

// Traces and OTLP metrics when the environment asks for them, as in the API thread (the thread
// inherits its env).
const telemetry = startTelemetry('herald-orders');
let system: OrderSystem;
try {
  system = await openOrderSystem({
    logUrl: settings.logUrl,
    ...(settings.storeUrl === undefined ? {} : { storeUrl: settings.storeUrl }),
    services: settings.services,
    catalog: settings.catalog,
    ...(settings.fraudRules === undefined ? {} : { fraudRules: settings.fraudRules }),
    ...(settings.gatewayRules === undefined ? {} : { gatewayRules: settings.gatewayRules }),
    partitions: settings.partitions,
    ...(settings.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: settings.sessionTimeoutMs }),
    ...(settings.decisionTimeoutMs === undefined ? {} : { decisionTimeoutMs: settings.decisionTimeoutMs }),
    ...(settings.faultPollIntervalMs === undefined
      ? {}
      : { faultPollIntervalMs: settings.faultPollIntervalMs }),
    health: settings.health ?? false,
    viewChanges: new ForwardedViewChanges(),
    logger,
    http: false,
    // The API thread's registry has the process's default metrics.
    defaultMetrics: false,
  });
} catch (error) {
  post({ kind: 'failed-to-start', error: carry(error) });
  await telemetry?.shutdown();
  port.close();
  process.exitCode = 1;
  throw error;
}

// The consumers' metrics go over OTLP from this thread (the API thread exports its own).
telemetry?.exportMetrics(system.registry);
const recorder = new OrderRecorder({
  store: system.storeOf('orders'),
  publish: system.publishMiddleware,
});

/** Starts recording one order; its reply is posted once the transaction is durable (or failed). */
function record(request: RecordRequest): void {
  // The request's span in the API thread is the parent of the OrderPlaced append's span.
  const parent = propagation.extract(ROOT_CONTEXT, request.trace);
  context
    .with(parent, () => recorder.record(request.order, request.idempotencyKey, request.fingerprint))
    .then(
      (outcome) => records.postMessage({ id: request.id, outcome } satisfies RecordReply),
      (error: unknown) => records.postMessage({ id: request.id, error: carry(error) } satisfies RecordReply),
    );
}
records.on('message', record);
// While a backlog of handler transactions keeps this thread's loop busy, the write queue takes
// orders off the channel between operations: they join the running transaction.
if (system.log instanceof SqliteLog) {
  system.log.pollForUrgentWork(() => {
    for (let m = receiveMessageOnPort(records); m !== undefined; m = receiveMessageOnPort(records)) {
      record(m.message as RecordRequest);
    }
  });
}
const statuses = (): ServiceStatus[] =>
  system.runners.map((r) => ({ name: r.service.name, groups: r.service.groups, state: r.state }));
let posted = JSON.stringify(statuses());
const stateTimer = setInterval(() => {
  const now = statuses();
  const text = JSON.stringify(now);
  if (text === posted) return;
  posted = text;
  post({ kind: 'services', services: now });
}, STATE_POLL_MS);
stateTimer.unref();

async function answer(request: EngineRequest): Promise<ReplyValue> {
  switch (request.kind) {
    case 'metrics':
      return renderMetrics(system.registry);
    case 'crash':
      setImmediate(() => {
        throw new Error('crash injected into the engine thread');
      });
      return null;
    case 'stop':
      clearInterval(stateTimer);
      await system.stop();
      records.close();
      await telemetry?.shutdown();
      return null;
  }
}

port.on('message', (request: EngineRequest) => {
  answer(request).then(
    (value) => {
      post({ kind: 'reply', id: request.id, value });
      if (request.kind === 'stop') port.close();
    },
    (error: unknown) => {
      post({ kind: 'reply-error', id: request.id, error: carry(error) });
      if (request.kind === 'stop') port.close();
    },
  );
});
post({
  kind: 'ready',
  services: statuses(),
  ...(system.healthUrl === undefined ? {} : { healthUrl: system.healthUrl }),
});
