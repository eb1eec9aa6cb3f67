import diagnostics from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StoredEvent } from '../../envelope.ts';
import { HeraldError, isHeraldError } from '../../errors.ts';
import type { EventLog, GroupDescription } from '../../event-log.ts';
import { type GroupLag, lagOfDescription } from '../../group-lag.ts';
import type { Handler, Middleware } from '../handler.ts';
import { parkedKeys } from '../key-parking.ts';
import type { PublishMiddleware } from '../producer.ts';
import type { Store } from '../store.ts';
import { DEAD_LETTER_CHANNEL, type DeadLetterMessage } from './dead-letter.ts';

export interface MetricsOptions {
  /**
   * Where the metrics are registered. Default: a new registry for this call (read it from the
   * middleware's `registry`). Routers may share one registry: each `metrics()` call on it reuses
   * the metrics already there.
   */
  readonly registry?: Registry;
  /** Starts every metric name instead of `herald_`. */
  readonly prefix?: string;
}

/** The `metrics` middleware and the registry its metrics live in. */
export type MetricsMiddleware = Middleware & { readonly registry: Registry };

type EventLabel = 'group' | 'topic' | 'type';
type LagLabel = 'group' | 'topic' | 'partition';
type Labels = Readonly<Record<EventLabel, string>>;

const DEFAULT_PREFIX = 'herald_';

/**
 * Prometheus metrics of handling, labelled by consumer group, topic and event type:
 *
 * - `herald_events_processed_total`: handler calls that succeeded;
 * - `herald_events_failed_total`: handler calls that threw (an attempt interrupted by a shutdown
 *   is neither: it is redelivered);
 * - `herald_events_retried_total`: handler calls that were a second or later attempt;
 * - `herald_handler_duration_seconds`: a histogram of the calls that succeeded or failed;
 * - `herald_events_dead_lettered_total`: events `deadLetter` parked. Counted from
 *   `DEAD_LETTER_CHANNEL`, for events this middleware saw, wherever it sits in the chain.
 *
 * Put it inside `retry` so that it sees every attempt; outermost it sees one call per delivery
 * (and no retries, except attempts resumed after a restart).
 *
 * @example
 * const measured = metrics();
 * router.use(deadLetter(), retry(), measured, idempotency({ store }));
 * http.createServer(async (_, res) => {
 *   const { contentType, body } = await renderMetrics(measured.registry);
 *   res.writeHead(200, { 'content-type': contentType }).end(body);
 * });
 */
export function metrics(options: MetricsOptions = {}): MetricsMiddleware {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const labelNames: EventLabel[] = ['group', 'topic', 'type'];
  const processed = counter(
    registry,
    `${prefix}events_processed_total`,
    'Handler calls that succeeded.',
    labelNames,
  );
  const failed = counter(registry, `${prefix}events_failed_total`, 'Handler calls that threw.', labelNames);
  const retried = counter(
    registry,
    `${prefix}events_retried_total`,
    'Handler calls that were a second or later attempt.',
    labelNames,
  );
  const duration = histogram(
    registry,
    `${prefix}handler_duration_seconds`,
    'Duration of handler calls that succeeded or failed.',
    labelNames,
  );
  const deadLettered = countDeadLetters(
    counter(
      registry,
      `${prefix}events_dead_lettered_total`,
      'Events parked in a dead-letter topic.',
      labelNames,
    ),
  );
  const labelSets = new LabelSets();
  const middleware =
    (next: Handler): Handler =>
    async (event, context) => {
      const labels = labelSets.of(context.group, event.topic, event.type);
      deadLettered.saw(event, context.group);
      if (context.attempt > 1) retried.inc(labels);
      const startedAt = performance.now();
      try {
        await next(event, context);
      } catch (error) {
        if (!context.signal.aborted) {
          duration.observe(labels, (performance.now() - startedAt) / 1000);
          failed.inc(labels);
        }
        throw error;
      }
      duration.observe(labels, (performance.now() - startedAt) / 1000);
      processed.inc(labels);
    };
  return Object.assign(middleware, { registry });
}

/**
 * Counts `DEAD_LETTER_CHANNEL` messages about events seen through `saw` (the channel is
 * process-wide; several routers with their own registries each count only their own events).
 * The subscription holds the counter weakly and ends itself once the middleware is gone.
 */
