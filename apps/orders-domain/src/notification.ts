// What the customer is told. Deterministic text: the same outcome always gives the same message,
// so a resent message (after a crash) is the same message and can be deduplicated.
import { type Currency, formatMoney } from './money.ts';
import type { RejectionReason } from './saga.ts';

export type MessageKind = 'order-confirmed' | 'order-rejected' | 'points-awarded';

/** A message for a customer, as the mail provider receives it. */
export interface Message {
  readonly kind: MessageKind;
  readonly to: string;
  readonly orderId: string;
  readonly subject: string;
  readonly body: string;
}

/** What a customer is told about: the order's final status and what it needs to say it. */
export type OrderOutcome =
  | {
      readonly kind: 'order-confirmed';
      readonly orderId: string;
      readonly customerId: string;
      readonly total: number;
      readonly currency: Currency;
    }
  | {
      readonly kind: 'order-rejected';
      readonly orderId: string;
      readonly customerId: string;
      readonly reason: RejectionReason;
    };

const REJECTION_TEXT: Readonly<Record<RejectionReason, string>> = {
  'out-of-stock': 'some items are out of stock',
  'payment-declined': 'the payment was declined',
  'fraud-suspected': 'we could not verify the order',
  'decision-timeout': 'we could not complete the order in time',
};

/** The one message a customer gets about an order's outcome. */
export function orderOutcomeMessage(outcome: OrderOutcome): Message {
  const short = outcome.orderId.slice(0, 8);
  if (outcome.kind === 'order-confirmed') {
    return {
      kind: outcome.kind,
      to: outcome.customerId,
      orderId: outcome.orderId,
      subject: `Order ${short} confirmed`,
      body: `Thank you! Your order ${outcome.orderId} is confirmed; ${formatMoney(outcome.total, outcome.currency)} will be charged.`,
    };
  }
  return {
    kind: outcome.kind,
    to: outcome.customerId,
    orderId: outcome.orderId,
    subject: `Order ${short} could not be completed`,
    body: `Sorry: your order ${outcome.orderId} could not be completed because ${REJECTION_TEXT[outcome.reason]}. Nothing was charged.`,
  };
}

/** The message telling a customer about points earned with an order. */
export function pointsMessage(customerId: string, orderId: string, points: number): Message {
  return {
    kind: 'points-awarded',
    to: customerId,
    orderId,
    subject: `You earned ${points} points`,
    body: `Your order ${orderId} earned you ${points} loyalty points.`,
  };
}
