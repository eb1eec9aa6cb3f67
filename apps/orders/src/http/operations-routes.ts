// What operators and tooling read: liveness, readiness, Prometheus metrics (the consumers', the
// API's own and the runtime's) and the OpenAPI document generated from the routes.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';
import { RATE_LIMITED, RETRY_AFTER, jsonResponse, problemResponse, textResponse } from './openapi.ts';

/** Metrics in Prometheus' text format. */
export interface RenderedMetrics {
  readonly contentType: string;
  readonly body: string;
}

/** What the operations routes report. */
export interface OperationsRoutesOptions {
  /** The process's metrics: the API's, the runtime's (default) and the consumers'. */
  readonly metrics: () => Promise<RenderedMetrics>;
  /** Whether the system takes traffic, and why not. */
  readonly readiness: () => { readonly ready: boolean; readonly detail: string };
}

/** Probes are never rate limited; what else can refuse them is a request Node cannot parse. */
const HEADERS_TOO_LARGE = problemResponse('The request headers are too large.');

/** `GET /healthz`, `GET /readyz` (503 while not ready), `GET /metrics` and `GET /openapi.json`. */
export const operationsRoutes: FastifyPluginAsyncZod<OperationsRoutesOptions> = async (app, options) => {
  const { metrics, readiness } = options;
  const operation = (operationId: string, summary: string) =>
    ({ operationId, summary, tags: ['operations'], security: [] }) as const;

  const health = {
    ...operation('getHealth', 'Liveness'),
    response: {
      200: jsonResponse('The process is alive.', z.object({ status: z.literal('ok') })),
      431: HEADERS_TOO_LARGE,
    },
  };
  app.get('/healthz', { schema: health }, async () => ({ status: 'ok' as const }));

  const ready = {
    ...operation('getReadiness', 'Readiness'),
    response: {
      200: jsonResponse('Ready for traffic.', z.object({ status: z.literal('ready'), detail: z.string() })),
      431: HEADERS_TOO_LARGE,
      503: problemResponse('Starting or stopping.', { 'Retry-After': RETRY_AFTER }),
    },
  };
  app.get('/readyz', { schema: ready }, async () => {
    const { ready, detail } = readiness();
    if (!ready) throw new ProblemError(problemOf(503, 'unavailable', detail), { 'retry-after': '1' });
    return { status: 'ready' as const, detail };
  });

  const metricsSchema = {
    ...operation('getMetrics', 'Prometheus metrics (handlers, retries, dead letters, lag, HTTP)'),
    response: {
      200: textResponse('Prometheus text exposition format.', 'text/plain'),
      429: RATE_LIMITED,
    },
  };
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    const { contentType, body } = await metrics();
    return reply.type(contentType).send(body);
  });

  const openapiSchema = {
    ...operation('getOpenApi', 'This OpenAPI document'),
    response: {
      200: jsonResponse('The OpenAPI 3.1 document of the routes this server serves.', z.looseObject({})),
      429: RATE_LIMITED,
    },
  };
  app.get('/openapi.json', { schema: openapiSchema }, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(app.swagger() as Record<string, unknown>),
  );
};
