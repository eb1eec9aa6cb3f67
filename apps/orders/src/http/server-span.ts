// One SERVER span per API request that starts work (POST /orders), continuing the caller's
// trace when it sent a `traceparent`. Everything the request does (the OrderPlaced append and,
// through the event's trace context, every consumer after it) joins that trace.
import { type Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';

const tracer = trace.getTracer('@herald/orders-app');

/** Runs `fn` inside a SERVER span for `request`; records the status code it returns. */
export async function withServerSpan<T>(
  request: FastifyRequest,
  route: string,
  fn: (span: Span) => Promise<{ status: number; value: T }>,
): Promise<T> {
  const parent = propagation.extract(context.active(), request.headers);
  return tracer.startActiveSpan(
    `${request.method} ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method,
        'http.route': route,
        'url.path': request.url.split('?')[0] ?? '',
      },
    },
    parent,
    async (span) => {
      try {
        const { status, value } = await fn(span);
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        return value;
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
