// The order system as the schema tooling sees it: who publishes which events to which topic, and
// which versions each consumer group's routes read. `herald schema check --system` decodes the
// stored events with these readers before a deploy; `herald asyncapi --system` documents the flow
// (apps/orders/asyncapi.json, kept current by test/asyncapi.test.ts).
//
// Keep it in step with the services: a group added or a route changed there belongs here too.
import type { EventDefinition } from '@herald/core';
import { defineSystem } from '@herald/schemas';
import {
  EVENTS_BY_TOPIC,
  FraudCheckFailed,
  FraudCheckPassed,
  OrderConfirmed,
  OrderDecisionDue,
  OrderPlaced,
  OrderRejected,
  PaymentAuthorized,
  PaymentDeclined,
  StockReservationFailed,
  StockReserved,
  TOPICS,
} from '@herald/orders-domain/events.ts';
import { VIEW_TOPICS } from './services/orders/order-projection.ts';
import { DEFAULT_PARTITIONS, GROUPS } from '@herald/orders-domain/topology.ts';

const everyEventOf = (topics: readonly (keyof typeof EVENTS_BY_TOPIC)[]): EventDefinition[] =>
  topics.flatMap((t): readonly EventDefinition[] => EVENTS_BY_TOPIC[t]);

/** Publishers of the flow: each service emits to the one topic it owns. */
const PUBLISHERS = [
  { name: 'orders', source: '/orders', topic: TOPICS.orders },
  { name: 'inventory', source: '/inventory', topic: TOPICS.inventory },
  { name: 'payment', source: '/payment', topic: TOPICS.payments },
  { name: 'fraud', source: '/fraud', topic: TOPICS.fraud },
  { name: 'notification', source: '/notification', topic: TOPICS.notifications },
  { name: 'loyalty', source: '/loyalty', topic: TOPICS.loyalty },
] as const;

/** The order system's description for `herald schema check` and `herald asyncapi`. */
export const orderSystemDescription = defineSystem({
  title: 'Herald order system',
  version: '1.0.0',
  description:
    'Real-time order processing on Herald: the orders API places an order, inventory, payment and fraud ' +
    'react independently, the order saga confirms or rejects it, notification and loyalty follow.',
  // The logs the system runs on (HERALD_LOG); the hosts are the ones docs/orders.md starts.
  servers: [
    {
      name: 'embedded',
      log: 'embedded',
      host: 'localhost',
      description: 'The default: `.herald/herald.db`.',
    },
    {
      name: 'kafka',
      log: 'kafka',
      host: '127.0.0.1:9092',
      description: 'Started as `HERALD_LOG=kafka://127.0.0.1:9092`.',
    },
    {
      name: 'nats',
      log: 'nats',
      host: '127.0.0.1:4222',
      description: 'Started as `HERALD_LOG=nats://127.0.0.1:4222`.',
    },
  ],
  partitions: DEFAULT_PARTITIONS,
  producers: PUBLISHERS.map(({ name, source, topic }) => ({
    name,
    source,
    publishes: [
      { topic, events: EVENTS_BY_TOPIC[topic] },
      // The saga's timers: its scheduler emits each order's decision deadline.
      ...(name === 'orders' ? [{ topic: TOPICS.deadlines, events: EVENTS_BY_TOPIC.deadlines }] : []),
    ],
  })),
  consumers: [
    {
      group: GROUPS.ordersSaga,
      topics: [TOPICS.orders, TOPICS.inventory, TOPICS.payments, TOPICS.fraud, TOPICS.deadlines],
      reads: [
        OrderPlaced,
        OrderDecisionDue,
        StockReserved,
        StockReservationFailed,
        PaymentAuthorized,
        PaymentDeclined,
        FraudCheckPassed,
        FraudCheckFailed,
      ],
    },
    { group: GROUPS.ordersView, topics: VIEW_TOPICS, reads: everyEventOf(VIEW_TOPICS) },
    { group: GROUPS.inventory, topics: [TOPICS.orders], reads: [OrderPlaced, OrderConfirmed, OrderRejected] },
    { group: GROUPS.payment, topics: [TOPICS.orders], reads: [OrderPlaced, OrderConfirmed, OrderRejected] },
    { group: GROUPS.fraud, topics: [TOPICS.orders], reads: [OrderPlaced] },
    { group: GROUPS.notification, topics: [TOPICS.orders], reads: [OrderConfirmed, OrderRejected] },
    { group: GROUPS.loyalty, topics: [TOPICS.orders], reads: [OrderConfirmed] },
    {
      group: GROUPS.analytics,
      topics: Object.values(TOPICS),
      reads: everyEventOf(Object.values(TOPICS)),
    },
  ],
});

export default orderSystemDescription;