function countDeadLetters(deadLettered: Counter<EventLabel>): {
  saw(event: StoredEvent, group: string): void;
} {
  const state: DeadLetterCount = { deadLettered, seen: new Map() };
  subscribeWeakly(new WeakRef(state));
  return {
    saw(event, group) {
      let seen = state.seen.get(group);
      if (seen === undefined) state.seen.set(group, (seen = new WeakSet()));
      seen.add(event);
    },
  };
}

interface DeadLetterCount {
  readonly deadLettered: Counter<EventLabel>;
  /** Per group, the events seen. */
  readonly seen: Map<string, WeakSet<StoredEvent>>;
}

/** Its own scope, so that the subscriber's closure cannot keep `state` alive. */
function subscribeWeakly(ref: WeakRef<DeadLetterCount>): void {
  const onMessage = (message: unknown): void => {
    const current = ref.deref();
    if (current === undefined) {
      diagnostics.unsubscribe(DEAD_LETTER_CHANNEL, onMessage);
      return;
    }
    const { event, group } = message as DeadLetterMessage;
    if (current.seen.get(group)?.has(event) === true) {
      current.deadLettered.inc({ group, topic: event.topic, type: event.type });
    }
  };
  diagnostics.subscribe(DEAD_LETTER_CHANNEL, onMessage);
}

/** Buckets the OpenTelemetry semantic conventions advise for operation durations, in seconds. */
export const DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

type PublishLabel =
  'messaging_system' | 'messaging_operation_name' | 'messaging_destination_name' | 'error_type';

export interface PublishMetricsOptions {
  /** Where the metrics are registered (several producers may share one). Default: a new registry. */
  readonly registry?: Registry;
  /**
   * The log the events go to (or that an outbox relays them to), whose
   * `capabilities.telemetry.system` is the `messaging_system` label. Default: the producer's
   * sink when it is a log, else `herald`.
   */
  readonly log?: Pick<EventLog, 'capabilities'>;
}

/**
 * Producer metrics, named by the OpenTelemetry messaging semantic conventions as a Prometheus
 * exporter names them, labelled by `messaging_system`, `messaging_operation_name` (`send`),
 * `messaging_destination_name` (the topic) and, for a failed publish, `error_type` (the
 * `HeraldError` code or the error's name):
 *
 * - `messaging_client_sent_messages_total`: events the producer published or tried to;
 * - `messaging_client_operation_duration_seconds`: a histogram of publish calls (a batch is one
 *   call), with the buckets the conventions advise.
 *
 * @example
 * const producer = createProducer({ log, source: '/orders', middleware: [publishMetrics({ registry })] });
 */
export function publishMetrics(options: PublishMetricsOptions = {}): PublishMiddleware & {
  readonly registry: Registry;
} {
  const registry = options.registry ?? new Registry();
  const labelNames: PublishLabel[] = [
    'messaging_system',
    'messaging_operation_name',
    'messaging_destination_name',
    'error_type',
  ];
  const sent = reuse(
    registry,
    'messaging_client_sent_messages_total',
    Counter,
    () =>
      new Counter({
        name: 'messaging_client_sent_messages_total',
        help: 'Messages a producer published or tried to publish.',
        labelNames,
        registers: [registry],
      }),
  );
  const duration = reuse(
    registry,
    'messaging_client_operation_duration_seconds',
    Histogram,
    () =>
      new Histogram({
        name: 'messaging_client_operation_duration_seconds',
        help: 'Duration of publish calls.',
        labelNames,
        buckets: [...DURATION_BUCKETS],
        registers: [registry],
      }),
  );
  const middleware: PublishMiddleware = (next, sink) => {
    const system = (options.log ?? sink)?.capabilities.telemetry.system ?? 'herald';
    return async (topic, events) => {
      const labels = {
        messaging_system: system,
        messaging_operation_name: 'send',
        messaging_destination_name: topic,
      };
      const startedAt = performance.now();
      try {
        const results = await next(topic, events);
        duration.observe(labels, (performance.now() - startedAt) / 1000);
        sent.inc(labels, events.length);
        return results;
      } catch (error) {
        const failed = { ...labels, error_type: errorTypeOf(error) };
        duration.observe(failed, (performance.now() - startedAt) / 1000);
        sent.inc(failed, events.length);
        throw error;
      }
    };
  };
  return Object.assign(middleware, { registry });
}

