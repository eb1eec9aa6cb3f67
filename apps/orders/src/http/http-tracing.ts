// One SERVER span per API request, on every route, from the Fastify project's OpenTelemetry
// instrumentation. It continues the caller's trace when the request carries one (read by the
// registered propagator: `traceparent` by default, what OTEL_PROPAGATORS says otherwise), is
// named `<METHOD> <route template>` as the HTTP semantic conventions name server spans, and is
// the active span while the handler runs: what the request does (the OrderPlaced append and,
// through the event's trace context, every consumer after it) joins its trace. Without an
// OpenTelemetry SDK the spans are no-ops.
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * One instrumentation for the process. Hook and handler spans are off: a request is one span,
 * as it was before, and the spans of what it does are its children.
 */
const instrumentation = new FastifyOtelInstrumentation({
  instrumentHooks: false,
  instrumentHandler: false,
  requestHook: (span, request) => {
    const route = request.routeOptions.url;
    span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
  },
});
// The instrumentation is CommonJS and reaches the CommonJS build of @opentelemetry/api, whose
// tracer would stay a no-op when the SDK registers after this module loaded: it is handed this
// module's global tracer provider instead, which delegates to whatever SDK registers, whenever.
instrumentation.setTracerProvider(trace.getTracerProvider());

/**
 * Instruments `app`: call it right after creating the app, before any hook or route, so its
 * span starts before every other hook runs (a request refused by the rate limit has a span too).
 */
export function traceRequests(app: FastifyInstance): void {
  // The plugin applied to the root instance itself, not registered: a registered plugin loads
  // only once the app is readied, after the hooks and routes declared before that.
  const plugin = instrumentation.plugin() as unknown as (
    instance: FastifyInstance,
    options: Record<string, never>,
    done: (error?: Error) => void,
  ) => void;
  plugin(app, {}, () => undefined);
  // The handler runs in the request span's context, so the spans it starts are children. The
  // handler is called synchronously after this hook's `done`, after the body was read.
  app.addHook('preHandler', (request, _reply, done) => {
    const otel = request.opentelemetry();
    if (otel.context === null || otel.context === undefined) return done();
    context.with(otel.context, done);
  });
}

/**
 * Runs `fn` in `request`'s span context: what it logs carries the request's trace and span ids
 * even where Fastify calls it outside that context (after the answer was sent, on a socket event).
 */
export function inRequestSpan<T>(request: FastifyRequest, fn: () => T): T {
  const otel = request.opentelemetry();
  return otel.context === null || otel.context === undefined ? fn() : context.with(otel.context, fn);
}

/**
 * The ids of `request`'s span for its log lines (`trace_id`, `span_id`, `trace_flags`), or none.
 * Without an SDK the span is not recorded but still carries the caller's trace: its access-log
 * line names that trace all the same.
 */
export function requestTraceIds(request: FastifyRequest): Record<string, string> {
  const span = request.opentelemetry().span?.spanContext();
  if (span === undefined || !isSpanContextValid(span)) return {};
  return {
    trace_id: span.traceId,
    span_id: span.spanId,
    trace_flags: `0${(span.traceFlags & 0xff).toString(16)}`.slice(-2),
  };
}
