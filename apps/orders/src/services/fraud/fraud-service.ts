// Fraud: owns its rules and each customer's recent orders. Checks every placed order; the event
// it emits explains each rule's verdict.
import { createProducer, createRouter } from '@herald/core';
import {
  type CustomerHistory,
  type FraudRules,
  assessFraud,
  explainFailure,
} from '@herald/orders-domain/fraud.ts';
import {
  FraudCheckFailed,
  FraudCheckPassed,
  OrderPlaced,
  TOPICS,
  eventIdOf,
} from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { type Service, type ServiceContext, consumerMiddleware, routerDefaults } from '../service-kit.ts';

const SOURCE = '/fraud';

/** The fraud service: group `fraud.checks` on topic `orders`. */
export function fraudService(context: ServiceContext, options: { readonly rules: FraudRules }): Service {
  const { log, store } = context;
  const events = createProducer({ sink: log, source: SOURCE });
  const build = () => {
    const router = createRouter({
      log,
      group: GROUPS.fraud,
      topics: [TOPICS.orders],
      store,
      middleware: consumerMiddleware(context, 'fraud', { injectFaults: true }),
      ...routerDefaults(context),
    });
    router.on(OrderPlaced, async (order, _event, ctx) => {
      const { orderId, customerId } = order;
      await ctx.transaction(async (tx) => {
        const history = (await tx.get<CustomerHistory>(COLLECTIONS.fraudHistory, customerId)) ?? {
          orders: [],
        };
        const assessment = assessFraud(order, history, options.rules);
        await tx.put(COLLECTIONS.fraudHistory, customerId, assessment.history);
        const rules = [...assessment.rules];
        if (assessment.passed) {
          await events
            .within(tx)
            .publish(
              TOPICS.fraud,
              FraudCheckPassed,
              { orderId, customerId, rules },
              { key: orderId, id: eventIdOf(orderId, 'fraud-check-passed') },
            );
        } else {
          await events
            .within(tx)
            .publish(
              TOPICS.fraud,
              FraudCheckFailed,
              { orderId, customerId, rules, detail: explainFailure(rules) },
              { key: orderId, id: eventIdOf(orderId, 'fraud-check-failed') },
            );
        }
      });
    });
    return router;
  };
  return { name: 'fraud', groups: [GROUPS.fraud], routers: [build] };
}
