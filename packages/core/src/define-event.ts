import type { StandardSchemaV1 } from '@standard-schema/spec';
import { randomUUID } from 'node:crypto';
import type { CloudEvent } from './envelope.ts';
import { HeraldError } from './errors.ts';

/** Reverse-DNS, versioned: `dev.herald.orders.order-placed.v1`. */
const EVENT_TYPE = /^[a-z0-9]+(\.[a-z0-9][a-z0-9-]*)+\.v[1-9][0-9]*$/;
const JSON_CONTENT_TYPE = 'application/json';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export interface CreateEventOptions {
  /** URI-reference of the producer, e.g. `/orders`. */
  readonly source: string;
  /** Same key → same partition → order kept. Usually the aggregate id (order id). */
  readonly key?: string;
  readonly subject?: string;
  /** Defaults to a random UUID. Give a deterministic id to make a retried publish idempotent. */
  readonly id?: string;
  /** Defaults to now. */
  readonly time?: Date;
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly extensions?: Readonly<Record<string, string>>;
}

/**
 * A typed event: its CloudEvents `type` and the schema of its data. Data is validated when an
 * event is created (produce) and when it is decoded (consume), so a bad payload is refused at
 * the producer and a bad stored payload is recognised as poison at the consumer.
 *
 * Any Standard Schema validator works (zod, valibot, arktype…); validation must be synchronous.
 */
export interface EventDefinition<Data = unknown> {
  readonly type: string;
  readonly schema: StandardSchemaV1<unknown, Data>;
  /** Validates data and returns the schema's output; throws `VALIDATION_FAILED`. */
  parse(data: unknown): Data;
  /** Validates and encodes data as UTF-8 JSON bytes. */
  encode(data: Data): Uint8Array;
  /** Decodes JSON bytes (`DECODE_FAILED`) and validates them (`VALIDATION_FAILED`). */
  decode(bytes: Uint8Array | undefined): Data;
  /** Builds a CloudEvent of this type with validated, encoded data. */
  create(data: Data, options: CreateEventOptions): CloudEvent;
  /** True when `event.type` is this definition's type. */
  is(event: Pick<CloudEvent, 'type'>): boolean;
}

/** The data type of an event definition. */
export type EventData<D> = D extends EventDefinition<infer T> ? T : never;

/**
 * Declares an event type.
 *
 * @example
 * const OrderPlaced = defineEvent({
 *   type: 'dev.herald.orders.order-placed.v1',
 *   schema: z.object({ orderId: z.string(), total: z.number().int() }),
 * });
 * const event = OrderPlaced.create({ orderId: 'o-1', total: 1200 }, { source: '/orders', key: 'o-1' });
 */
export function defineEvent<Schema extends StandardSchemaV1>(definition: {
  type: string;
  schema: Schema;
}): EventDefinition<StandardSchemaV1.InferOutput<Schema>> {
  type Data = StandardSchemaV1.InferOutput<Schema>;
  const { type, schema } = definition;
  if (!EVENT_TYPE.test(type)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `event type "${type}" must be reverse-DNS and versioned, e.g. "dev.herald.orders.order-placed.v1"`,
    );
  }

  const parse = (data: unknown): Data => {
    const result = schema['~standard'].validate(data);
    if (result instanceof Promise) {
      throw new HeraldError(
        'UNSUPPORTED',
        `the schema of ${type} validates asynchronously; Herald needs a synchronous schema`,
      );
    }
    if (result.issues) {
      const issues = result.issues.map((issue) => ({
        path: (issue.path ?? [])
          .map((segment) => (typeof segment === 'object' ? segment.key : segment))
          .join('.'),
        message: issue.message,
      }));
      const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
      throw new HeraldError('VALIDATION_FAILED', `invalid ${type} data: ${summary}`, {
        details: { type, issues },
      });
    }
    return result.value;
  };

  const encode = (data: Data): Uint8Array => encoder.encode(JSON.stringify(parse(data)));

  return {
    type,
    schema: schema,
    parse,
    encode,
    decode(bytes) {
      if (bytes === undefined) return parse(undefined);
      let value: unknown;
      try {
        value = JSON.parse(decoder.decode(bytes));
      } catch (cause) {
        throw new HeraldError('DECODE_FAILED', `${type} data is not UTF-8 JSON`, {
          cause,
          details: { type },
        });
      }
      return parse(value);
    },
    create(data, options) {
      const event: {
        -readonly [K in keyof CloudEvent]: CloudEvent[K];
      } = {
        specversion: '1.0',
        id: options.id ?? randomUUID(),
        source: options.source,
        type,
        time: (options.time ?? new Date()).toISOString(),
        datacontenttype: JSON_CONTENT_TYPE,
        data: encode(data),
      };
      if (options.key !== undefined) event.partitionkey = options.key;
      if (options.subject !== undefined) event.subject = options.subject;
      if (options.traceparent !== undefined) event.traceparent = options.traceparent;
      if (options.tracestate !== undefined) event.tracestate = options.tracestate;
      if (options.extensions !== undefined) event.extensions = options.extensions;
      return event;
    },
    is: (event) => event.type === type,
  };
}
