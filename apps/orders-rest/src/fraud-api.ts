// The fraud service of the REST baseline: `POST /checks` assesses one order with the same rules
// as the event-driven fraud service. Assessing an order again gives the same verdict (the
// customer's history holds each order once), so the orders service may retry freely.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  type CustomerHistory,
  type FraudRules,
  assessFraud,
  explainFailure,
} from '@herald/orders-domain/fraud.ts';
import type { RuleOutcome } from '@herald/orders-domain/fraud.ts';
import { CURRENCIES } from '@herald/orders-domain/money.ts';
import type { Store } from '@herald/core';
import type { FaultController } from '@herald/orders-domain/faults.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { parseBody } from './rest-http.ts';

const checkBody = z.object({
  orderId: z.string().min(1),
  customerId: z.string().min(1),
  total: z.int().min(0),
  currency: z.enum(CURRENCIES),
  shippingCountry: z.string().nullable(),
  placedAt: z.iso.datetime({ offset: true }),
});

/** `POST /checks` asks for this. */
export type FraudCheckRequest = z.input<typeof checkBody>;

/** `POST /checks` answers this. */
export interface FraudVerdict {
  readonly passed: boolean;
  readonly rules: readonly RuleOutcome[];
  /** The failed rules, explained; empty when the order passed. */
  readonly detail: string;
}

/** Registers the fraud routes. */
export function fraudApi(
  app: FastifyInstance,
  deps: { readonly store: Store; readonly faults: FaultController; readonly rules: FraudRules },
): void {
  app.post('/checks', async (request): Promise<FraudVerdict> => {
    const input = parseBody(checkBody, request.body);
    await deps.faults.perturb('fraud');
    return deps.store.transaction(async (tx) => {
      const history = (await tx.get<CustomerHistory>(COLLECTIONS.fraudHistory, input.customerId)) ?? {
        orders: [],
      };
      const assessment = assessFraud(input, history, deps.rules);
      await tx.put(COLLECTIONS.fraudHistory, input.customerId, assessment.history);
      return {
        passed: assessment.passed,
        rules: assessment.rules,
        detail: assessment.passed ? '' : explainFailure(assessment.rules),
      };
    });
  });
}
