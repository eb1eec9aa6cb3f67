// The REST application: sign-ups and profiles over HTTP, on its own database. The work a
// sign-up sets off (a welcome e-mail, the search index, points) is not done here: the sign-up
// records a UserSignedUp event in the outbox, in the transaction that saves the user, and
// consumers (consumers.ts) do the work; the polling job still runs, in shadow.
// Stage 3: the sign-up is a SERVER span whose trace context the event carries, so one trace
// goes from the HTTP request through the outbox to every consumer; GET /metrics serves the
// consumers' metrics (handled, failed, retried, dead-lettered, lag).
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { renderMetrics } from '@herald/core/metrics';
import { injectTraceContext } from '@herald/core/tracing';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { type AppOptions, answerSignUp, profileRoute, signUp } from '../stage-1-rest/app.ts';
import type { User } from '../stage-1-rest/database.ts';
import type { SqlDatabase } from '../stage-1-rest/sql-database.ts';
import { saveWithEvent, signedUp } from '../stage-2-outbox/app.ts';

export interface TracedAppOptions extends AppOptions {
  /** Served at GET /metrics when given: the registry the consumers' metrics live in. */
  readonly registry?: Registry;
}

const tracer = trace.getTracer('migrate-rest');

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Runs `handler` in a SERVER span named after the route, which continues the caller's trace
 * when the request carries a traceparent header; what the handler does is in that trace.
 */
export function traced(handler: Handler): Handler {
  return (request, reply) => {
    const caller = propagation.extract(context.active(), request.headers);
    const name = `${request.method} ${request.routeOptions.url ?? request.url}`;
    return tracer.startActiveSpan(name, { kind: SpanKind.SERVER }, caller, async (span) => {
      try {
        return await handler(request, reply);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.setAttribute('http.response.status_code', reply.statusCode);
        span.end();
      }
    });
  };
}

/** Saves the user with its event, which carries the trace context of the request. */
export function saveTraced(db: SqlDatabase): (user: User) => Promise<void> {
  return (user) => saveWithEvent(db, user, injectTraceContext(signedUp(user), context.active()));
}

/** GET /metrics: the registry, as Prometheus scrapes it. */
export function metricsRoute(app: FastifyInstance, registry: Registry): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await renderMetrics(registry);
    return reply.type(contentType).send(body);
  });
}

/** Builds the Fastify application; the caller listens (or injects requests) and closes it. */
export function buildApp({ registry, ...options }: TracedAppOptions): FastifyInstance {
  const app = Fastify();
  app.post(
    '/users',
    traced(async (request, reply) =>
      answerSignUp(reply, await signUp(request.body, options, saveTraced(options.db))),
    ),
  );
  if (registry !== undefined) metricsRoute(app, registry);
  profileRoute(app, options.db);
  return app;
}
