// Notification: tells the customer the outcome of each order, exactly once. Sending is a
// declared effect whose key is stable across redeliveries, so the provider stores a resent
// message once; the record of it and `NotificationSent` commit together afterwards.
import { type HandlerContext, createProducer } from '@herald/core';
import { type OrderOutcome, orderOutcomeMessage } from '@herald/orders-domain/notification.ts';
import {
  NotificationSent,
  OrderConfirmed,
  OrderRejected,
  TOPICS,
  eventIdOf,
} from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { type ServiceDefinition, defineService } from '@herald/service';
import { type FlowDeps, outageOf, produced, withFaults } from '../flow.ts';
import { SimulatedMailbox } from '@herald/orders-domain/simulated-mailbox.ts';

const SOURCE = '/notification';

/** The notification service: group `notification.mailer` on topic `orders`. */
export function notificationService(deps: FlowDeps): ServiceDefinition {
  return defineService({
    name: 'notification',
    group: GROUPS.notification,
    consumes: [TOPICS.orders],
    produces: produced(deps, TOPICS.notifications),
    effects: 'perform',
    middleware: withFaults(deps.faults, 'notification'),
    pause: outageOf(deps.faults, 'notification'),
    handlers(router, context) {
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
    },
  });
}