function errorTypeOf(error: unknown): string {
  return isHeraldError(error) ? error.code : error instanceof Error ? error.name : '_OTHER';
}

/** The metric `name` already in `registry` when it is of `type`, else a new one. */
function reuse<M>(
  registry: Registry,
  name: string,
  type: abstract new (...args: never[]) => M,
  create: () => M,
): M {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof type) return existing;
  if (existing !== undefined) throw notOurs(name);
  return create();
}

/**
 * Registers the gauge `herald_consumer_lag` {group, topic, partition}: events appended but not
 * yet committed by each group, read from `log.describeGroup` when the registry is collected
 * (on each scrape), so it costs nothing between scrapes. A failing `describeGroup` fails the
 * scrape rather than reporting stale lag. Beside it, `herald_consumer_lag_seconds` {group,
 * topic, partition}: the age of the oldest event the group has not consumed (`groupLag` in
 * `@herald/core/ops`; 0 when it lags by nothing), which costs one read of one event per lagging
 * partition and scrape; and `herald_consumer_group_members` {group}: the group's live members
 * as the same description has them (0: no consumer holds its partitions, and its lag grows).
 * All come from one `describeGroup` per group and scrape.
 *
 * Call it once per registry with every group to watch.
 *
 * @example registerLagMetrics(log, ['inventory.reservations', 'payments.charges'], registry);
 */
export function registerLagMetrics(
  log: EventLog,
  groups: readonly string[],
  registry: Registry,
  options: { readonly prefix?: string } = {},
): Gauge<LagLabel> {
  const name = `${options.prefix ?? DEFAULT_PREFIX}consumer_lag`;
  const membersName = `${options.prefix ?? DEFAULT_PREFIX}consumer_group_members`;
  const secondsName = `${options.prefix ?? DEFAULT_PREFIX}consumer_lag_seconds`;
  if ([name, membersName, secondsName].some((metric) => registry.getSingleMetric(metric) !== undefined)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `${name} is registered already; call registerLagMetrics once per registry with every group`,
    );
  }
  // prom-client starts every metric's collect in one pass before awaiting any: the other
  // gauges' collects find the first one's requests in flight and share them.
  let inFlight: Promise<GroupDescription[]> | undefined;
  const describeAll = (): Promise<GroupDescription[]> =>
    (inFlight ??= Promise.all(groups.map((group) => log.describeGroup(group))).finally(() => {
      inFlight = undefined;
    }));
  let agesInFlight: Promise<GroupLag[]> | undefined;
  const agesAll = (): Promise<GroupLag[]> =>
    (agesInFlight ??= describeAll()
      .then((descriptions) =>
        Promise.all(descriptions.map((description) => lagOfDescription(log, description, Date.now()))),
      )
      .finally(() => {
        agesInFlight = undefined;
      }));
  const members: Gauge<'group'> = new Gauge({
    name: membersName,
    help: 'Live members of the consumer group.',
    labelNames: ['group'],
    registers: [registry],
    collect: async () => {
      const descriptions = await describeAll();
      members.reset();
      for (const description of descriptions) {
        members.set({ group: description.group }, description.members.length);
      }
    },
  });
  const gauge: Gauge<LagLabel> = new Gauge({
    name,
    help: 'Events appended to a partition but not yet committed by the consumer group.',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
    collect: async () => {
      const descriptions = await describeAll();
      gauge.reset();
      for (const description of descriptions) {
        for (const p of description.partitions) {
          gauge.set({ group: description.group, topic: p.topic, partition: String(p.partition) }, p.lag);
        }
      }
    },
  });
  const seconds: Gauge<LagLabel> = new Gauge({
    name: secondsName,
    help: 'Age in seconds of the oldest event appended to a partition that the consumer group has not consumed (0 when it lags by nothing).',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
    collect: async () => {
      const lags = await agesAll();
      seconds.reset();
      for (const lag of lags) {
        for (const p of lag.partitions) {
          seconds.set({ group: lag.group, topic: p.topic, partition: String(p.partition) }, p.lagSeconds);
        }
      }
    },
  });
  return gauge;
}

