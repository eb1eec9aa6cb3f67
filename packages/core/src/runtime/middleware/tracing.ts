import {
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  createTraceState,
  isSpanContextValid,
  trace,
} from '@opentelemetry/api';
import type { CloudEvent, StoredEvent } from '../../envelope.ts';
import { isHeraldError } from '../../errors.ts';
import type { AppendResult } from '../../event-log.ts';
import type { HandlerContext, Middleware } from '../handler.ts';
import { type PublishMiddleware, emitThrough } from '../producer.ts';
import type { StoreTransaction } from '../store.ts';

export interface TracingOptions {
  /** Default: `trace.getTracer('@herald/core')`, i.e. whatever SDK is registered globally (none: no-op). */
  readonly tracer?: Tracer;
}

/** Instrumentation scope of the default tracer. */
const SCOPE = '@herald/core';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Writes the W3C trace context of `context`'s span into a copy of `event` (`traceparent`, and
 * `tracestate` when there is one): the CloudEvents distributed-tracing extension. Returns `event`
 * itself when `context` has no valid span (no SDK and nothing to pass on), so that costs nothing.
 *
 * The format is W3C Trace Context whatever propagator is registered globally: the CloudEvents
 * extension defines these two attributes that way.
 *
 * @example await log.append('orders', injectTraceContext(event, context.active()));
 */
export function injectTraceContext<E extends CloudEvent>(event: E, context: Context): E {
  const span = trace.getSpanContext(context);
  if (span === undefined || !isSpanContextValid(span)) return event;
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
  const { tracestate: _previous, ...rest } = event;
  const traceparent = `00-${span.traceId}-${span.spanId}-${flags}`;
  const tracestate = span.traceState?.serialize();
  return (
    tracestate === undefined || tracestate === ''
      ? { ...rest, traceparent }
      : { ...rest, traceparent, tracestate }
  ) as E;
}

/**
 * The context `event`'s `traceparent`/`tracestate` describe, on top of `base`: a span started in
 * it becomes a child of the span that published the event. Returns `base` when the event
 * carries no valid trace context.
 */
export function extractTraceContext(event: CloudEvent, base: Context = otelContext.active()): Context {
  const match = event.traceparent === undefined ? null : TRACEPARENT.exec(event.traceparent);
  if (match === null) return base;
  const [, version, traceId = '', spanId = '', flags = '', tail] = match;
  // Version ff is forbidden; version 00 has nothing after the flags.
  if (version === 'ff' || (version === '00' && tail !== undefined)) return base;
  const spanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
    ...(event.tracestate === undefined ? {} : { traceState: createTraceState(event.tracestate) }),
  };
  return isSpanContextValid(spanContext) ? trace.setSpanContext(base, spanContext) : base;
}

/**
 * Traces publishing: one `send <topic>` span (kind PRODUCER) per publish call, following the
 * OpenTelemetry messaging semantic conventions, and its trace context written into each event
 * (`traceparent`/`tracestate`), so the consumers' `process` spans become its children. An event
 * that already carries a `traceparent` (a relay forwarding it) keeps it, and the span links to it.
 *
 * With no OpenTelemetry SDK registered the events pass through unchanged.
 *
 * @example const producer = createProducer({ sink: log, source: '/orders', middleware: [tracingPublish()] });
 */
export function tracingPublish(options: TracingOptions = {}): PublishMiddleware {
  return publishSpans(options.tracer ?? trace.getTracer(SCOPE), 'send', () => otelContext.active());
}

/**
 * The one producer span path: `send` for a publish to a log, `create` for an event emitted in a
 * handler's transaction. The span is a child of `parentOf()`, active while `next` runs.
 */
function publishSpans(
  tracer: Tracer,
  operation: 'send' | 'create',
  parentOf: () => Context,
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
      { kind: SpanKind.PRODUCER, attributes: sendAttributes(operation, topic, events), links },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const traced = events.map((event) =>
      event.traceparent === undefined ? injectTraceContext(event, active) : event,
    );
    try {
      const results = await otelContext.with(active, () => next(topic, traced));
      if (results.length === 1) setPosition(span, results[0]);
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
      { kind: SpanKind.CONSUMER, attributes: processAttributes(event, context) },
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
  const spans = publishSpans(tracer, 'create', () => activeOr(handling));
  return <T>(fn: (tx: StoreTransaction) => Promise<T> | T) =>
    context.transaction<T>((tx) => fn(emitThrough(tx, [spans])));
}

function sendAttributes(
  operation: 'send' | 'create',
  topic: string,
  events: readonly CloudEvent[],
): Attributes {
  const attributes: Attributes = {
    'messaging.system': 'herald',
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
    if (event.partitionkey !== undefined) attributes['herald.partition_key'] = event.partitionkey;
    if (event.data !== undefined) attributes['messaging.message.body.size'] = event.data.byteLength;
  } else {
    attributes['messaging.batch.message_count'] = events.length;
  }
  return attributes;
}

function processAttributes(event: StoredEvent, context: HandlerContext): Attributes {
  const attributes: Attributes = {
    'messaging.system': 'herald',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': event.topic,
    'messaging.destination.partition.id': String(event.partition),
    'messaging.consumer.group.name': context.group,
    'messaging.message.id': event.id,
    'cloudevents.event_id': event.id,
    'cloudevents.event_source': event.source,
    'cloudevents.event_type': event.type,
    'herald.offset': event.offset,
    'herald.attempt': context.attempt,
  };
  if (event.partitionkey !== undefined) attributes['herald.partition_key'] = event.partitionkey;
  if (event.data !== undefined) attributes['messaging.message.body.size'] = event.data.byteLength;
  if (context.replaying) attributes['herald.replaying'] = true;
  return attributes;
}

function setPosition(span: Span, result: AppendResult | undefined): void {
  if (result === undefined) return;
  span.setAttribute('messaging.destination.partition.id', String(result.partition));
  span.setAttribute('herald.offset', result.offset);
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
