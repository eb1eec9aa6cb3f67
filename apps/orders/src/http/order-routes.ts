// POST /orders: takes an order through OrderPlacement. Answers 202 once `OrderPlaced` is stored
// with the order; an Idempotency-Key makes a retry answer what the first request ended with.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';
import {
  LIMITS,
  acceptedOrderSchema,
  orderRequestOf,
  placeOrderBody,
} from '@herald/orders-domain/http/schemas.ts';
import type { OrderPlacement } from '../services/orders/order-placement.ts';
import { RATE_LIMITED, RETRY_AFTER, jsonResponse, problemResponse } from './openapi.ts';
import { refuseReservedHeaders, requireJson } from './request-guards.ts';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:~+/=-]{1,255}$/;

/** What the order route writes through. */
export interface OrderRoutesOptions {
  readonly placement: OrderPlacement;
}

/** The Idempotency-Key of a request, checked before its body (400 before 422). */
const idempotencyKeys = new WeakMap<FastifyRequest, string>();

/** `POST /orders`. */
export const orderRoutes: FastifyPluginAsyncZod<OrderRoutesOptions> = async (app, { placement }) => {
  const schema = {
    operationId: 'placeOrder',
    summary: 'Place an order',
    tags: ['orders'],
    security: [],
    documentedHeaders: {
      type: 'object',
      properties: {
        'idempotency-key': {
          type: 'string',
          maxLength: LIMITS.idempotencyKeyLength + 2,
          description:
            'Same key and body: the original answer. Same key, other body: 422. Same key while the first is in ' +
            'progress: 409. 1-255 letters, digits and _ . : ~ + / = -, bare or as a structured-field string ("…").',
        },
      },
    },
    body: placeOrderBody,
    response: {
      202: {
        ...jsonResponse('Accepted: stored pending, OrderPlaced appended durably.', acceptedOrderSchema),
        headers: {
          Location: { description: 'The order: GET it to follow it.', schema: { type: 'string' } },
          'Idempotent-Replayed': {
            description: '`true` when this answers an earlier request with the same Idempotency-Key.',
            schema: { type: 'string', enum: ['true'] },
          },
        },
      },
      400: problemResponse(
        'Malformed JSON, a body nested too deeply, a forbidden or duplicate property, a bad Idempotency-Key, ' +
          'or a header reserved for the system (ce-*, x-herald-*).',
      ),
      409: problemResponse('A request with the same Idempotency-Key is in progress.', {
        'Retry-After': RETRY_AFTER,
      }),
      413: problemResponse(`The body is larger than ${LIMITS.bodyBytes / 1024} KiB.`),
      415: problemResponse('The body is not application/json (UTF-8).'),
      422: problemResponse('The body breaks the schema, names unknown SKUs, or reuses an Idempotency-Key.'),
      429: RATE_LIMITED,
      503: problemResponse('The log could not take the order; nothing was stored.', {
        'Retry-After': RETRY_AFTER,
      }),
    },
  };
  app.post(
    '/orders',
    {
      schema,
      onRequest: [refuseReservedHeaders, requireJson],
      preValidation: async (request) => {
        const key = idempotencyKeyOf(request.headers['idempotency-key']);
        if (key !== undefined) idempotencyKeys.set(request, key);
      },
    },
    async (request, reply) => {
      const key = idempotencyKeys.get(request);
      const outcome = await placement.place(orderRequestOf(request.body), key);
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
    },
  );
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
