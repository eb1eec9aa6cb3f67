// The orders service of the REST baseline: the same `POST /orders` contract as the event-driven
// API (body, limits, Idempotency-Key), answering `201` with the order's final view, or the
// error the chain produced as problem+json. Also `GET /orders/:id`, `/readyz`, and the admin
// endpoints the lab drives faults and reads counters through (bearer token).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '@herald/core';
import type { OrderView } from '@herald/orders-domain/order-view.ts';
import { parseJsonBody } from '@herald/orders-domain/http/json-body.ts';
import {
  LIMITS,
  faultServiceParamsSchema,
  orderParamsSchema,
  orderRequestOf,
  placeOrderBody,
} from '@herald/orders-domain/http/schemas.ts';
import { type FaultController, faultSettingsSchema } from '@herald/orders-domain/faults.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import type { CallFailure, DownstreamClient } from './downstream-client.ts';
import { type ChainResult, REST_COLLECTIONS, type RestOrderChain, type RestOutcome } from './order-chain.ts';
import { RestProblemError, parseBody, replyProblem, restProblem } from './rest-http.ts';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** What `GET /admin/stats` answers: the chain's calls and retries, outcomes, repairs. */
export interface RestStats {
  readonly calls: Readonly<Record<string, { calls: number; retries: number; failures: number }>>;
  readonly retries: number;
  readonly outcomes: Readonly<Record<RestOutcome['outcome'], number>>;
  readonly repairs: number;
}

function failureProblem(failure: CallFailure, orderId: string) {
  const [status, slug, title] =
    failure.kind === 'timeout'
      ? ([504, 'downstream-timeout', 'A downstream service did not answer in time'] as const)
      : failure.kind === 'unavailable'
        ? ([503, 'downstream-unavailable', 'A downstream service is unavailable'] as const)
        : ([502, 'downstream-error', 'A downstream service answered unexpectedly'] as const);
  return { ...restProblem(status, slug, title, `${failure.message}; the order was not placed`), orderId };
}

/** The view as the event-driven API shows it: no null reason or detail, with links. */
function viewBody(view: OrderView) {
  const { reason, detail, ...rest } = view;
  return {
    ...rest,
    ...(reason === null ? {} : { reason }),
    ...(detail === null ? {} : { detail }),
    links: { self: `/orders/${view.orderId}` },
  };
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Registers the orders routes. */
export function ordersApi(
  app: FastifyInstance,
  deps: {
    readonly store: Store;
    readonly chain: RestOrderChain;
    readonly faults: FaultController;
    readonly clients: readonly DownstreamClient[];
    /** Base URLs of the downstream services, for `/readyz`. */
    readonly downstreamUrls: readonly string[];
    /** Admin endpoints answer 401 without it; without a token they are off (404). */
    readonly adminToken: string | undefined;
  },
): void {
  const { chain, store } = deps;

  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: LIMITS.bodyBytes },
    (_req, body, done) => {
      try {
        done(null, parseJsonBody(body as string, LIMITS.depth));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );

  app.post('/orders', async (request, reply) => {
    const body = parseBody(placeOrderBody, request.body, 422);
    const key = request.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
      throw new RestProblemError(
        restProblem(
          400,
          'invalid-idempotency-key',
          'The Idempotency-Key header is invalid',
          'at most 255 visible ASCII characters',
        ),
      );
    }
    const result: ChainResult = await chain.place(orderRequestOf(body), key);
    switch (result.kind) {
      case 'decided':
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply
          .code(201)
          .header('location', `/orders/${result.view.orderId}`)
          .send(viewBody(result.view));
      case 'failed': {
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        const problem = failureProblem(result.failure, result.orderId);
        return reply.code(problem.status).type('application/problem+json; charset=utf-8').send(problem);
      }
      case 'invalid':
        return replyProblem(
          reply,
          restProblem(
            422,
            'invalid-order',
            'The order cannot be placed',
            result.problems.map((p) => p.detail).join('; '),
            result.problems.map((p) => ({ pointer: p.pointer, detail: p.detail })),
          ),
        );
      case 'key-reused':
        return replyProblem(
          reply,
          restProblem(
            422,
            'idempotency-key-reused',
            'The Idempotency-Key was used with another request',
            'use a new key for a new request',
          ),
        );
      case 'key-in-flight':
        return replyProblem(
          reply,
          restProblem(
            409,
            'idempotency-key-in-flight',
            'A request with this Idempotency-Key is in progress',
            'retry later',
          ),
        );
    }
  });

  app.get('/orders/:orderId', async (request, reply) => {
    const { orderId } = parseBody(orderParamsSchema, request.params);
    const view = await store.get<OrderView>(COLLECTIONS.orderViews, orderId);
    if (view === undefined) {
      return replyProblem(reply, restProblem(404, 'not-found', 'Not found', `no order ${orderId}`));
    }
    return viewBody(view);
  });

  app.get('/readyz', async (_request, reply) => {
    const checks = await Promise.all(
      deps.downstreamUrls.map(async (url) => {
        try {
          const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
          await response.body?.cancel();
          return response.ok;
        } catch {
          return false;
        }
      }),
    );
    const down = deps.downstreamUrls.filter((_, i) => checks[i] !== true);
    if (down.length > 0) {
      return replyProblem(
        reply,
        restProblem(503, 'unavailable', 'Not ready', `not answering: ${down.join(', ')}`),
      );
    }
    return { status: 'ready' };
  });

  const admin = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (deps.adminToken === undefined) {
      replyProblem(
        reply,
        restProblem(404, 'not-found', 'Not found', 'the admin endpoints are off (no HERALD_ADMIN_TOKEN)'),
      );
      return false;
    }
    const header = request.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!sameSecret(given, deps.adminToken)) {
      reply.header('www-authenticate', 'Bearer');
      replyProblem(
        reply,
        restProblem(401, 'unauthorized', 'Authentication required', 'a valid bearer token is required'),
      );
      return false;
    }
    return true;
  };

  app.get('/admin/faults', async (request, reply) => {
    if (!admin(request, reply)) return reply;
    await deps.faults.refresh();
    return { services: deps.faults.all() };
  });

  app.put('/admin/faults/:service', async (request, reply) => {
    if (!admin(request, reply)) return reply;
    const { service } = parseBody(faultServiceParamsSchema, request.params, 404);
    const settings = await deps.faults.update(service, parseBody(faultSettingsSchema, request.body, 422));
    return { service, settings };
  });

  app.delete('/admin/faults', async (request, reply) => {
    if (!admin(request, reply)) return reply;
    await deps.faults.clear();
    return reply.code(204).send();
  });

  app.get('/admin/stats', async (request, reply): Promise<RestStats | FastifyReply> => {
    if (!admin(request, reply)) return reply;
    const calls = Object.fromEntries(deps.clients.map((c) => [c.service, { ...c.counters }]));
    const outcomes = { pending: 0, confirmed: 0, rejected: 0, failed: 0 };
    for (const { value } of await store.list<RestOutcome>(REST_COLLECTIONS.outcomes))
      outcomes[value.outcome]++;
    const repairs = (await store.list(REST_COLLECTIONS.repairs)).length;
    return {
      calls,
      retries: deps.clients.reduce((sum, c) => sum + c.counters.retries, 0),
      outcomes,
      repairs,
    };
  });
}
