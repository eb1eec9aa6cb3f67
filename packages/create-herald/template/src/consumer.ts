import {
  type EventLog,
  type Router,
  type Store,
  createRouter,
  deadLetter,
  idempotency,
  retry,
} from '@herald/core';
import { ORDERS_TOPIC, type Order, OrderPlaced } from './events.ts';

/**
 * The consumer group that ships orders. Groups are named `<service>.<purpose>`; renaming one
 * makes a new group that reads `orders` again from the start.
 */
export const SHIPPING_GROUP = '{{name}}.shipping';

/** Store collection of shipments, one document per order id. */
export const SHIPMENTS = 'shipments';

/** What the consumer keeps per order. `applications` counts how often the handler applied it. */
export interface Shipment extends Order {
  readonly applications: number;
}

export interface ShippingOptions {
  readonly log: EventLog;
  readonly store: Store;
  /** Called after a shipment is committed. */
  readonly onShipped?: (shipment: Shipment) => void;
}

/**
 * Ships each placed order once. The log delivers at least once (a crash before a commit
 * redelivers, a producer may retry), so the handler runs behind three middleware, outermost first:
 * - `deadLetter()` parks what fails for good in `orders.dead-letter`, so the partition moves on;
 * - `retry()` retries a failing handler with backoff (5 attempts), holding back only that order;
 * - `idempotency()` skips an event id this group has handled already: its inbox entry commits
 *   in the same transaction as the shipment, so a redelivered event has no second effect.
 *
 * @example
 * const router = createShipping({ log, store });
 * const running = router.run();
 * // … later
 * await router.stop();
 * await running;
 */
export function createShipping({ log, store, onShipped }: ShippingOptions): Router {
  const router = createRouter({
    log,
    group: SHIPPING_GROUP,
    topics: [ORDERS_TOPIC],
    store,
    middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 100 }), idempotency({ store })],
  });
  router.on(OrderPlaced, async (order, _event, ctx) => {
    const shipment = await ctx.transaction(async (tx) => {
      const previous = await tx.get<Shipment>(SHIPMENTS, order.orderId);
      const next: Shipment = { ...order, applications: (previous?.applications ?? 0) + 1 };
      await tx.put(SHIPMENTS, order.orderId, next);
      return next;
    });
    onShipped?.(shipment);
  });
  return router;
}
