// The payment service of the REST baseline: authorize, capture and void at the simulated gateway
// (the same gateway, rules and injected faults as the event-driven payment service). Every
// operation is idempotent per order id. A void that arrives before the authorization it undoes
// (the authorize call timed out and is still running) leaves a `cancelled` record; an
// authorization that completes afterwards is voided at once and answered 409, so no money stays
// held for an order the caller gave up on.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '@herald/core';
import { CURRENCIES, type Currency } from '@herald/orders-domain/money.ts';
import type { GatewayEntry, GatewayResponse, GatewayRules } from '@herald/orders-domain/payment.ts';
import type { FaultController } from '@herald/orders-domain/faults.ts';
import { SimulatedGateway } from '@herald/orders-domain/simulated-gateway.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { RestProblemError, parseBody, restProblem } from './rest-http.ts';

const authorizeBody = z.object({
  orderId: z.string().min(1),
  amount: z.int().min(0),
  currency: z.enum(CURRENCIES),
  token: z.string().min(1),
});

const orderParams = z.object({ orderId: z.string().min(1) });

/** What the payment service keeps per order. `cancelled`: voided before any authorization. */
export interface RestAuthorization {
  readonly orderId: string;
  readonly status: 'authorized' | 'declined' | 'captured' | 'voided' | 'cancelled';
  readonly authorizationId: string | null;
  readonly amount: number | null;
  readonly currency: Currency | null;
}

/** The answers of the payment routes (409 for `cancelled`, and for a refused capture or void). */
export type PaymentAnswer =
  | { readonly status: 'authorized' | 'captured' | 'voided'; readonly authorizationId: string }
  | { readonly status: 'declined'; readonly reason: string; readonly detail: string }
  | { readonly status: 'cancelled' | 'refused'; readonly detail: string };

function unexpected(operation: string, response: GatewayResponse): RestProblemError {
  return new RestProblemError(
    restProblem(
      502,
      'gateway-error',
      'The payment gateway answered unexpectedly',
      `${operation}: ${JSON.stringify(response)}`,
    ),
  );
}

/** Registers the payment routes. */
export function paymentApi(
  app: FastifyInstance,
  deps: { readonly store: Store; readonly faults: FaultController; readonly rules: GatewayRules },
): void {
  const { store } = deps;
  const gateway = new SimulatedGateway(store, deps.rules, deps.faults);
  const key = (orderId: string, operation: string) => `${orderId}/${operation}`;

  app.post('/authorizations', async (request, reply): Promise<PaymentAnswer> => {
    const { orderId, amount, currency, token } = parseBody(authorizeBody, request.body);
    const known = await store.get<RestAuthorization>(COLLECTIONS.authorizations, orderId);
    if (known?.status === 'cancelled') {
      reply.code(409);
      return {
        status: 'cancelled',
        detail: 'the payment of this order was cancelled before it was authorized',
      };
    }
    // Faults are injected in the gateway call, as in the event-driven payment service.
    const response = await gateway.authorize({ orderId, amount, currency, token }, key(orderId, 'authorize'));
    if (response.status !== 'authorized' && response.status !== 'declined')
      throw unexpected('authorize', response);
    const cancelled = await store.transaction(async (tx) => {
      const record = await tx.get<RestAuthorization>(COLLECTIONS.authorizations, orderId);
      if (record?.status === 'cancelled') return true;
      if (record === undefined) {
        const created: RestAuthorization =
          response.status === 'authorized'
            ? { orderId, status: 'authorized', authorizationId: response.authorizationId, amount, currency }
            : { orderId, status: 'declined', authorizationId: null, amount, currency };
        await tx.put(COLLECTIONS.authorizations, orderId, created);
      }
      return false;
    });
    if (cancelled) {
      if (response.status === 'authorized') {
        const voided = await gateway.void(orderId, key(orderId, 'void'));
        if (voided.status !== 'voided') throw unexpected('void', voided);
      }
      reply.code(409);
      return {
        status: 'cancelled',
        detail: 'the payment of this order was cancelled while it was being authorized',
      };
    }
    return response.status === 'authorized'
      ? { status: 'authorized', authorizationId: response.authorizationId }
      : { status: 'declined', reason: response.reason, detail: response.detail };
  });

  app.get('/authorizations/:orderId', async (request, reply) => {
    const { orderId } = parseBody(orderParams, request.params);
    const [record, gatewayEntry] = await Promise.all([
      store.get<RestAuthorization>(COLLECTIONS.authorizations, orderId),
      store.get<GatewayEntry>(COLLECTIONS.gateway, orderId),
    ]);
    if (record === undefined && gatewayEntry === undefined) {
      throw new RestProblemError(
        restProblem(404, 'not-found', 'Not found', `no payment for order ${orderId}`),
      );
    }
    return reply.send({ record: record ?? null, gateway: gatewayEntry ?? null });
  });

  app.post('/authorizations/:orderId/capture', async (request, reply): Promise<PaymentAnswer> => {
    const { orderId } = parseBody(orderParams, request.params);
    const record = await store.get<RestAuthorization>(COLLECTIONS.authorizations, orderId);
    if (record?.status === 'captured' && record.authorizationId !== null) {
      return { status: 'captured', authorizationId: record.authorizationId };
    }
    if (record?.status !== 'authorized') {
      reply.code(409);
      return {
        status: 'refused',
        detail: `order ${orderId} has no authorization to capture (${record?.status ?? 'none'})`,
      };
    }
    const response = await gateway.capture(orderId, key(orderId, 'capture'));
    if (response.status !== 'captured') throw unexpected('capture', response);
    await store.transaction((tx) =>
      tx.put(COLLECTIONS.authorizations, orderId, {
        ...record,
        status: 'captured',
      } satisfies RestAuthorization),
    );
    return { status: 'captured', authorizationId: response.authorizationId };
  });

  app.post('/authorizations/:orderId/void', async (request, reply): Promise<PaymentAnswer> => {
    const { orderId } = parseBody(orderParams, request.params);
    const record = await store.transaction(async (tx) => {
      const found = await tx.get<RestAuthorization>(COLLECTIONS.authorizations, orderId);
      if (found !== undefined) return found;
      const tombstone: RestAuthorization = {
        orderId,
        status: 'cancelled',
        authorizationId: null,
        amount: null,
        currency: null,
      };
      await tx.put(COLLECTIONS.authorizations, orderId, tombstone);
      return tombstone;
    });
    if (record.status === 'cancelled' || record.status === 'declined') {
      return { status: 'cancelled', detail: `order ${orderId} holds no authorization (${record.status})` };
    }
    if (record.status === 'voided' && record.authorizationId !== null) {
      return { status: 'voided', authorizationId: record.authorizationId };
    }
    if (record.status === 'captured') {
      reply.code(409);
      return { status: 'refused', detail: `the payment of order ${orderId} was captured` };
    }
    const response = await gateway.void(orderId, key(orderId, 'void'));
    if (response.status !== 'voided') throw unexpected('void', response);
    await store.transaction((tx) =>
      tx.put(COLLECTIONS.authorizations, orderId, {
        ...record,
        status: 'voided',
      } satisfies RestAuthorization),
    );
    return { status: 'voided', authorizationId: response.authorizationId };
  });
}
