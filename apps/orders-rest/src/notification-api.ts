// The notification service of the REST baseline: `POST /messages` tells a customer an order's
// outcome through the simulated mail provider. The provider's idempotency key is derived from the
// order id, so a retried call stores one message, as the event-driven service guarantees too.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '@herald/core';
import { CURRENCIES } from '@herald/orders-domain/money.ts';
import { type OrderOutcome, orderOutcomeMessage } from '@herald/orders-domain/notification.ts';
import type { FaultController } from '@herald/orders-domain/faults.ts';
import { SimulatedMailbox } from '@herald/orders-domain/simulated-mailbox.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { parseBody } from './rest-http.ts';

const outcomeBody = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('order-confirmed'),
    orderId: z.string().min(1),
    customerId: z.string().min(1),
    total: z.int().min(0),
    currency: z.enum(CURRENCIES),
  }),
  z.object({
    kind: z.literal('order-rejected'),
    orderId: z.string().min(1),
    customerId: z.string().min(1),
    reason: z.enum(['out-of-stock', 'payment-declined', 'fraud-suspected']),
  }),
]);

/** `POST /messages` answers this. */
export interface MessageAnswer {
  readonly messageId: string;
}

/** Registers the notification routes. */
export function notificationApi(
  app: FastifyInstance,
  deps: { readonly store: Store; readonly faults: FaultController },
): void {
  const mailbox = new SimulatedMailbox(deps.store);
  app.post('/messages', async (request): Promise<MessageAnswer> => {
    const outcome: OrderOutcome = parseBody(outcomeBody, request.body);
    await deps.faults.perturb('notification');
    const message = orderOutcomeMessage(outcome);
    const { messageId } = await mailbox.send(message, `${outcome.orderId}/notify`);
    await deps.store.transaction((tx) =>
      tx.put(COLLECTIONS.notificationsSent, outcome.orderId, {
        orderId: outcome.orderId,
        kind: outcome.kind,
        messageId,
      }),
    );
    return { messageId };
  });
}
