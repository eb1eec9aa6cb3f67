// What operators and tooling read: liveness, readiness, Prometheus metrics (the consumers', the
// API's own and the runtime's) and the OpenAPI document.
import type { FastifyPluginAsync } from 'fastify';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';
import { buildOpenApiDocument } from './openapi.ts';

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

/** `GET /healthz`, `GET /readyz` (503 while not ready), `GET /metrics` and `GET /openapi.json`. */
export const operationsRoutes: FastifyPluginAsync<OperationsRoutesOptions> = async (app, options) => {
  const { metrics, readiness } = options;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    const { ready, detail } = readiness();
    if (!ready) throw new ProblemError(problemOf(503, 'unavailable', detail), { 'retry-after': '1' });
    return { status: 'ready', detail };
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics();
    return reply.type(contentType).send(body);
  });

  const openapi = JSON.stringify(buildOpenApiDocument());
  app.get('/openapi.json', async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(openapi),
  );
};
