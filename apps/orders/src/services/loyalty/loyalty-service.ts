// Loyalty (added later): points per customer for confirmed orders. It was added without a line
// changed in any producer: it is one more consumer group on `orders`. Started on a log with
// history, it backfills from the beginning — the same points as if it had run from the start —
// and its declared effect (the points e-mail) is suppressed for that history: customers are not
// mailed about old orders. New orders after it went live get their e-mail.
import { createProducer } from '@herald/core';
import {
  type LoyaltyAccount,
  type PointsRule,
  awardPoints,
  pointsFor,
} from '@herald/orders-domain/loyalty.ts';
import { pointsMessage } from '@herald/orders-domain/notification.ts';
import { OrderConfirmed, PointsAwarded, TOPICS, eventIdOf } from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { SimulatedMailbox } from '@herald/orders-domain/simulated-mailbox.ts';
import { type ServiceDefinition, defineService } from '@herald/service';
import { type FlowDeps, outageOf, produced, withFaults } from '../flow.ts';

const SOURCE = '/loyalty';

export interface LoyaltyOptions {
  /** Points per order. Default one per whole major unit; a shadow run tries another rule first. */
  readonly rule?: PointsRule;
}

/** The loyalty service: group `loyalty.points` on topic `orders`. */
export function loyaltyService(deps: FlowDeps, options: LoyaltyOptions = {}): ServiceDefinition {
  const rule = options.rule ?? pointsFor;
  return defineService({
    name: 'loyalty',
    group: GROUPS.loyalty,
    consumes: [TOPICS.orders],
    produces: produced(deps, TOPICS.loyalty),
    middleware: withFaults(deps.faults, 'loyalty'),
    pause: outageOf(deps.faults, 'loyalty'),
    handlers(router, context) {
      const { log, store } = context;
      const events = createProducer({ sink: log, source: SOURCE });
      const mailbox = new SimulatedMailbox(store);
      router.on(OrderConfirmed, async (order, _event, ctx) => {
        const { orderId, customerId, total, currency } = order;
        await ctx.effect('points-mail', (key) =>
          mailbox.send(pointsMessage(customerId, orderId, rule(total, currency)), key),
        );
        await ctx.transaction(async (tx) => {
          const current = await tx.get<LoyaltyAccount>(COLLECTIONS.loyaltyAccounts, customerId);
          const { account, points } = awardPoints(current, customerId, total, currency, rule);
          await tx.put(COLLECTIONS.loyaltyAccounts, customerId, account);
          await events
            .within(tx)
            .publish(
              TOPICS.loyalty,
              PointsAwarded,
              { orderId, customerId, points, balance: account.points },
              { key: orderId, id: eventIdOf(orderId, 'points-awarded') },
            );
        });
      });
    },
  });
}
