// POST /orders: takes an order through OrderPlacement. Answers 202 once `OrderPlaced` is stored
// with the order; an Idempotency-Key makes a retry answer what the first request ended with.
import type { FastifyPluginAsync } from 'fastify';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';
import { orderRequestOf, placeOrderBody } from '@herald/orders-domain/http/schemas.ts';
import type { OrderPlacement } from '../services/orders/order-placement.ts';
import { refuseReservedHeaders, requireJson } from './request-guards.ts';
import { validate } from './validate.ts';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:~+/=-]{1,255}$/;

/** What the order route writes through. */
export interface OrderRoutesOptions {
  readonly placement: OrderPlacement;
}

/** `POST /orders`. */
export const orderRoutes: FastifyPluginAsync<OrderRoutesOptions> = async (app, { placement }) => {
  app.post('/orders', { onRequest: [refuseReservedHeaders, requireJson] }, async (request, reply) => {
    const key = idempotencyKeyOf(request.headers['idempotency-key']);
    const body = validate(placeOrderBody, request.body, 422, 'invalid-request');
    const outcome = await placement.place(orderRequestOf(body), key);
    switch (outcome.kind) {
      case 'accepted': {
        // The request's server span (see http-tracing.ts) names the order it accepted.
        request.opentelemetry().span?.setAttribute('herald.order_id', outcome.order.orderId);
        reply.code(202).header('location', outcome.order.links.self);
        if (outcome.replayed) reply.header('idempotent-replayed', 'true');
        return reply.send(outcome.order);
      }
      case 'invalid':
        throw new ProblemError(
          problemOf(422, 'invalid-order', outcome.problems.map((p) => p.detail).join('; '), {
            errors: outcome.problems.map((p) => ({ pointer: p.pointer, detail: p.detail })),
          }),
        );
      case 'key-reused':
        throw new ProblemError(
          problemOf(
            422,
            'idempotency-key-reused',
            'this Idempotency-Key was used before with a different request body',
          ),
        );
      case 'key-in-flight':
        throw new ProblemError(
          problemOf(
            409,
            'idempotency-key-in-flight',
            'a request with this Idempotency-Key is being handled; retry later',
          ),
          { 'retry-after': '1' },
        );
    }
  });
};

function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) {
    throw new ProblemError(problemOf(400, 'invalid-idempotency-key', 'send one Idempotency-Key header'));
  }
  // The draft standard sends it as a structured-field string ("…"); a bare token is accepted too.
  const key =
    header.length >= 2 && header.startsWith('"') && header.endsWith('"') ? header.slice(1, -1) : header;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ProblemError(
      problemOf(
        400,
        'invalid-idempotency-key',
        'the Idempotency-Key must be 1-255 characters of letters, digits and _ . : ~ + / = -',
      ),
    );
  }
  return key;
}
