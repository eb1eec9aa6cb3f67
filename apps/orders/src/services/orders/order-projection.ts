// The order view (orders service): a projection of every event about an order into the
// document `GET /orders/:id` serves. Group `orders.view`; its committed position on topic
// `orders` is what a consistency token is compared with.
import { type OrderView, applyFact } from '@herald/orders-domain/order-view.ts';
import { EVENTS_BY_TOPIC, TOPICS } from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { orderFactOf } from '../facts.ts';
import { type ServiceDefinition, defineService } from '@herald/service';
import type { ViewChanges } from './view-changes.ts';

/** Topics the view reads. */
export const VIEW_TOPICS = [
  TOPICS.orders,
  TOPICS.inventory,
  TOPICS.payments,
  TOPICS.fraud,
  TOPICS.notifications,
];

/**
 * How often the view commits its position. Short, because a read with a consistency token waits
 * for that commit; a commit is skipped when nothing was handled.
 */
const VIEW_COMMIT_INTERVAL_MS = 20;

/** The view: group `orders.view`; it signals `changes` after each view it changed. */
export function orderProjection(changes: ViewChanges): ServiceDefinition {
  return defineService({
    name: 'orders',
    group: GROUPS.ordersView,
    consumes: VIEW_TOPICS,
    commitIntervalMs: VIEW_COMMIT_INTERVAL_MS,
    handlers(router) {
      for (const topic of VIEW_TOPICS) {
        for (const definition of EVENTS_BY_TOPIC[topic]) {
          router.on(definition.type, async (event, ctx) => {
            const decoded = orderFactOf(event);
            if (decoded === undefined) return;
            const { orderId, fact } = decoded;
            const changed = await ctx.transaction(async (tx) => {
              const view = await tx.get<OrderView>(COLLECTIONS.orderViews, orderId);
              const next = applyFact(view, orderId, fact);
              if (next === view) return false;
              await tx.put(COLLECTIONS.orderViews, orderId, next);
              return true;
            });
            if (changed) changes.notify(orderId);
          });
        }
      }
    },
  });
}
