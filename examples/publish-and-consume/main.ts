// Publish and consume: a producer appends typed events to a topic, and two services read the
// same events independently, each in its own consumer group with its own position.
//
// Run: ./node_modules/.bin/node examples/publish-and-consume/main.ts
import { type EventData, createProducer, createRouter, defineEvent, isHeraldError } from '@herald/core';
import { z } from 'zod';
import { openExampleLog } from '../example-log.ts';

// An event type: a versioned CloudEvents `type` plus the schema of its data. The schema is
// checked when an event is published and again when it is consumed.
const OrderPlaced = defineEvent({
  type: 'dev.herald.examples.order-placed.v1',
  schema: z.object({
    orderId: z.string(),
    customer: z.string(),
    total: z.number().int().nonnegative(),
  }),
});

const ORDERS = 6;

await using example = await openExampleLog();
const { log } = example;
// Three partitions: events with the same key land in the same one and keep their order;
// different partitions are consumed in parallel.
await log.createTopic('orders', { partitions: 3 });

// The producer stamps every event with its `source`; `key` picks the partition.
const producer = createProducer({ log, source: '/examples/shop' });
for (let i = 1; i <= ORDERS; i++) {
  const orderId = `order-${i}`;
  // Resolves once the log has the event durably; the result says where it landed.
  const { partition, offset } = await producer.publish(
    'orders',
    OrderPlaced,
    { orderId, customer: `customer-${i % 2}`, total: 1000 * i },
    { key: orderId },
  );
  console.log(`published ${orderId} → partition ${partition}, offset ${offset}`);
}

// Bad data never reaches the log: the schema refuses it at the producer.
try {
  await producer.publish('orders', OrderPlaced, { orderId: 'order-x', customer: 'nobody', total: -1 });
} catch (error) {
  if (!isHeraldError(error, 'VALIDATION_FAILED')) throw error;
  console.log(`refused an order with a negative total: ${error.code}`);
}

/**
 * One service: a router in its own consumer group that handles every order once and stops
 * after `ORDERS` of them. Consumer groups are named `<service>.<purpose>`; renaming one makes a
 * new group, which reads the topic again from the start.
 */
async function consume(group: string, describe: (order: EventData<typeof OrderPlaced>) => string) {
  const done = new AbortController();
  const handled: string[] = [];
  const router = createRouter({ log, group, topics: ['orders'] });
  router.on(OrderPlaced, (order) => {
    // `order` is already decoded and validated.
    handled.push(describe(order));
    if (handled.length === ORDERS) done.abort();
  });
  // run() resolves after a graceful stop: work in flight finishes and is committed first.
  await router.run({ signal: done.signal });
  return handled;
}

// Both groups run at the same time and each sees all six orders. Partitions are handled
// concurrently, so the order in which lines arrive varies from run to run: sort before printing.
const [reserved, emailed] = await Promise.all([
  consume('inventory.reservations', (o) => `reserved stock for ${o.orderId}`),
  consume('email.confirmations', (o) => `e-mailed ${o.customer} about ${o.orderId} (${o.total / 100} EUR)`),
]);
for (const [group, lines] of [
  ['inventory.reservations', reserved],
  ['email.confirmations', emailed],
] as const) {
  console.log(`\n[${group}]`);
  for (const line of lines.toSorted()) console.log(`  ${line}`);
}

// Each group committed its own position: a restart of either resumes after what it handled.
console.log();
for (const group of ['inventory.reservations', 'email.confirmations']) {
  const { partitions } = await log.describeGroup(group);
  const committed = partitions.reduce((sum, p) => sum + (p.committed ?? 0), 0);
  const lag = partitions.reduce((sum, p) => sum + p.lag, 0);
  console.log(`${group}: committed ${committed} events, lag ${lag}`);
}
