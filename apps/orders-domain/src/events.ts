// Every event of the order flow (docs/orders.md), with its schema. Events are keyed by order id, so
// all events of one order keep their order within each topic. Schemas are open (unknown fields
// are dropped, not refused) so that a producer can add a field without breaking old consumers;
// removing or changing one needs a new version (`….v2`).
import { type EventData, defineEvent } from '@herald/core';
import { z } from 'zod';
import { CURRENCIES } from './money.ts';

/** Topics of the flow, each a domain noun owned by one service. */
export const TOPICS = {
  orders: 'orders',
  inventory: 'inventory',
  payments: 'payments',
  fraud: 'fraud',
  notifications: 'notifications',
  loyalty: 'loyalty',
  /** Timers of the orders service (the saga's decision deadlines), emitted by its scheduler. */
  deadlines: 'deadlines',
} as const;

/** A topic of the flow. */
export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

const id = z.string().min(1).max(200);
const amount = z.int().min(0);
const currency = z.enum(CURRENCIES);
const timestamp = z.iso.datetime({ offset: true });
const stockLines = z.array(z.object({ sku: z.string(), quantity: z.int().min(1) }));
const rejectionReason = z.enum(['out-of-stock', 'payment-declined', 'fraud-suspected', 'decision-timeout']);
const ruleOutcomes = z.array(
  z.object({
    rule: z.enum(['order-total', 'order-velocity', 'blocked-country']),
    passed: z.boolean(),
    explanation: z.string(),
  }),
);

const type = (name: string) => `dev.herald.orders.${name}.v1`;

/** An order was accepted by the API: priced from the catalog, stored pending. Topic `orders`. */
export const OrderPlaced = defineEvent({
  type: type('order-placed'),
  schema: z.object({
    orderId: id,
    customerId: id,
    currency,
    items: z
      .array(
        z.object({
          sku: z.string(),
          name: z.string(),
          quantity: z.int().min(1),
          unitPrice: amount,
          lineTotal: amount,
        }),
      )
      .min(1),
    total: amount,
    paymentToken: z.string(),
    shippingCountry: z.string().nullable(),
    placedAt: timestamp,
  }),
});

/** Stock, payment and fraud all agreed; the payment is captured next. Topic `orders`. */
export const OrderConfirmed = defineEvent({
  type: type('order-confirmed'),
  schema: z.object({
    orderId: id,
    customerId: id,
    currency,
    total: amount,
    items: stockLines,
    confirmedAt: timestamp,
  }),
});

/**
 * One step said no, or no decision came in time (`decision-timeout`); compensations follow
 * (release stock, void payment). Topic `orders`.
 */
export const OrderRejected = defineEvent({
  type: type('order-rejected'),
  schema: z.object({
    orderId: id,
    customerId: id,
    currency,
    total: amount,
    reason: rejectionReason,
    detail: z.string(),
    rejectedAt: timestamp,
  }),
});

/**
 * An order's decision deadline has come: the saga's timer, scheduled with the saga's state when
 * it read OrderPlaced, due `decisionTimeoutMs` after the order was placed. If the order is still
 * undecided, the saga rejects it (`decision-timeout`). Topic `deadlines`.
 */
export const OrderDecisionDue = defineEvent({
  type: type('order-decision-due'),
  schema: z.object({ orderId: id, placedAt: timestamp, dueAt: timestamp }),
});

/** Every line of the order is held for it. Topic `inventory`. */
export const StockReserved = defineEvent({
  type: type('stock-reserved'),
  schema: z.object({ orderId: id, lines: stockLines }),
});

/** Not every line was available; nothing is held. Topic `inventory`. */
export const StockReservationFailed = defineEvent({
  type: type('stock-reservation-failed'),
  schema: z.object({
    orderId: id,
    shortages: z.array(z.object({ sku: z.string(), requested: z.int(), available: z.int() })),
    detail: z.string(),
  }),
});

/** A reservation was given back because the order was rejected (compensation). Topic `inventory`. */
export const StockReleased = defineEvent({
  type: type('stock-released'),
  schema: z.object({ orderId: id, lines: stockLines }),
});

/** The gateway authorized the order's total. Topic `payments`. */
export const PaymentAuthorized = defineEvent({
  type: type('payment-authorized'),
  schema: z.object({ orderId: id, authorizationId: id, amount, currency }),
});

/** The gateway declined; nothing was charged. Topic `payments`. */
export const PaymentDeclined = defineEvent({
  type: type('payment-declined'),
  schema: z.object({
    orderId: id,
    amount,
    currency,
    reason: z.enum(['card-declined', 'card-expired', 'amount-exceeds-limit']),
    detail: z.string(),
  }),
});

/** The authorized amount was captured after confirmation. Topic `payments`. */
export const PaymentCaptured = defineEvent({
  type: type('payment-captured'),
  schema: z.object({ orderId: id, authorizationId: id, amount, currency }),
});

/** The authorization was voided because the order was rejected (compensation). Topic `payments`. */
export const PaymentVoided = defineEvent({
  type: type('payment-voided'),
  schema: z.object({ orderId: id, authorizationId: id, amount, currency }),
});

const fraudOutcome = z.object({ orderId: id, customerId: id, rules: ruleOutcomes });

/** Every fraud rule passed; each rule's explanation is included. Topic `fraud`. */
export const FraudCheckPassed = defineEvent({ type: type('fraud-check-passed'), schema: fraudOutcome });

/** At least one fraud rule failed; `detail` names which and why. Topic `fraud`. */
export const FraudCheckFailed = defineEvent({
  type: type('fraud-check-failed'),
  schema: fraudOutcome.extend({ detail: z.string() }),
});

/** The customer was told about the order's outcome (one message per outcome). Topic `notifications`. */
export const NotificationSent = defineEvent({
  type: type('notification-sent'),
  schema: z.object({
    orderId: id,
    customerId: id,
    kind: z.enum(['order-confirmed', 'order-rejected']),
    messageId: id,
    subject: z.string(),
  }),
});

/** A confirmed order earned loyalty points. Topic `loyalty`. */
export const PointsAwarded = defineEvent({
  type: type('points-awarded'),
  schema: z.object({ orderId: id, customerId: id, points: z.int().min(0), balance: z.int().min(0) }),
});

/** Every event definition of the flow, by the topic it is emitted to. */
export const EVENTS_BY_TOPIC = {
  orders: [OrderPlaced, OrderConfirmed, OrderRejected],
  inventory: [StockReserved, StockReservationFailed, StockReleased],
  payments: [PaymentAuthorized, PaymentDeclined, PaymentCaptured, PaymentVoided],
  fraud: [FraudCheckPassed, FraudCheckFailed],
  notifications: [NotificationSent],
  loyalty: [PointsAwarded],
  deadlines: [OrderDecisionDue],
} as const;

/** Data of the `orders` topic's events. */
export type OrderPlacedData = EventData<typeof OrderPlaced>;
export type OrderConfirmedData = EventData<typeof OrderConfirmed>;
export type OrderRejectedData = EventData<typeof OrderRejected>;

/**
 * The id of the event `name` about `orderId`. Each of these events happens at most once per
 * order, so a deterministic id lets every consumer recognise a second copy as the same event.
 */
export function eventIdOf(orderId: string, name: string): string {
  return `${orderId}/${name}`;
}
