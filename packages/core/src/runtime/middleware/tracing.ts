import {
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type Tracer,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { type CloudEvent, EXTENSION_NAME, KNOWN_ATTRIBUTES, type StoredEvent } from '../../envelope.ts';
import { isHeraldError } from '../../errors.ts';
import type { AppendResult, EventLog, LogTelemetry } from '../../event-log.ts';
import type { HandlerContext, Middleware } from '../handler.ts';
import { type PublishMiddleware, emitThrough } from '../producer.ts';
import type { StoreTransaction } from '../store.ts';

export interface TracingOptions {
  /** Default: `trace.getTracer('@herald/core')`, i.e. whatever SDK is registered globally (none: no-op). */
  readonly tracer?: Tracer;
  /**
   * For `tracingPublish`: the log the events go to (or that an outbox relays them to), whose
   * `capabilities.telemetry` names `messaging.system`, the offset attribute and the server on
   * the spans. Default: the producer's sink when it is a log; else `messaging.system` is
   * `herald`. `tracing()` reads the log it consumes from.
   */
  readonly log?: Pick<EventLog, 'capabilities'>;
}

/** Instrumentation scope of the default tracer. */
const SCOPE = '@herald/core';

/** What spans say when the log is not known (a producer writing into a store transaction). */
const UNKNOWN_LOG: LogTelemetry = {
  system: 'herald',
  offsetAttribute: 'herald.offset',
  keyAttribute: 'herald.partition_key',
};

/**
 * The CloudEvents distributed-tracing extension defines `traceparent`/`tracestate` as W3C Trace
 * Context, so they are written and read by the W3C propagator whatever `OTEL_PROPAGATORS` says;
 * the globally registered propagator (baggage, B3…) adds its own fields beside them.
 */
const W3C = new W3CTraceContextPropagator();

/** An event's attributes as a propagation carrier: `traceparent`, `tracestate` and the extensions. */
const eventGetter: TextMapGetter<CloudEvent> = {
  keys: (event) => [
    ...(event.traceparent === undefined ? [] : ['traceparent']),
    ...(event.tracestate === undefined ? [] : ['tracestate']),
    ...Object.keys(event.extensions ?? {}),
  ],
  get: (event, key) => {
    if (key === 'traceparent') return event.traceparent;
    if (key === 'tracestate') return event.tracestate;
    return event.extensions?.[key];
  },
};

/**
 * Writes the trace context of `context` into a copy of `event` through OpenTelemetry's
 * propagation API: `traceparent` and `tracestate` (the CloudEvents distributed-tracing
 * extension, always W3C Trace Context), and whatever else the globally registered propagator
 * writes (`baggage` by default; `b3` with `OTEL_PROPAGATORS=b3`) as extension attributes of the
 * same name. Fields whose names cannot be CloudEvents attributes (B3's multi-header `x-b3-*`,
 * Jaeger's `uber-trace-id`) are left out: use a propagator with single-field names. Returns
 * `event` itself when there is nothing to write (no span and no baggage), so that costs nothing.
 *
 * @example await log.append('orders', injectTraceContext(event, context.active()));
 */
export function injectTraceContext<E extends CloudEvent>(event: E, context: Context): E {
  const carrier: Record<string, string> = {};
  propagation.inject(context, carrier, defaultTextMapSetter);
  W3C.inject(context, carrier, defaultTextMapSetter);
  const { traceparent, tracestate, ...others } = carrier;
  let extensions: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(others)) {
    if (!EXTENSION_NAME.test(name) || KNOWN_ATTRIBUTES.has(name)) continue;
    (extensions ??= { ...event.extensions })[name] = value;
  }
  if (traceparent === undefined && extensions === undefined) return event;
  const { tracestate: _previous, ...rest } = event;
  return {
    ...(traceparent === undefined ? event : rest),
    ...(traceparent === undefined ? {} : { traceparent }),
    ...(traceparent === undefined || tracestate === undefined || tracestate === '' ? {} : { tracestate }),
    ...(extensions === undefined ? {} : { extensions }),
  } as E;
}

