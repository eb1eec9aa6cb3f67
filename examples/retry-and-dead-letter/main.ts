// Retry and dead-letter: a failing handler is retried with backoff while other orders keep
// flowing, and an event that can never be handled is parked in `orders.dead-letter` with
// metadata saying why, so the consumer moves on instead of stopping.
//
// Run: ./node_modules/.bin/node examples/retry-and-dead-letter/main.ts
import {
  DEAD_LETTER_ATTRIBUTES,
  createProducer,
  createRouter,
  deadLetter,
  defineEvent,
  retry,
} from '@herald/core';
import { z } from 'zod';
import { caughtUp, openExampleLog } from '../example-log.ts';

const OrderPlaced = defineEvent({
  type: 'dev.herald.examples.order-placed.v1',
  schema: z.object({ orderId: z.string(), sku: z.string(), quantity: z.number().int().positive() }),
});

await using example = await openExampleLog();
const { log, store } = example;
// One partition on purpose: every order below shares it, so what lets other orders pass one
// that is being retried is the router's per-key concurrency, not a second partition.
await log.createTopic('orders', { partitions: 1 });

const producer = createProducer({ log, source: '/examples/shop' });
for (const [orderId, sku] of [
  ['order-1', 'lamp'],
  ['order-2', 'sofa'], // the warehouse fails twice for this one, then reserves it
  ['order-3', 'desk'],
  ['order-4', 'piano'], // the warehouse always fails for this one
] as const) {
  await producer.publish('orders', OrderPlaced, { orderId, sku, quantity: 1 }, { key: orderId });
}
// A poison event: its data breaks the schema (as a buggy producer elsewhere could write it,
// bypassing validation). Retrying cannot fix it, so it is parked after the first attempt.
await log.append('orders', {
  specversion: '1.0',
  id: 'legacy-order-5',
  source: '/examples/legacy-shop',
  type: OrderPlaced.type,
  partitionkey: 'order-5',
  datacontenttype: 'application/json',
  data: new TextEncoder().encode(JSON.stringify({ orderId: 'order-5', sku: 'chair', quantity: 'two' })),
});

/** A stand-in for a remote warehouse API that is flaky for some orders. */
const warehouse = {
  calls: new Map<string, number>(),
  async reserve(orderId: string): Promise<void> {
    const call = (this.calls.get(orderId) ?? 0) + 1;
    this.calls.set(orderId, call);
    if (orderId === 'order-2' && call <= 2) throw new Error('warehouse unavailable (503)');
    if (orderId === 'order-4') throw new Error('warehouse timed out');
  },
};

const journal: { orderId: string; line: string }[] = [];
const reserved: string[] = [];
let reservedBeforeOrder2 = '';

const router = createRouter({
  log,
  group: 'inventory.reservations',
  topics: ['orders'],
  // The store keeps attempt counts, so a crash between attempts does not reset them.
  store,
  middleware: [
    // Outermost: whatever still fails after retry goes to `orders.dead-letter`.
    deadLetter(),
    // 3 attempts in all, waiting 20 ms then 40 ms. `random: () => 1` turns off the jitter so
    // this example behaves the same on every run; in production keep it, it spreads retries.
    retry({ maxAttempts: 3, initialDelayMs: 20, random: () => 1 }),
  ],
});
router.on(OrderPlaced, async (order, _event, ctx) => {
  try {
    await warehouse.reserve(order.orderId);
  } catch (error) {
    journal.push({
      orderId: order.orderId,
      line: `attempt ${ctx.attempt} failed: ${(error as Error).message}`,
    });
    throw error;
  }
  journal.push({ orderId: order.orderId, line: `attempt ${ctx.attempt}: reserved ${order.sku}` });
  reserved.push(order.orderId);
  if (order.orderId === 'order-2') reservedBeforeOrder2 = reserved.slice(0, -1).toSorted().join(', ');
});

const running = router.run();
await caughtUp(log, router.group);
await router.stop();
await running;

// The journal of each order in the order things happened to it (orders ran concurrently).
console.log('handling, per order:');
for (const { orderId, line } of journal.toSorted((a, b) => a.orderId.localeCompare(b.orderId))) {
  console.log(`  ${orderId}  ${line}`);
}
console.log(`reserved while order-2 waited for its retries: ${reservedBeforeOrder2}`);

// The parked events: original id, type, key and data bytes, plus why and where they came from.
const parked = await log.read('orders.dead-letter', { partition: 0, from: 'earliest' });
console.log(`\norders.dead-letter holds ${parked.length} events:`);
const A = DEAD_LETTER_ATTRIBUTES;
const originalOffset = (e: (typeof parked)[number]) => Number(e.extensions?.[A.offset]);
for (const event of parked.toSorted((a, b) => originalOffset(a) - originalOffset(b))) {
  const dl = event.extensions ?? {};
  console.log(`  key ${event.partitionkey}, data ${new TextDecoder().decode(event.data)}`);
  console.log(`    ${A.error}: ${dl[A.error]}`);
  console.log(`    ${A.code}: ${dl[A.code]}`);
  console.log(`    ${A.attempts}: ${dl[A.attempts]}`);
  console.log(`    ${A.group}: ${dl[A.group]}`);
  console.log(
    `    from ${A.topic} ${dl[A.topic]}, ${A.partition} ${dl[A.partition]}, ${A.offset} ${dl[A.offset]}`,
  );
}
