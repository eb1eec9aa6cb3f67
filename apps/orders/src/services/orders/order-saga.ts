// The order saga (orders service): collects the outcomes of inventory, payment and fraud and
// decides, emitting OrderConfirmed or OrderRejected in the same transaction that records the
// decision, so an order is decided exactly once.
import {
  type AppendResult,
  type HandlerContext,
  type Producer,
  type StoreTransaction,
  PermanentFailure,
  createProducer,
} from '@herald/core';
import type { PlacedOrder } from '@herald/orders-domain/order.ts';
import { type SagaState, type StepOutcome, recordOutcome, startSaga } from '@herald/orders-domain/saga.ts';
import {
  FraudCheckFailed,
  FraudCheckPassed,
  OrderConfirmed,
  OrderRejected,
  PaymentAuthorized,
  PaymentDeclined,
  StockReservationFailed,
  StockReserved,
  TOPICS,
  eventIdOf,
} from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { type ServiceContext, type ServiceDefinition, defineService } from '@herald/service';
import { type FlowDeps, produced } from '../flow.ts';

const SOURCE = '/orders';

async function decide(
  tx: StoreTransaction,
  events: Producer<AppendResult | undefined>,
  orderId: string,
  outcome: StepOutcome,
): Promise<void> {
  const state = (await tx.get<SagaState>(COLLECTIONS.sagas, orderId)) ?? startSaga(orderId);
  const { state: next, decided } = recordOutcome(state, outcome);
  if (next === state) return;
  await tx.put(COLLECTIONS.sagas, orderId, next);
  if (decided === null) return;
  const order = await tx.get<PlacedOrder>(COLLECTIONS.orders, orderId);
  if (order === undefined) throw new PermanentFailure(`order ${orderId} has outcomes but was never placed`);
  const { customerId, currency, total } = order;
  const at = new Date().toISOString();
  const items = order.items.map(({ sku, quantity }) => ({ sku, quantity }));
  if (decided.status === 'confirmed') {
    await events.publish(
      TOPICS.orders,
      OrderConfirmed,
      { orderId, customerId, currency, total, items, confirmedAt: at },
      { key: orderId, subject: orderId, id: eventIdOf(orderId, 'order-confirmed') },
    );
  } else {
    await events.publish(
      TOPICS.orders,
      OrderRejected,
      {
        orderId,
        customerId,
        currency,
        total,
        reason: decided.reason,
        detail: decided.detail,
        rejectedAt: at,
      },
      { key: orderId, subject: orderId, id: eventIdOf(orderId, 'order-rejected') },
    );
  }
}

/**
 * The saga: group `orders.saga` on topics `inventory`, `payments` and `fraud`; it writes the
 * decisions to `orders`. `prepare` runs before it first consumes (the catalog seeding).
 */
export function orderSaga(
  deps: FlowDeps,
  prepare?: (context: ServiceContext) => Promise<void>,
): ServiceDefinition {
  return defineService({
    name: 'orders',
    group: GROUPS.ordersSaga,
    consumes: [TOPICS.inventory, TOPICS.payments, TOPICS.fraud],
    produces: produced(deps, TOPICS.orders),
    ...(prepare === undefined ? {} : { prepare }),
    handlers(router, context) {
      const events = createProducer({ sink: context.log, source: SOURCE });
      const on = (orderId: string, outcome: StepOutcome, ctx: HandlerContext) =>
        ctx.transaction((tx) => decide(tx, events.within(tx), orderId, outcome));
      router.on(StockReserved, ({ orderId }, _e, ctx) => on(orderId, { step: 'inventory', ok: true }, ctx));
      router.on(StockReservationFailed, ({ orderId, detail }, _e, ctx) =>
        on(orderId, { step: 'inventory', ok: false, detail }, ctx),
      );
      router.on(PaymentAuthorized, ({ orderId }, _e, ctx) => on(orderId, { step: 'payment', ok: true }, ctx));
      router.on(PaymentDeclined, ({ orderId, detail }, _e, ctx) =>
        on(orderId, { step: 'payment', ok: false, detail }, ctx),
      );
      router.on(FraudCheckPassed, ({ orderId }, _e, ctx) => on(orderId, { step: 'fraud', ok: true }, ctx));
      router.on(FraudCheckFailed, ({ orderId, detail }, _e, ctx) =>
        on(orderId, { step: 'fraud', ok: false, detail }, ctx),
      );
    },
  });
}