/**
 * The context `event`'s trace attributes describe, on top of `base`: `traceparent`/`tracestate`
 * read as W3C Trace Context, then every field the globally registered propagator reads
 * (`baggage`, `b3`…). A span started in it becomes a child of the span that published the
 * event. Returns `base` when the event carries no valid trace context.
 */
export function extractTraceContext(event: CloudEvent, base: Context = otelContext.active()): Context {
  if (event.traceparent === undefined && event.extensions === undefined) return base;
  return propagation.extract(W3C.extract(base, event, eventGetter), event, eventGetter);
}

/**
 * Traces publishing: one `send <topic>` span (kind PRODUCER) per publish call, following the
 * OpenTelemetry messaging semantic conventions, and its trace context written into each event
 * (`traceparent`/`tracestate`), so the consumers' `process` spans become its children. An event
 * that already carries a `traceparent` (a relay forwarding it) keeps it, and the span links to it.
 * The spans name the log the events go to (`messaging.system`, the offset and key attributes,
 * the server: its `capabilities.telemetry`): the producer's sink, or `options.log`.
 *
 * With no OpenTelemetry SDK registered the events pass through unchanged.
 *
 * @example const producer = createProducer({ sink: log, source: '/orders', middleware: [tracingPublish()] });
 * @example createProducer({ sink: tx, source: '/orders', middleware: [tracingPublish({ log })] }) // an outbox
 */
export function tracingPublish(options: TracingOptions = {}): PublishMiddleware {
  const tracer = options.tracer ?? trace.getTracer(SCOPE);
  return (next, sink) =>
    publishSpans(
      tracer,
      'send',
      () => otelContext.active(),
      (options.log ?? sink)?.capabilities.telemetry ?? UNKNOWN_LOG,
    )(next);
}

/**
 * The one producer span path: `send` for a publish to a log, `create` for an event emitted in a
 * handler's transaction. The span is a child of `parentOf()`, active while `next` runs.
 */
