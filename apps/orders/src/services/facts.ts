// Reads events of the flow as the domain's facts: what the order view and analytics fold.
import type { CloudEvent, StoredEvent } from '@herald/core';
import type { AnalyticsFact } from '@herald/orders-domain/analytics.ts';
import type { OrderFact } from '@herald/orders-domain/order-view.ts';
import {
  FraudCheckFailed,
  FraudCheckPassed,
  NotificationSent,
  OrderConfirmed,
  OrderPlaced,
  OrderRejected,
  PaymentAuthorized,
  PaymentCaptured,
  PaymentDeclined,
  PaymentVoided,
  PointsAwarded,
  StockReleased,
  StockReservationFailed,
  StockReserved,
} from '@herald/orders-domain/events.ts';

/** An event of the flow about one order, decoded: its order id and the fact for the order view. */
export interface DecodedFact {
  readonly orderId: string;
  readonly fact: OrderFact;
}

/**
 * The order-view fact an event carries, or undefined for events the view does not use.
 * `at` is the event's `time` (when it happened), else the log's timestamp.
 * Throws `DECODE_FAILED`/`VALIDATION_FAILED` for a malformed event of a known type (poison).
 */
export function orderFactOf(
  event: StoredEvent | (CloudEvent & { timestamp: number }),
): DecodedFact | undefined {
  const at = event.time ?? new Date(event.timestamp).toISOString();
  if (OrderPlaced.is(event)) {
    const order = OrderPlaced.decode(event.data);
    return { orderId: order.orderId, fact: { type: 'order-placed', at, order } };
  }
  if (OrderConfirmed.is(event)) {
    return { orderId: OrderConfirmed.decode(event.data).orderId, fact: { type: 'order-confirmed', at } };
  }
  if (OrderRejected.is(event)) {
    const data = OrderRejected.decode(event.data);
    return {
      orderId: data.orderId,
      fact: { type: 'order-rejected', at, reason: data.reason, detail: data.detail },
    };
  }
  const simple = [
    [StockReserved, 'stock-reserved'],
    [StockReservationFailed, 'stock-reservation-failed'],
    [StockReleased, 'stock-released'],
    [PaymentAuthorized, 'payment-authorized'],
    [PaymentDeclined, 'payment-declined'],
    [PaymentCaptured, 'payment-captured'],
    [PaymentVoided, 'payment-voided'],
    [FraudCheckPassed, 'fraud-check-passed'],
    [FraudCheckFailed, 'fraud-check-failed'],
    [NotificationSent, 'notification-sent'],
  ] as const;
  for (const [definition, type] of simple) {
    if (definition.is(event)) {
      const { orderId } = (definition.decode as (bytes: Uint8Array | undefined) => { orderId: string })(
        event.data,
      );
      const fact: OrderFact = { type, at };
      return { orderId, fact };
    }
  }
  return undefined;
}

/** The analytics fact an event carries, or undefined for events analytics does not count. */
export function analyticsFactOf(event: CloudEvent): AnalyticsFact | undefined {
  if (OrderPlaced.is(event)) {
    OrderPlaced.decode(event.data);
    return { type: 'order-placed' };
  }
  if (OrderConfirmed.is(event)) {
    const data = OrderConfirmed.decode(event.data);
    return { type: 'order-confirmed', currency: data.currency, amount: data.total };
  }
  if (OrderRejected.is(event))
    return { type: 'order-rejected', reason: OrderRejected.decode(event.data).reason };
  if (PaymentCaptured.is(event)) {
    const data = PaymentCaptured.decode(event.data);
    return { type: 'payment-captured', currency: data.currency, amount: data.amount };
  }
  if (PaymentVoided.is(event)) {
    const data = PaymentVoided.decode(event.data);
    return { type: 'payment-voided', currency: data.currency, amount: data.amount };
  }
  const counted = [
    [StockReserved, 'stock-reserved'],
    [StockReservationFailed, 'stock-reservation-failed'],
    [StockReleased, 'stock-released'],
    [PaymentAuthorized, 'payment-authorized'],
    [PaymentDeclined, 'payment-declined'],
    [FraudCheckPassed, 'fraud-check-passed'],
    [FraudCheckFailed, 'fraud-check-failed'],
    [NotificationSent, 'notification-sent'],
    [PointsAwarded, 'points-awarded'],
  ] as const;
  for (const [definition, type] of counted) {
    if (definition.is(event)) {
      definition.decode(event.data);
      const fact: AnalyticsFact = { type };
      return fact;
    }
  }
  return undefined;
}
