// The events of {{name}}: what other services may rely on. Change a schema compatibly (add
// optional fields) or publish a new version (`….v2`) beside the old one.
import { type EventData, defineEvent } from '@herald/core';
import { z } from 'zod';

/** The topic orders are placed on. Events of one order share its id as key, so they stay in order. */
export const ORDERS_TOPIC = 'orders';

/** An order was placed: what to ship, and how many. */
export const OrderPlaced = defineEvent({
  type: 'com.example.{{name}}.order-placed.v1',
  schema: z.object({
    orderId: z.string().min(1),
    sku: z.string().min(1),
    quantity: z.number().int().positive(),
  }),
});

export type Order = EventData<typeof OrderPlaced>;
