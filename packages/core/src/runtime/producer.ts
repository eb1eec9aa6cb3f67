import type { EventDefinition } from '../define-event.ts';
import type { CloudEvent } from '../envelope.ts';
import type { AppendResult, EventLog } from '../event-log.ts';

/** Appends events to a topic; what publish middleware wraps. */
export type Publish = (topic: string, events: readonly CloudEvent[]) => Promise<readonly AppendResult[]>;

/** Wraps publishing, e.g. to inject trace context or count events. */
export type PublishMiddleware = (next: Publish) => Publish;

export interface PublishOptions {
  /** Same key → same partition → order kept. Usually the aggregate id. */
  readonly key?: string;
  readonly subject?: string;
  /** Give a deterministic id to make a retried publish recognisable downstream. */
  readonly id?: string;
  readonly time?: Date;
  readonly extensions?: Readonly<Record<string, string>>;
}

export interface ProducerOptions {
  readonly log: EventLog;
  /** CloudEvents `source` of everything this producer publishes, e.g. `/orders`. */
  readonly source: string;
  /** Outermost first. */
  readonly middleware?: readonly PublishMiddleware[];
}

/** One event of a batch: its definition, data and options. */
export interface BatchItem<Data = unknown> {
  readonly definition: EventDefinition<Data>;
  readonly data: Data;
  readonly options?: PublishOptions;
}

/**
 * Publishes typed events. Data is validated before anything is appended; a batch is appended
 * atomically (all or none). A resolved publish means the log acknowledged it durably.
 */
export interface Producer {
  publish<Data>(
    topic: string,
    definition: EventDefinition<Data>,
    data: Data,
    options?: PublishOptions,
  ): Promise<AppendResult>;
  publishBatch(topic: string, items: readonly BatchItem[]): Promise<readonly AppendResult[]>;
}

/**
 * @example
 * const producer = createProducer({ log, source: '/orders' });
 * await producer.publish('orders', OrderPlaced, { orderId: 'o-1', total: 1200 }, { key: 'o-1' });
 */
export function createProducer(options: ProducerOptions): Producer {
  const { log, source } = options;
  const append: Publish = (topic, events) =>
    events.length === 1
      ? log.append(topic, events[0]!).then((result) => [result])
      : log.appendBatch(topic, events);
  const publish = (options.middleware ?? []).reduceRight<Publish>((next, wrap) => wrap(next), append);
  const build = <Data>(definition: EventDefinition<Data>, data: Data, opts: PublishOptions = {}) =>
    definition.create(data, {
      source,
      ...(opts.key === undefined ? {} : { key: opts.key }),
      ...(opts.subject === undefined ? {} : { subject: opts.subject }),
      ...(opts.id === undefined ? {} : { id: opts.id }),
      ...(opts.time === undefined ? {} : { time: opts.time }),
      ...(opts.extensions === undefined ? {} : { extensions: opts.extensions }),
    });
  return {
    async publish(topic, definition, data, opts) {
      const [result] = await publish(topic, [build(definition, data, opts)]);
      return result!;
    },
    async publishBatch(topic, items) {
      const events = items.map((item) => build(item.definition, item.data, item.options));
      return publish(topic, events);
    },
  };
}