function publishSpans(
  tracer: Tracer,
  operation: 'send' | 'create',
  parentOf: () => Context,
  log: LogTelemetry,
): PublishMiddleware {
  return (next) => async (topic, events) => {
    const parent = parentOf();
    const links: Link[] = [];
    for (const event of events) {
      const carried = trace.getSpanContext(extractTraceContext(event, ROOT_CONTEXT));
      if (carried !== undefined) links.push({ context: carried });
    }
    const span = tracer.startSpan(
      `${operation} ${topic}`,
      { kind: SpanKind.PRODUCER, attributes: sendAttributes(log, operation, topic, events), links },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const traced = events.map((event) =>
      event.traceparent === undefined ? injectTraceContext(event, active) : event,
    );
    try {
      const results = await otelContext.with(active, () => next(topic, traced));
      if (results.length === 1) setPosition(span, log, results[0]);
      return results;
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
}

/**
 * Traces handling: one `process <topic>` span (kind CONSUMER) per call, a child of the span
 * that published the event (its `traceparent`), active while the handler runs so the
 * handler's own spans nest under it. Events the handler emits through `ctx.transaction` get a
 * `create <topic>` span (kind PRODUCER) and its trace context, so one trace crosses every hop.
 * A failure is recorded on the span (exception event, status ERROR, `error.type`).
 *
 * Where it goes decides what a span is: inside `retry`, one span per attempt (each failed
 * attempt shows as its own failed span); outermost, one span per delivery.
 *
 * With no OpenTelemetry SDK registered it adds no spans; trace context an event carries is
 * still passed on to the events the handler emits.
 *
 * @example router.use(deadLetter(), retry(), tracing(), idempotency({ store }))
 */
export function tracing(options: TracingOptions = {}): Middleware {
  const tracer = options.tracer ?? trace.getTracer(SCOPE);
  return (next) => async (event, context) => {
    const parent = extractTraceContext(event, otelContext.active());
    const span = tracer.startSpan(
      `process ${event.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: processAttributes(context.log.capabilities.telemetry, event, context),
      },
      parent,
    );
    // No SDK and no trace context to pass on: nothing to do.
    if (!span.isRecording() && !isSpanContextValid(span.spanContext())) return next(event, context);
    const active = trace.setSpan(parent, span);
    try {
      await otelContext.with(active, () =>
        next(event, { ...context, transaction: tracedTransaction(context, tracer, active) }),
      );
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
}

/**
 * The active context when it holds a span (the handler's own spans nest), else `fallback`: with
 * no context manager registered nothing is ever active, and trace context must still pass on.
 */
function activeOr(fallback: Context): Context {
  const active = otelContext.active();
  return trace.getSpan(active) === undefined ? fallback : active;
}

/** `ctx.transaction` whose `tx.emit` goes through the producer span path as `create <topic>`. */
function tracedTransaction(
  context: HandlerContext,
  tracer: Tracer,
  handling: Context,
): HandlerContext['transaction'] {
  const spans = publishSpans(tracer, 'create', () => activeOr(handling), context.log.capabilities.telemetry);
  return <T>(fn: (tx: StoreTransaction) => Promise<T> | T) =>
    context.transaction<T>((tx) => fn(emitThrough(tx, [spans])));
}

/** The attributes every span about `log` has: the system, and the server when there is one. */
function systemAttributes(log: LogTelemetry): Attributes {
  return log.server === undefined
    ? { 'messaging.system': log.system }
    : {
        'messaging.system': log.system,
        'server.address': log.server.address,
        'server.port': log.server.port,
      };
}

function sendAttributes(
  log: LogTelemetry,
  operation: 'send' | 'create',
  topic: string,
  events: readonly CloudEvent[],
): Attributes {
  const attributes: Attributes = {
    ...systemAttributes(log),
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    'messaging.destination.name': topic,
  };
  const [event] = events;
  if (events.length === 1 && event !== undefined) {
    attributes['messaging.message.id'] = event.id;
    attributes['cloudevents.event_id'] = event.id;
    attributes['cloudevents.event_source'] = event.source;
    attributes['cloudevents.event_type'] = event.type;
    if (event.partitionkey !== undefined) attributes[log.keyAttribute] = event.partitionkey;
    if (event.data !== undefined) attributes['messaging.message.body.size'] = event.data.byteLength;
  } else {
    attributes['messaging.batch.message_count'] = events.length;
  }
  return attributes;
}

function processAttributes(log: LogTelemetry, event: StoredEvent, context: HandlerContext): Attributes {
  const attributes: Attributes = {
    ...systemAttributes(log),
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': event.topic,
    'messaging.destination.partition.id': String(event.partition),
    'messaging.consumer.group.name': context.group,
    'messaging.message.id': event.id,
    'cloudevents.event_id': event.id,
    'cloudevents.event_source': event.source,
    'cloudevents.event_type': event.type,
    [log.offsetAttribute]: event.offset,
    'herald.attempt': context.attempt,
  };
  if (event.partitionkey !== undefined) attributes[log.keyAttribute] = event.partitionkey;
  if (event.data !== undefined) attributes['messaging.message.body.size'] = event.data.byteLength;
  if (context.replaying) attributes['herald.replaying'] = true;
  return attributes;
}

function setPosition(span: Span, log: LogTelemetry, result: AppendResult | undefined): void {
  if (result === undefined) return;
  span.setAttribute('messaging.destination.partition.id', String(result.partition));
  span.setAttribute(log.offsetAttribute, result.offset);
}

function recordError(span: Span, error: unknown): void {
  const type = isHeraldError(error) ? error.code : error instanceof Error ? error.name : typeof error;
  span.setAttribute('error.type', type);
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}
