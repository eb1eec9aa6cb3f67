// `npm start`: a live tour of Herald on the embedded log. A producer emits "order placed" facts;
// two services consume them independently, in their own consumer groups, at their own pace.
// Stop it with Ctrl-C; start it again and both groups resume where they committed.
//
// Options (environment): HERALD_LOG (default sqlite:./.herald/herald.db), TOUR_ORDERS (how many
// orders to place, default unlimited), TOUR_INTERVAL_MS (default 1000).
import {
  type EventData,
  type EventLog,
  defineEvent,
  isHeraldError,
  logUrlFrom,
  openEventLog,
} from '@herald/core';
import { z } from 'zod';

const OrderPlaced = defineEvent({
  type: 'dev.herald.tour.order-placed.v1',
  schema: z.object({
    orderId: z.string(),
    customerId: z.string(),
    total: z.number().int().nonnegative(),
  }),
});

const url = logUrlFrom(process.env);
const limit = Number(process.env['TOUR_ORDERS'] ?? Infinity);
const intervalMs = Number(process.env['TOUR_INTERVAL_MS'] ?? 1000);
const log: EventLog = await openEventLog(url);
try {
  await log.createTopic('tour.orders', { partitions: 3 });
} catch (error) {
  if (!isHeraldError(error, 'TOPIC_EXISTS')) throw error;
}

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

console.log(`Herald tour on ${url}`);
console.log('  producer  → topic tour.orders (3 partitions, key = order id)');
console.log('  consumers → groups tour.inventory and tour.email, each with its own position');
console.log('In another terminal: npx herald tail tour.orders --follow   |   npx herald groups tour.email');

/** A consumer: handles each order, then commits, so a restart resumes after the last commit. */
async function consume(
  group: string,
  describe: (data: EventData<typeof OrderPlaced>) => string,
  delayMs: number,
) {
  const subscription = await log.subscribe({ group, topics: ['tour.orders'], signal: stop.signal });
  let handled = 0;
  for await (const event of subscription) {
    const order = OrderPlaced.decode(event.data);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    console.log(`  [${group}] ${describe(order)} (partition ${event.partition}, offset ${event.offset})`);
    await subscription.commit(event);
    if (++handled >= limit) break;
  }
  await subscription.close();
}

async function produce() {
  for (let i = 1; i <= limit && !stop.signal.aborted; i++) {
    const orderId = `order-${Date.now().toString(36)}-${i}`;
    const event = OrderPlaced.create(
      { orderId, customerId: `customer-${i % 4}`, total: 1000 + ((i * 379) % 9000) },
      { source: '/tour/orders', key: orderId, subject: orderId },
    );
    const { partition, offset } = await log.append('tour.orders', event);
    console.log(`placed ${orderId} → partition ${partition}, offset ${offset}`);
    if (i < limit) await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

await Promise.all([
  produce(),
  consume('tour.inventory', (o) => `reserved stock for ${o.orderId}`, 0),
  // The email service is slower; it falls behind and catches up without slowing anyone else.
  consume(
    'tour.email',
    (o) => `emailed ${o.customerId} about ${o.orderId} (${(o.total / 100).toFixed(2)} EUR)`,
    250,
  ),
]);
await log.close();
console.log('tour finished');
