import { eventBeingHandled, stampCausation } from '../causation.ts';
import type { EventDefinition } from '../define-event.ts';
import type { CloudEvent } from '../envelope.ts';
import type { AppendOptions, AppendResult, EventLog } from '../event-log.ts';
import type { StoreTransaction } from './store.ts';

/**
 * Appends events to a topic; what publish middleware wraps. Resolves with the position of each
 * event the sink placed: one per event on a log, none for events a store keeps in its outbox
 * until a relay publishes them.
 */
export type Publish = (topic: string, events: readonly CloudEvent[]) => Promise<readonly AppendResult[]>;

/**
 * Wraps publishing, e.g. to inject trace context or count events. `log` is the log the events
 * go to when the producer's sink is one (none for a store transaction), so telemetry can name
 * its system.
 */
export type PublishMiddleware = (next: Publish, log?: EventLog) => Publish;

export interface PublishOptions {
  /** Same key → same partition → order kept. Usually the aggregate id. */
  readonly key?: string;
  readonly subject?: string;
  /** Give a deterministic id to make a retried publish recognisable downstream. */
  readonly id?: string;
  readonly time?: Date;
  readonly extensions?: Readonly<Record<string, string>>;
}

/**
 * Where a producer's events go. A log: a resolved publish is durable. A store transaction: the
 * events commit with the transaction or not at all (the transactional outbox).
 */
export type ProducerSink = EventLog | StoreTransaction;

/** What a producer stamps and wraps, whatever its sink. */
export interface ProducerSettings {
  /** CloudEvents `source` of everything this producer publishes, e.g. `/orders`. */
  readonly source: string;
  /** Outermost first. */
  readonly middleware?: readonly PublishMiddleware[];
}

/** A producer's settings and its sink; `{ log }` is the same as `{ sink: log }`. */
export type ProducerOptions = ProducerSettings &
  ({ readonly sink: ProducerSink } | { readonly log: EventLog });

/** One event of a batch: its definition, data and options. */
export interface BatchItem<Data = unknown> {
  readonly definition: EventDefinition<Data>;
  readonly data: Data;
  readonly options?: PublishOptions;
}

/**
 * Publishes typed events: each is built from its definition (data validated, then encoded),
 * stamped with the producer's `source` and the options' key, id, subject…, and passed through
 * the publish middleware to the sink. Nothing reaches the sink when a datum is invalid; a batch
 * is appended atomically (all or none).
 *
 * `Position` is what a publish resolves with: the event's place in the log, or, in a store
 * transaction, `undefined` when the store keeps the event in an outbox (its place is known once
 * the relay published it).
 */
export interface Producer<Position extends AppendResult | undefined = AppendResult> {
  publish<Data>(
    topic: string,
    definition: EventDefinition<Data>,
    data: Data,
    options?: PublishOptions,
  ): Promise<Position>;
  /** Resolves with the positions known (none for an outbox). */
  publishBatch(topic: string, items: readonly BatchItem[]): Promise<readonly AppendResult[]>;
  /**
   * This producer (same source, same middleware) writing into a store transaction: its events
   * commit with `tx`, validated, stamped, traced and wrapped exactly as a direct publish.
   *
   * @example
   * await store.transaction(async (tx) => {
   *   await tx.put('orders', order.id, order);
   *   await producer.within(tx).publish('orders', OrderPlaced, order, { key: order.id });
   * });
   */
  within(tx: StoreTransaction): Producer<AppendResult | undefined>;
}

/**
 * @example
 * const producer = createProducer({ sink: log, source: '/orders', middleware: [tracingPublish()] });
 * await producer.publish('orders', OrderPlaced, { orderId: 'o-1', total: 1200 }, { key: 'o-1' });
 */
export function createProducer(
  options: ProducerSettings & { readonly sink: StoreTransaction },
): Producer<AppendResult | undefined>;
export function createProducer(options: ProducerOptions): Producer;
export function createProducer(options: ProducerOptions): Producer<AppendResult | undefined> {
  const sink = 'sink' in options ? options.sink : options.log;
  return producerOver(sink, options);
}

/**
 * `tx` whose `emit` passes each event through `middleware` (outermost first) before the store
 * takes it: how a handler's raw `tx.emit` gets the same publish path as a producer's events.
 * Every other method is `tx`'s own.
 */
export function emitThrough(
  tx: StoreTransaction,
  middleware: readonly PublishMiddleware[],
): StoreTransaction {
  if (middleware.length === 0) return tx;
  return {
    emit: async (topic, event, options) => {
      const [result] = await wrap(middleware, appendTo(tx, options), undefined)(topic, [event]);
      return result;
    },
    get: (collection, id) => tx.get(collection, id),
    put: (collection, id, value) => tx.put(collection, id, value),
    delete: (collection, id) => tx.delete(collection, id),
    list: (collection, options) => tx.list(collection, options),
    recordHandled: (group, eventId, fingerprint) => tx.recordHandled(group, eventId, fingerprint),
    // A scheduled event meets the publish middleware when its timer emits it, not here.
    schedule: (at, topic, event) => tx.schedule(at, topic, event),
    cancelSchedule: (id) => tx.cancelSchedule(id),
  };
}

function producerOver(sink: ProducerSink, settings: ProducerSettings): Producer<AppendResult | undefined> {
  const { source } = settings;
  const middleware = settings.middleware ?? [];
  const publish = wrap(middleware, appendTo(sink), isLog(sink) ? sink : undefined);
  const build = <Data>(definition: EventDefinition<Data>, data: Data, opts: PublishOptions = {}) =>
    definition.create(data, {
      source,
      ...(opts.key === undefined ? {} : { key: opts.key }),
      ...(opts.subject === undefined ? {} : { subject: opts.subject }),
      ...(opts.id === undefined ? {} : { id: opts.id }),
      ...(opts.time === undefined ? {} : { time: opts.time }),
      ...(opts.extensions === undefined ? {} : { extensions: opts.extensions }),
    });
  // Stamped here, before the middleware: published while a handler runs, an event is caused by
  // the event being handled; otherwise it starts a chain of its own.
  const stamped = <Data>(definition: EventDefinition<Data>, data: Data, opts?: PublishOptions) =>
    stampCausation(build(definition, data, opts), eventBeingHandled());
  return {
    async publish(topic, definition, data, opts) {
      const [result] = await publish(topic, [stamped(definition, data, opts)]);
      return result;
    },
    async publishBatch(topic, items) {
      const events = items.map((item) => stamped(item.definition, item.data, item.options));
      return publish(topic, events);
    },
    within: (tx) => producerOver(tx, settings),
  };
}

function wrap(middleware: readonly PublishMiddleware[], append: Publish, log: EventLog | undefined): Publish {
  return middleware.reduceRight<Publish>((next, outer) => outer(next, log), append);
}

function isLog(sink: ProducerSink): sink is EventLog {
  return 'appendBatch' in sink && typeof sink.appendBatch === 'function';
}

/**
 * The innermost `Publish` of a sink. In a transaction, events are emitted one after another in
 * order; the batch is still atomic, since the transaction commits all of them or none.
 */
function appendTo(sink: ProducerSink, options?: AppendOptions): Publish {
  if (isLog(sink)) {
    return (topic, events) =>
      events.length === 1
        ? sink.append(topic, events[0]!).then((result) => [result])
        : sink.appendBatch(topic, events);
  }
  return async (topic, events) => {
    const results: AppendResult[] = [];
    for (const event of events) {
      const result = await sink.emit(topic, event, options);
      if (result !== undefined) results.push(result);
    }
    return results;
  };
}
