import { type AppendResult, type EventLog, createProducer } from '@herald/core';
import { ORDERS_TOPIC, type Order, OrderPlaced } from './events.ts';

/** Places orders: each is validated against OrderPlaced's schema, then appended to `orders`. */
export interface OrderProducer {
  /** Resolves once the event is durable in the log; rejects (and writes nothing) for invalid data. */
  placeOrder(order: Order): Promise<AppendResult>;
}

export function createOrderProducer(log: EventLog): OrderProducer {
  const producer = createProducer({ log, source: '/{{name}}' });
  return {
    // The order id is the key: every event of one order lands in one partition, in order.
    placeOrder: (order) => producer.publish(ORDERS_TOPIC, OrderPlaced, order, { key: order.orderId }),
  };
}
