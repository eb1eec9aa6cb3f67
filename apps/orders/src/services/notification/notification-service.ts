// Notification: tells the customer the outcome of each order, exactly once. Sending is a
// declared effect whose key is stable across redeliveries, so the provider stores a resent
// message once; the record of it and `NotificationSent` commit together afterwards.
import { type HandlerContext, createProducer, createRouter } from '@herald/core';
import { type OrderOutcome, orderOutcomeMessage } from '@herald/orders-domain/notification.ts';
import {
  NotificationSent,
  OrderConfirmed,
  OrderRejected,
  TOPICS,
  eventIdOf,
} from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { type Service, type ServiceContext, consumerMiddleware, routerDefaults } from '../service-kit.ts';
import { SimulatedMailbox } from '@herald/orders-domain/simulated-mailbox.ts';

const SOURCE = '/notification';

/** The notification service: group `notification.mailer` on topic `orders`. */
export function notificationService(context: ServiceContext): Service {
  const { log, store } = context;
  const events = createProducer({ sink: log, source: SOURCE });
  const mailbox = new SimulatedMailbox(store);

  async function notify(outcome: OrderOutcome, ctx: HandlerContext): Promise<void> {
    const message = orderOutcomeMessage(outcome);
    const sent = await ctx.effect('send-mail', (key) => mailbox.send(message, key));
    if (sent === undefined) return;
    const { orderId, customerId, kind } = outcome;
    await ctx.transaction(async (tx) => {
      await tx.put(COLLECTIONS.notificationsSent, orderId, { orderId, kind, messageId: sent.messageId });
      await events
        .within(tx)
        .publish(
          TOPICS.notifications,
          NotificationSent,
          { orderId, customerId, kind, messageId: sent.messageId, subject: message.subject },
          { key: orderId, id: eventIdOf(orderId, 'notification-sent') },
        );
    });
  }

  const build = () => {
    const router = createRouter({
      log,
      group: GROUPS.notification,
      topics: [TOPICS.orders],
      store,
      middleware: consumerMiddleware(context, 'notification', { injectFaults: true }),
      // Every order outcome must reach its customer, also one decided before this service
      // first ran; the provider dedupes resends by key. (Added consumers such as loyalty keep
      // the default: no effects for history.)
      effects: 'perform',
      ...routerDefaults(context),
    });
    router.on(OrderConfirmed, (data, _event, ctx) =>
      notify(
        {
          kind: 'order-confirmed',
          orderId: data.orderId,
          customerId: data.customerId,
          total: data.total,
          currency: data.currency,
        },
        ctx,
      ),
    );
    router.on(OrderRejected, (data, _event, ctx) =>
      notify(
        { kind: 'order-rejected', orderId: data.orderId, customerId: data.customerId, reason: data.reason },
        ctx,
      ),
    );
    return router;
  };
  return { name: 'notification', groups: [GROUPS.notification], routers: [build] };
}
