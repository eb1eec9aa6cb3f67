// Payment: owns authorizations and captures. Authorizes a placed order's total at the gateway,
// captures it once the order is confirmed, voids it when the order is rejected (compensation).
// Each gateway call is a declared effect keyed stably across redeliveries; its outcome and the
// event announcing it commit in one transaction afterwards.
import { PermanentFailure, createProducer } from '@herald/core';
import type { GatewayResponse, GatewayRules } from '@herald/orders-domain/payment.ts';
import {
  OrderConfirmed,
  OrderPlaced,
  OrderRejected,
  PaymentAuthorized,
  PaymentCaptured,
  PaymentDeclined,
  PaymentVoided,
  TOPICS,
  eventIdOf,
} from '@herald/orders-domain/events.ts';
import type { Currency } from '@herald/orders-domain/money.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { type ServiceDefinition, defineService } from '@herald/service';
import { type FlowDeps, outageOf, produced } from '../flow.ts';
import { SimulatedGateway } from '@herald/orders-domain/simulated-gateway.ts';

const SOURCE = '/payment';

/** What payment keeps per order. */
export interface AuthorizationRecord {
  readonly orderId: string;
  readonly status: 'authorized' | 'declined' | 'captured' | 'voided';
  readonly authorizationId: string | null;
  readonly amount: number;
  readonly currency: Currency;
}

function unexpected(operation: string, response: GatewayResponse): PermanentFailure {
  return new PermanentFailure(
    `the gateway answered ${operation} with ${response.status}: ${JSON.stringify(response)}`,
  );
}

/** The payment service: group `payment.authorizations` on topic `orders`. */
export function paymentService(deps: FlowDeps, options: { readonly rules: GatewayRules }): ServiceDefinition {
  return defineService({
    name: 'payment',
    group: GROUPS.payment,
    consumes: [TOPICS.orders],
    produces: produced(deps, TOPICS.payments),
    effects: 'perform',
    pause: outageOf(deps.faults, 'payment'),
    handlers(router, context) {
      const { log, store } = context;
      const events = createProducer({ sink: log, source: SOURCE });
      const gateway = new SimulatedGateway(store, options.rules, deps.faults);

      router.on(OrderPlaced, async (order, _event, ctx) => {
        const { orderId, total: amount, currency } = order;
        const response = await ctx.effect('authorize', (key) =>
          gateway.authorize({ orderId, amount, currency, token: order.paymentToken }, key, ctx.signal),
        );
        if (response === undefined) return;
        await ctx.transaction(async (tx) => {
          if (response.status === 'authorized') {
            const record: AuthorizationRecord = {
              orderId,
              status: 'authorized',
              authorizationId: response.authorizationId,
              amount,
              currency,
            };
            await tx.put(COLLECTIONS.authorizations, orderId, record);
            await events
              .within(tx)
              .publish(
                TOPICS.payments,
                PaymentAuthorized,
                { orderId, authorizationId: response.authorizationId, amount, currency },
                { key: orderId, id: eventIdOf(orderId, 'payment-authorized') },
              );
          } else if (response.status === 'declined') {
            const record: AuthorizationRecord = {
              orderId,
              status: 'declined',
              authorizationId: null,
              amount,
              currency,
            };
            await tx.put(COLLECTIONS.authorizations, orderId, record);
            await events
              .within(tx)
              .publish(
                TOPICS.payments,
                PaymentDeclined,
                { orderId, amount, currency, reason: response.reason, detail: response.detail },
                { key: orderId, id: eventIdOf(orderId, 'payment-declined') },
              );
          } else {
            throw unexpected('authorize', response);
          }
        });
      });

      router.on(OrderConfirmed, async ({ orderId }, _event, ctx) => {
        const record = await store.get<AuthorizationRecord>(COLLECTIONS.authorizations, orderId);
        if (record?.status !== 'authorized' || record.authorizationId === null) return;
        const response = await ctx.effect('capture', (key) => gateway.capture(orderId, key, ctx.signal));
        if (response === undefined) return;
        if (response.status !== 'captured') throw unexpected('capture', response);
        await ctx.transaction(async (tx) => {
          await tx.put(COLLECTIONS.authorizations, orderId, {
            ...record,
            status: 'captured',
          } satisfies AuthorizationRecord);
          await events.within(tx).publish(
            TOPICS.payments,
            PaymentCaptured,
            {
              orderId,
              authorizationId: response.authorizationId,
              amount: response.amount,
              currency: record.currency,
            },
            { key: orderId, id: eventIdOf(orderId, 'payment-captured') },
          );
        });
      });

      // Compensation: only an authorization that exists is voided; a declined payment has none.
      router.on(OrderRejected, async ({ orderId }, _event, ctx) => {
        const record = await store.get<AuthorizationRecord>(COLLECTIONS.authorizations, orderId);
        if (record?.status !== 'authorized' || record.authorizationId === null) return;
        const response = await ctx.effect('void', (key) => gateway.void(orderId, key, ctx.signal));
        if (response === undefined) return;
        if (response.status !== 'voided') throw unexpected('void', response);
        await ctx.transaction(async (tx) => {
          await tx.put(COLLECTIONS.authorizations, orderId, {
            ...record,
            status: 'voided',
          } satisfies AuthorizationRecord);
          await events.within(tx).publish(
            TOPICS.payments,
            PaymentVoided,
            {
              orderId,
              authorizationId: response.authorizationId,
              amount: response.amount,
              currency: record.currency,
            },
            { key: orderId, id: eventIdOf(orderId, 'payment-voided') },
          );
        });
      });
    },
  });
}
