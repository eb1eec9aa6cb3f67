// Analytics (added later): the order funnel and revenue per currency, from every topic of the
// flow. Like loyalty it is only one more consumer group; started late, it backfills from the
// beginning to the same views a from-the-start run has.
import {
  EMPTY_FUNNEL,
  type Funnel,
  type Revenue,
  applyToFunnel,
  applyToRevenue,
  revenueCurrency,
} from '@herald/orders-domain/analytics.ts';
import { EVENTS_BY_TOPIC, TOPICS } from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { analyticsFactOf } from '../facts.ts';
import { type ServiceDefinition, defineService } from '@herald/service';
import { type FlowDeps, outageOf, withFaults } from '../flow.ts';

/** The one funnel document's id. */
export const FUNNEL_ID = 'all';

/** The analytics service: group `analytics.views` on every topic of the flow. */
export function analyticsService(deps: FlowDeps): ServiceDefinition {
  return defineService({
    name: 'analytics',
    group: GROUPS.analytics,
    consumes: Object.values(TOPICS),
    produces: [],
    middleware: withFaults(deps.faults, 'analytics'),
    pause: outageOf(deps.faults, 'analytics'),
    handlers(router) {
      for (const definitions of Object.values(EVENTS_BY_TOPIC)) {
        for (const definition of definitions) {
          router.on(definition.type, async (event, ctx) => {
            const fact = analyticsFactOf(event);
            if (fact === undefined) return;
            await ctx.transaction(async (tx) => {
              const funnel = (await tx.get<Funnel>(COLLECTIONS.funnel, FUNNEL_ID)) ?? EMPTY_FUNNEL;
              await tx.put(COLLECTIONS.funnel, FUNNEL_ID, applyToFunnel(funnel, fact));
              const currency = revenueCurrency(fact);
              if (currency !== undefined) {
                const revenue = await tx.get<Revenue>(COLLECTIONS.revenue, currency);
                await tx.put(COLLECTIONS.revenue, currency, applyToRevenue(revenue, fact));
              }
            });
          });
        }
      }
    },
  });
}
