// The two systems the lab compares, each started as it is documented: the event-driven system
// with `apps/orders/src/main.ts` (all services in one process on the embedded log), the REST
// baseline with `apps/orders-rest/src/start-rest-baseline.ts` (one process per service). Each
// gets its own ports and data folder. Faults go through each system's admin endpoint; counters
// come from its own endpoints (`/metrics`, `/admin/stats`); after the run, what each order
// became is read from the system's files.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventLog, type Store, type StoredEvent } from '@herald/core';
import { type SqliteLog, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { OrderView } from '@herald/orders-domain/order-view.ts';
import { isSettled } from '@herald/orders-domain/order-view.ts';
import type { PlacedOrder } from '@herald/orders-domain/order.ts';
import { REST_COLLECTIONS, type Repair, type RestOutcome } from '@herald/orders-rest/order-chain.ts';
import { restPorts } from '@herald/orders-rest/rest-service.ts';
import type { FaultUpdate } from '@herald/orders-domain/faults.ts';
import { orderFactOf } from '@herald/orders-app/services/facts.ts';
import type { MailboxMessage } from '@herald/orders-domain/simulated-mailbox.ts';
import { VIEW_TOPICS } from '@herald/orders-app/services/orders/order-projection.ts';
import { COLLECTIONS, type DownstreamService } from '@herald/orders-domain/topology.ts';
import {
  type ChildSystem,
  cleanEnv,
  findFreePorts,
  startChildSystem,
} from '@herald/orders-domain/testing/child-system.ts';
import type { OrderRecord } from './reconcile.ts';

export type Architecture = 'event-driven' | 'rest';

export const ARCHITECTURES: readonly Architecture[] = ['event-driven', 'rest'];

/** Counters a system keeps over its life; the lab takes differences around each run. */
export interface SystemCounters {
  /** Handler attempts after the first (event-driven) or downstream call attempts after the first (REST). */
  readonly retries: number;
  /** Events not yet consumed, over every consumer group; null for REST (no log). */
  readonly lag: number | null;
}

/** A system under test. */
export interface LabSystem {
  readonly architecture: Architecture;
  /** `POST` orders here. */
  readonly ordersUrl: string;
  /** What was run, for the report. */
  readonly command: string;
  /** Admin calls and counter reads throw an error naming the call when it fails. */
  setFault(service: DownstreamService, update: FaultUpdate): Promise<void>;
  clearFaults(): Promise<void>;
  counters(): Promise<SystemCounters>;
  stop(): Promise<void>;
  /** After `stop`: every order the system recorded, by customer id. */
  collect(): Promise<Map<string, OrderRecord>>;
  /** The started process (the root of its process tree), for CPU and memory accounting. */
  readonly pid?: number;
  /** The system's Prometheus endpoint, when it has one. */
  readonly metricsUrl?: string;
}

const EDA_SCRIPT = fileURLToPath(import.meta.resolve('@herald/orders-app/main.ts'));
const REST_SCRIPT = fileURLToPath(import.meta.resolve('@herald/orders-rest/start-rest-baseline.ts'));
const READ_CHUNK = 2_000;
/** Admin calls and counter reads: a system this slow to answer them is failing them. */
const ADMIN_TIMEOUT_MS = 10_000;

/** Sums every sample of `metric` in a Prometheus text exposition. */
export function sumMetric(text: string, metric: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

/**
 * One call of a system's admin or metrics endpoint (as `LabSystem` makes them); returns the body of a 2xx answer, and throws
 * an error naming the call and why it failed otherwise (no answer in time, no connection, an
 * error status): the caller decides what a failed call means.
 */
export async function call(
  method: string,
  url: string,
  options: { readonly token?: string; readonly body?: unknown; readonly timeoutMs?: number } = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? ADMIN_TIMEOUT_MS;
  const what = `${method} ${new URL(url).pathname}`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    const why =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : `${error instanceof Error ? error.message : String(error)}${cause}`;
    throw new Error(`${what}: ${why}`, { cause: error });
  }
  if (!response.ok) throw new Error(`${what} answered ${response.status}: ${text.slice(0, 500)}`);
  return text;
}

async function* eventsOf(log: EventLog, topic: string): AsyncGenerator<StoredEvent> {
  const { partitionInfo } = await log.describeTopic(topic);
  for (const { partition, earliest, latest } of partitionInfo) {
    let from = earliest;
    while (from < latest) {
      const events = await log.read(topic, { partition, from: { offset: from }, limit: READ_CHUNK });
      if (events.length === 0) break;
      yield* events;
      from = events[events.length - 1]!.offset + 1;
    }
  }
}

function messagesPerOrder(messages: readonly MailboxMessage[]): Map<string, number> {
  const ids = new Map<string, Set<string>>();
  for (const message of messages) {
    if (message.kind !== 'order-confirmed' && message.kind !== 'order-rejected') continue;
    let set = ids.get(message.orderId);
    if (set === undefined) ids.set(message.orderId, (set = new Set()));
    set.add(message.messageId);
  }
  return new Map([...ids].map(([orderId, set]) => [orderId, set.size]));
}

async function openForReading(path: string): Promise<SqliteLog> {
  return openSqliteLog({ path, integrityCheck: 'off', retentionIntervalMs: 0 });
}

/** Reads what the event-driven system recorded: the log's events, the order views, the mailbox. */
export async function collectEventDriven(path: string): Promise<Map<string, OrderRecord>> {
  const log = await openForReading(path);
  try {
    const store = await openSqliteStore(log);
    return await collectOrders(log, store, store);
  } finally {
    await log.close();
  }
}

/**
 * What an event-driven system recorded, from any log and stores: the facts on the log, the
 * order views in `views` (the orders service's store) and the messages in `mailbox` (the
 * notification service's store; the same store on the embedded log).
 */
export async function collectOrders(
  log: EventLog,
  views: Store,
  mailbox: Store,
): Promise<Map<string, OrderRecord>> {
  const placed = new Map<string, { customerId: string }>();
  const decidedAt = new Map<string, number>();
  const lastFactAt = new Map<string, number>();
  const topics = new Set((await log.listTopics()).map((t) => t.name));
  for (const topic of VIEW_TOPICS) {
    if (!topics.has(topic)) continue;
    for await (const event of eventsOf(log, topic)) {
      const decoded = orderFactOf(event);
      if (decoded === undefined) continue;
      const { orderId, fact } = decoded;
      const at = Date.parse(fact.at);
      lastFactAt.set(orderId, Math.max(lastFactAt.get(orderId) ?? 0, at));
      if (fact.type === 'order-placed') placed.set(orderId, { customerId: fact.order.customerId });
      if (fact.type === 'order-confirmed' || fact.type === 'order-rejected') decidedAt.set(orderId, at);
    }
  }
  const deadLetters = new Map<string, number>();
  for (const topic of topics) {
    if (!topic.endsWith('.dead-letter')) continue;
    for await (const event of eventsOf(log, topic)) {
      const orderId = event.partitionkey ?? event.subject ?? '';
      deadLetters.set(orderId, (deadLetters.get(orderId) ?? 0) + 1);
    }
  }
  const viewsById = new Map(
    (await views.list<OrderView>(COLLECTIONS.orderViews)).map(({ id, value }) => [id, value] as const),
  );
  const messages = messagesPerOrder(
    (await mailbox.list<MailboxMessage>(COLLECTIONS.mailbox)).map(({ value }) => value),
  );
  const records = new Map<string, OrderRecord>();
  for (const [orderId, { customerId }] of placed) {
    const view = viewsById.get(orderId);
    records.set(customerId, {
      orderId,
      customerId,
      status: view?.status ?? 'pending',
      decidedAt: decidedAt.get(orderId) ?? null,
      settled: view !== undefined && isSettled(view),
      lastFactAt: lastFactAt.get(orderId) ?? null,
      messages: messages.get(orderId) ?? 0,
      deadLetters: deadLetters.get(orderId) ?? 0,
    });
  }
  return records;
}

/** Reads what the REST baseline recorded: orders, views and outcomes of orders, the mailbox. */
export async function collectRest(dataDir: string): Promise<Map<string, OrderRecord>> {
  const ordersLog = await openForReading(join(dataDir, 'orders.db'));
  const notificationLog = await openForReading(join(dataDir, 'notification.db'));
  try {
    const orders = await openSqliteStore(ordersLog);
    const notification = await openSqliteStore(notificationLog);
    const views = new Map(
      (await orders.list<OrderView>(COLLECTIONS.orderViews)).map(({ id, value }) => [id, value] as const),
    );
    const outcomes = new Map(
      (await orders.list<RestOutcome>(REST_COLLECTIONS.outcomes)).map(
        ({ id, value }) => [id, value] as const,
      ),
    );
    const repairs = new Map<string, number>();
    for (const { value } of await orders.list<Repair>(REST_COLLECTIONS.repairs)) {
      repairs.set(value.orderId, (repairs.get(value.orderId) ?? 0) + 1);
    }
    const messages = messagesPerOrder(
      (await notification.list<MailboxMessage>(COLLECTIONS.mailbox)).map(({ value }) => value),
    );
    const records = new Map<string, OrderRecord>();
    for (const { value: order } of await orders.list<PlacedOrder>(COLLECTIONS.orders)) {
      const view = views.get(order.orderId);
      const outcome = outcomes.get(order.orderId);
      const status = outcome?.outcome === 'failed' ? 'failed' : (view?.status ?? 'pending');
      records.set(order.customerId, {
        orderId: order.orderId,
        customerId: order.customerId,
        status,
        decidedAt:
          status === 'confirmed' || status === 'rejected' ? Date.parse(outcome?.at ?? view!.updatedAt) : null,
        settled: view !== undefined && isSettled(view),
        lastFactAt: view === undefined ? null : Date.parse(view.updatedAt),
        messages: messages.get(order.orderId) ?? 0,
        deadLetters: repairs.get(order.orderId) ?? 0,
      });
    }
    return records;
  } finally {
    await ordersLog.close();
    await notificationLog.close();
  }
}

export interface StartOptions {
  readonly dataDir: string;
  readonly catalogPath: string;
  readonly adminToken: string;
  /** SQLite `synchronous` of every database of the system; `full` is both systems' default. */
  readonly durability: 'full' | 'normal';
  /** How long the system may take to answer `/readyz` (default: `startChildSystem`'s). */
  readonly readyTimeoutMs?: number;
  /** Node options for the system's process, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
}

/** Starts the event-driven system (`node apps/orders/src/main.ts`) on free ports. */
export async function startEventDriven(options: StartOptions): Promise<LabSystem> {
  const port = await findFreePorts(1);
  const dbPath = join(options.dataDir, 'herald.db');
  const base = `http://127.0.0.1:${port}`;
  const env = {
    HERALD_LOG: `sqlite:${dbPath}${options.durability === 'full' ? '' : `?synchronous=${options.durability}`}`,
    PORT: String(port),
    HOST: '127.0.0.1',
    HERALD_CATALOG: options.catalogPath,
    HERALD_ADMIN_TOKEN: options.adminToken,
    // The lab is one client sending every order: the per-client limit would refuse the load.
    HERALD_RATE_LIMIT: '0',
    // No access-log line per request: the REST baseline it is compared with writes none.
    HERALD_LOG_LEVEL: 'warn',
  };
  const child = await startChildSystem({
    name: 'event-driven system',
    script: EDA_SCRIPT,
    env: cleanEnv(env),
    readyUrl: `${base}/readyz`,
    ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
  });
  return {
    architecture: 'event-driven',
    ordersUrl: `${base}/orders`,
    command: `HERALD_LOG=sqlite:<dir>/herald.db${options.durability === 'full' ? '' : `?synchronous=${options.durability}`} PORT=<port> HERALD_RATE_LIMIT=0 HERALD_LOG_LEVEL=warn HERALD_CATALOG=<lab catalog> node apps/orders/src/main.ts`,
    setFault: (service, update) =>
      call('PUT', `${base}/admin/faults/${service}`, { token: options.adminToken, body: update }).then(
        () => undefined,
      ),
    clearFaults: () =>
      call('DELETE', `${base}/admin/faults`, { token: options.adminToken }).then(() => undefined),
    counters: async () => {
      const text = await call('GET', `${base}/metrics`);
      return {
        retries: sumMetric(text, 'herald_events_retried_total'),
        lag: sumMetric(text, 'herald_consumer_lag'),
      };
    },
    stop: () => stopChild(child),
    collect: () => collectEventDriven(dbPath),
    ...(child.process.pid === undefined ? {} : { pid: child.process.pid }),
    metricsUrl: `${base}/metrics`,
  };
}

/** Starts the REST baseline (`node apps/orders-rest/src/start-rest-baseline.ts`) on free ports. */
export async function startRest(options: StartOptions): Promise<LabSystem> {
  const port = await findFreePorts(5);
  const base = `http://127.0.0.1:${restPorts(port).orders}`;
  const child = await startChildSystem({
    name: 'REST baseline',
    script: REST_SCRIPT,
    args: [
      '--port',
      String(port),
      '--data-dir',
      options.dataDir,
      '--catalog',
      options.catalogPath,
      '--synchronous',
      options.durability,
    ],
    env: cleanEnv({ HERALD_ADMIN_TOKEN: options.adminToken }),
    readyUrl: `${base}/readyz`,
    ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
  });
  return {
    architecture: 'rest',
    ordersUrl: `${base}/orders`,
    command: `node apps/orders-rest/src/start-rest-baseline.ts --port <port> --data-dir <dir> --catalog <lab catalog> --synchronous ${options.durability}`,
    setFault: (service, update) =>
      call('PUT', `${base}/admin/faults/${service}`, { token: options.adminToken, body: update }).then(
        () => undefined,
      ),
    clearFaults: () =>
      call('DELETE', `${base}/admin/faults`, { token: options.adminToken }).then(() => undefined),
    counters: async () => {
      const stats = JSON.parse(
        await call('GET', `${base}/admin/stats`, { token: options.adminToken, timeoutMs: 30_000 }),
      ) as {
        retries?: unknown;
      };
      if (typeof stats.retries !== 'number') throw new Error('GET /admin/stats answered without retries');
      return { retries: stats.retries, lag: null };
    },
    stop: () => stopChild(child),
    collect: () => collectRest(options.dataDir),
    ...(child.process.pid === undefined ? {} : { pid: child.process.pid }),
  };
}

async function stopChild(child: ChildSystem): Promise<void> {
  await child.stop(30_000);
  const code = child.process.exitCode;
  if (code !== null && code !== 0) {
    throw new Error(`${child.name} exited with ${code} when stopped:\n${child.output()}`);
  }
}
