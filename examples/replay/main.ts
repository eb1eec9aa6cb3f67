// Replay without side effects: a consumer that keeps a view (state in its store) and sends an
// e-mail (a side effect outside it) runs live. Later a NEW consumer group — a rebuilt view —
// reads the topic from the beginning. It arrives at the same state, and no e-mail goes out
// twice: effects declared with `ctx.effect` are skipped while a group reads history it never
// handled live (a backfill), and fire again once it reaches live events.
//
// Run: ./node_modules/.bin/node examples/replay/main.ts
import { type EventLog, createProducer, createRouter, defineEvent } from '@herald/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { caughtUp, openExampleLog } from '../example-log.ts';

const OrderPlaced = defineEvent({
  type: 'dev.herald.examples.order-placed.v1',
  schema: z.object({ orderId: z.string(), customer: z.string(), total: z.number().int() }),
});

await using example = await openExampleLog();
const { log, store } = example;
await log.createTopic('orders', { partitions: 2 });
const producer = createProducer({ log, source: '/examples/shop' });
const place = (orderId: string, customer: string, total: number) =>
  producer.publish('orders', OrderPlaced, { orderId, customer, total }, { key: orderId });

/** Stands in for an e-mail provider: what it was asked to send, by whom. */
const outbox: string[] = [];

/**
 * The service: keeps each customer's order total in `collection` and thanks them by e-mail.
 * Each version of the view has its own consumer group and collection; the group name is what
 * makes v2 a new group that reads `orders` from the beginning.
 */
function customerTotals(version: string) {
  const group = `reporting.customer-totals-${version}`;
  const router = createRouter({ log, group, topics: ['orders'], store });
  router.on(OrderPlaced, async (order, _event, ctx) => {
    await ctx.transaction(async (tx) => {
      const total = (await tx.get<number>(`customer-totals-${version}`, order.customer)) ?? 0;
      await tx.put(`customer-totals-${version}`, order.customer, total + order.total);
    });
    // A declared effect: runs live, skipped while replaying. The key it gets is stable across
    // redeliveries; a real provider would take it as its idempotency key.
    await ctx.effect('email', async () => {
      outbox.push(`[${version}] thank ${order.customer} for ${order.orderId}`);
    });
  });
  return router;
}

/** Resolves once `group` has partitions, so events appended from now on are live for it. */
async function joined(eventLog: EventLog, group: string): Promise<void> {
  while (!(await eventLog.describeGroup(group)).members.some((m) => m.partitions.length > 0)) await sleep(10);
}

const printView = async (version: string) => {
  const rows = await store.list<number>(`customer-totals-${version}`);
  console.log(`  view ${version}: ${rows.map((r) => `${r.id} ${r.value}`).join(', ')}`);
};

// 1. v1 runs live: every order is new to it, so every e-mail is sent.
const v1 = customerTotals('v1');
const v1Running = v1.run();
await joined(log, v1.group);
await place('order-1', 'ada', 1200);
await place('order-2', 'grace', 800);
await place('order-3', 'ada', 300);
await caughtUp(log, v1.group);
await v1.stop();
await v1Running;
console.log('v1, live:');
for (const line of outbox.toSorted()) console.log(`  e-mail: ${line}`);
await printView('v1');

// 2. v2 is a new group: it backfills everything appended before it joined. Same state, and
//    not one e-mail (customers were thanked by v1 already).
outbox.length = 0;
const v2 = customerTotals('v2');
const v2Running = v2.run();
await caughtUp(log, v2.group);
console.log('v2, backfilling from the beginning:');
console.log(`  e-mails sent: ${outbox.length}`);
await printView('v2');

// 3. v2 has caught up and replaces v1: new orders are live for it, and its effects fire.
await place('order-4', 'grace', 500);
await caughtUp(log, v2.group);
await v2.stop();
await v2Running;
console.log('v2, live:');
for (const line of outbox.toSorted()) console.log(`  e-mail: ${line}`);
await printView('v2');
