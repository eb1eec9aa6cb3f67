// The admin API: the injected faults of each downstream service, behind a bearer token.
import type { FastifyPluginAsync } from 'fastify';
import { faultServiceParamsSchema } from '@herald/orders-domain/http/schemas.ts';
import { type FaultController, faultSettingsSchema } from '@herald/orders-domain/faults.ts';
import { requireBearer, requireJson } from './request-guards.ts';
import { validate } from './validate.ts';

/** What the admin routes change, and who may. */
export interface AdminRoutesOptions {
  /** Bearer token of `/admin/*`. */
  readonly adminToken: string;
  readonly faults: FaultController;
}

/** `GET /admin/faults`, `PUT /admin/faults/:service` and `DELETE /admin/faults`. */
export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, { adminToken, faults }) => {
  const requireAdmin = requireBearer(adminToken);
  app.get('/admin/faults', { onRequest: [requireAdmin] }, async () => ({ services: faults.all() }));
  app.put('/admin/faults/:service', { onRequest: [requireAdmin, requireJson] }, async (request) => {
    const { service } = validate(faultServiceParamsSchema, request.params, 404, 'not-found');
    const update = validate(faultSettingsSchema, request.body, 422, 'invalid-request');
    return { service, settings: await faults.update(service, update) };
  });
  app.delete('/admin/faults', { onRequest: [requireAdmin] }, async (_request, reply) => {
    await faults.clear();
    return reply.code(204).send();
  });
};
