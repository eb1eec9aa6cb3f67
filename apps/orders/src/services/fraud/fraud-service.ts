// Fraud: owns its rules and each customer's recent orders. Checks every placed order; the event
// it emits explains each rule's verdict.
import { createProducer } from '@herald/core';
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
import { type ServiceDefinition, defineService } from '@herald/service';
import { type FlowDeps, outageOf, produced, withFaults } from '../flow.ts';

const SOURCE = '/fraud';

/** The fraud service: group `fraud.checks` on topic `orders`. */
export function fraudService(deps: FlowDeps, options: { readonly rules: FraudRules }): ServiceDefinition {
  return defineService({
    name: 'fraud',
    group: GROUPS.fraud,
    consumes: [TOPICS.orders],
    produces: produced(deps, TOPICS.fraud),
    middleware: withFaults(deps.faults, 'fraud'),
    pause: outageOf(deps.faults, 'fraud'),
    handlers(router, context) {
      const { log } = context;
      const events = createProducer({ sink: log, source: SOURCE });
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
    },
  });
}
