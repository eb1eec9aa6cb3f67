// The admin API: the injected faults of each downstream service, behind a bearer token.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { faultServiceParamsSchema } from '@herald/orders-domain/http/schemas.ts';
import { DOWNSTREAM_SERVICES } from '@herald/orders-domain/topology.ts';
import { type FaultController, faultSettingsSchema } from '@herald/orders-domain/faults.ts';
import { RATE_LIMITED, emptyResponse, jsonResponse, problemResponse } from './openapi.ts';
import { requireBearer, requireJson } from './request-guards.ts';
import { problemValidatorCompiler } from './validate.ts';

/** The faults a service has now (every setting, unlike the partial update the PUT takes). */
const currentFaults = z.object({
  latencyMs: z.int(),
  tailLatencyMs: z.int(),
  tailRate: z.number(),
  errorRate: z.number(),
  outage: z.boolean(),
});

/** What the admin routes change, and who may. */
export interface AdminRoutesOptions {
  /** Bearer token of `/admin/*`. */
  readonly adminToken: string;
  readonly faults: FaultController;
}

/** `GET /admin/faults`, `PUT /admin/faults/:service` and `DELETE /admin/faults`. */
export const adminRoutes: FastifyPluginAsyncZod<AdminRoutesOptions> = async (app, { adminToken, faults }) => {
  const requireAdmin = requireBearer(adminToken);
  const admin = (operationId: string, summary: string) =>
    ({ operationId, summary, tags: ['admin'], security: [{ bearer: [] }] }) as const;
  const unauthorized = problemResponse('No or wrong bearer token.');
  const service = z.enum(DOWNSTREAM_SERVICES);

  const list = {
    ...admin('listFaults', 'Injected faults per service'),
    response: {
      200: jsonResponse(
        'Settings of every service.',
        z.object({ services: z.partialRecord(service, currentFaults) }),
      ),
      401: unauthorized,
      429: RATE_LIMITED,
    },
  };
  app.get('/admin/faults', { schema: list, onRequest: [requireAdmin] }, async () => ({
    services: faults.all(),
  }));

  const change = {
    ...admin('changeFaults', "Change one service's faults (latency, tail, error rate, outage)"),
    params: faultServiceParamsSchema,
    body: faultSettingsSchema,
    response: {
      200: jsonResponse('The new settings.', z.object({ service, settings: currentFaults })),
      401: unauthorized,
      404: problemResponse('No such service: only downstream services take faults.'),
      415: problemResponse('The body is not application/json (UTF-8).'),
      422: problemResponse('Invalid settings.'),
      429: RATE_LIMITED,
    },
  };
  app.put(
    '/admin/faults/:service',
    {
      schema: change,
      // An unknown service is a resource that does not exist: 404, not a bad parameter.
      validatorCompiler: problemValidatorCompiler({ params: { status: 404, slug: 'not-found' } }),
      onRequest: [requireAdmin, requireJson],
    },
    async (request) => {
      const { service } = request.params;
      return { service, settings: await faults.update(service, request.body) };
    },
  );

  const clear = {
    ...admin('clearFaults', 'Remove every fault'),
    response: { 204: emptyResponse('Removed.'), 401: unauthorized, 429: RATE_LIMITED },
  };
  app.delete('/admin/faults', { schema: clear, onRequest: [requireAdmin] }, async (_request, reply) => {
    await faults.clear();
    return reply.code(204).send();
  });
};