/** A consumer group and the store its router keeps parked keys in. */
export interface ParkingGroup {
  readonly group: string;
  readonly store: Store;
}

/**
 * Registers the gauges `herald_parked_keys` {group} and `herald_parked_events` {group}: keys
 * parked behind a dead letter (see docs/parking.md) and the events waiting behind them, read
 * from each group's store (`parkedKeys`) when the registry is collected, so they cost nothing
 * between scrapes and count every member's parking, not one process's. A failing read fails the
 * scrape rather than reporting stale counts. Keys being released count until they are done.
 *
 * Call it once per registry with every group to watch.
 *
 * @example registerParkingMetrics([{ group: 'inventory.reservations', store }], registry);
 */
export function registerParkingMetrics(
  groups: readonly ParkingGroup[],
  registry: Registry,
  options: { readonly prefix?: string } = {},
): { readonly keys: Gauge<'group'>; readonly events: Gauge<'group'> } {
  const keysName = `${options.prefix ?? DEFAULT_PREFIX}parked_keys`;
  const eventsName = `${options.prefix ?? DEFAULT_PREFIX}parked_events`;
  if (
    registry.getSingleMetric(keysName) !== undefined ||
    registry.getSingleMetric(eventsName) !== undefined
  ) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `${keysName} is registered already; call registerParkingMetrics once per registry with every group`,
    );
  }
  // One read per group and scrape, shared by both gauges (see registerLagMetrics).
  let inFlight: Promise<{ group: string; keys: number; events: number }[]> | undefined;
  const readAll = () =>
    (inFlight ??= Promise.all(
      groups.map(async ({ group, store }) => {
        const parked = await parkedKeys(store, group);
        return { group, keys: parked.length, events: parked.reduce((sum, key) => sum + key.count, 0) };
      }),
    ).finally(() => {
      inFlight = undefined;
    }));
  const keys: Gauge<'group'> = new Gauge({
    name: keysName,
    help: 'Keys parked behind a dead letter: their later events wait until it is redriven or discarded.',
    labelNames: ['group'],
    registers: [registry],
    collect: async () => {
      const counts = await readAll();
      keys.reset();
      for (const count of counts) keys.set({ group: count.group }, count.keys);
    },
  });
  const events: Gauge<'group'> = new Gauge({
    name: eventsName,
    help: 'Events waiting behind parked keys (kept as positions, not handled yet).',
    labelNames: ['group'],
    registers: [registry],
    collect: async () => {
      const counts = await readAll();
      events.reset();
      for (const count of counts) events.set({ group: count.group }, count.events);
    },
  });
  return { keys, events };
}

/**
 * The Prometheus text exposition of a registry and its content type, for a `/metrics` endpoint.
 *
 * @example const { contentType, body } = await renderMetrics(registry);
 */
export async function renderMetrics(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * The label objects of every (group, topic, type) seen, built once each: one object per event
 * would be garbage, and prom-client keeps none of them.
 */
class LabelSets {
  readonly #byGroup = new Map<string, Map<string, Map<string, Labels>>>();

  of(group: string, topic: string, type: string): Labels {
    let byTopic = this.#byGroup.get(group);
    if (byTopic === undefined) this.#byGroup.set(group, (byTopic = new Map<string, Map<string, Labels>>()));
    let byType = byTopic.get(topic);
    if (byType === undefined) byTopic.set(topic, (byType = new Map<string, Labels>()));
    let labels = byType.get(type);
    if (labels === undefined) byType.set(type, (labels = Object.freeze({ group, topic, type })));
    return labels;
  }
}

function counter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: EventLabel[],
): Counter<EventLabel> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  if (existing !== undefined) throw notOurs(name);
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function histogram(
  registry: Registry,
  name: string,
  help: string,
  labelNames: EventLabel[],
): Histogram<EventLabel> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Histogram) return existing;
  if (existing !== undefined) throw notOurs(name);
  return new Histogram({ name, help, labelNames, registers: [registry] });
}

function notOurs(name: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', `the registry has a metric ${name} of another type`);
}
