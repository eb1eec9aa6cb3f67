// The order saga (orders service): collects the outcomes of inventory, payment and fraud and
// decides, emitting OrderConfirmed or OrderRejected in the same transaction that records the
// decision, so an order is decided exactly once. When it reads OrderPlaced it schedules the
// order's decision deadline (a durable timer, `decisionTimeoutMs` after the placement) with its
// state; a decision cancels it; a deadline that finds the order undecided rejects it
// (`decision-timeout`), and the services compensate as for any rejection.
import { Counter } from 'prom-client';
import {
  type AppendResult,
  type HandlerContext,
  type Producer,
  type StoreTransaction,
  PermanentFailure,
  createProducer,
} from '@herald/core';
import type { PlacedOrder } from '@herald/orders-domain/order.ts';
import {
  DEFAULT_DECISION_TIMEOUT_MS,
  type SagaDecision,
  type SagaState,
  type StepOutcome,
  recordOutcome,
  startSaga,
  timeOut,
} from '@herald/orders-domain/saga.ts';
import {
  FraudCheckFailed,
  FraudCheckPassed,
  OrderConfirmed,
  OrderDecisionDue,
  OrderPlaced,
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
  // Decided in time: the deadline is not needed (if it fired already, it finds the decision).
  await tx.cancelSchedule(deadlineIdOf(orderId));
  await announce(tx, events, orderId, decided);
}

/** The id of an order's decision deadline: its timer's and its OrderDecisionDue's. */
export function deadlineIdOf(orderId: string): string {
  return eventIdOf(orderId, 'order-decision-due');
}

/** Emits the decision (OrderConfirmed or OrderRejected) with the order's details. */
async function announce(
  tx: StoreTransaction,
  events: Producer<AppendResult | undefined>,
  orderId: string,
  decided: SagaDecision,
): Promise<void> {
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

/** The saga's options. */
export interface OrderSagaOptions {
  /**
   * How long after its placement an order may stay undecided before it is rejected with
   * `decision-timeout` (HERALD_DECISION_TIMEOUT_MS). Default {@link DEFAULT_DECISION_TIMEOUT_MS}.
   */
  readonly decisionTimeoutMs?: number;
  /** Runs before the saga first consumes (the catalog seeding). */
  readonly prepare?: (context: ServiceContext) => Promise<void>;
}

/**
 * The saga: group `orders.saga` on topics `orders` (OrderPlaced: it schedules the decision
 * deadline), `inventory`, `payments`, `fraud` (the outcomes) and `deadlines` (its timers); it
 * writes the decisions to `orders` and its timers' events to `deadlines`. Exports
 * `herald_orders_sagas_timed_out_total`: orders rejected because no decision came in time.
 */
export function orderSaga(deps: FlowDeps, options: OrderSagaOptions = {}): ServiceDefinition {
  const timeoutMs = options.decisionTimeoutMs ?? DEFAULT_DECISION_TIMEOUT_MS;
  const { prepare } = options;
  return defineService({
    name: 'orders',
    group: GROUPS.ordersSaga,
    consumes: [TOPICS.orders, TOPICS.inventory, TOPICS.payments, TOPICS.fraud, TOPICS.deadlines],
    produces: produced(deps, TOPICS.orders, TOPICS.deadlines),
    ...(prepare === undefined ? {} : { prepare }),
    handlers(router, context) {
      const events = createProducer({ sink: context.log, source: SOURCE });
      const timedOut = sagaTimeoutCounter(context.registry);

      // The deadline is measured from the placement, so an order the saga reads late (a backlog,
      // a new saga group backfilling) gets no more time than one read at once.
      router.on(OrderPlaced, async ({ orderId, placedAt }, _event, ctx) => {
        await ctx.transaction(async (tx) => {
          const state = await tx.get<SagaState>(COLLECTIONS.sagas, orderId);
          if (state?.decision != null) return;
          const dueAt = new Date(Date.parse(placedAt) + timeoutMs);
          await tx.schedule(
            dueAt,
            TOPICS.deadlines,
            OrderDecisionDue.create(
              { orderId, placedAt, dueAt: dueAt.toISOString() },
              { source: SOURCE, key: orderId, subject: orderId, id: deadlineIdOf(orderId) },
            ),
          );
        });
      });

      router.on(OrderDecisionDue, async ({ orderId }, _event, ctx) => {
        const decided = await ctx.transaction(async (tx) => {
          const state = (await tx.get<SagaState>(COLLECTIONS.sagas, orderId)) ?? startSaga(orderId);
          const { state: next, decided } = timeOut(state, timeoutMs);
          if (decided === null) return false;
          await tx.put(COLLECTIONS.sagas, orderId, next);
          await announce(tx, events.within(tx), orderId, decided);
          return true;
        });
        if (decided && !ctx.replaying) timedOut.inc();
      });
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

const TIMED_OUT_METRIC = 'herald_orders_sagas_timed_out_total';

/** The process's counter of sagas rejected on their deadline (one per registry). */
function sagaTimeoutCounter(registry: ServiceContext['registry']): Counter {
  const existing = registry.getSingleMetric(TIMED_OUT_METRIC);
  if (existing !== undefined) return existing as Counter;
  return new Counter({
    name: TIMED_OUT_METRIC,
    help: 'Orders the saga rejected because no decision came within the decision timeout (decision-timeout): a step that does not answer.',
    registers: [registry],
  });
}
