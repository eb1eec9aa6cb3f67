// Idempotent consumer: the log delivers at least once, so a handler can see the same event
// twice (a producer retried after a lost acknowledgement, a consumer crashed before it
// committed). With the idempotency middleware and the store's inbox, each event id has one
// effect per consumer group — and an id reused with a different payload is flagged, not applied.
//
// Run: ./node_modules/.bin/node examples/idempotent-consumer/main.ts
import { createRouter, deadLetter, defineEvent, idempotency, retry } from '@herald/core';
import { z } from 'zod';
import { caughtUp, openExampleLog } from '../example-log.ts';

const PaymentReceived = defineEvent({
  type: 'dev.herald.examples.payment-received.v1',
  schema: z.object({ account: z.string(), amount: z.number().int().positive() }),
});

await using example = await openExampleLog();
const { log, store } = example;
await log.createTopic('payments', { partitions: 1 });

/** A payment event with a fixed id: the id is what makes a redelivery recognisable. */
const payment = (id: string, account: string, amount: number) =>
  PaymentReceived.create({ account, amount }, { id, source: '/examples/bank', key: account });

// payment-1 is appended twice, as a producer that retried after a lost ack would do.
await log.append('payments', payment('payment-1', 'acme', 500));
await log.append('payments', payment('payment-1', 'acme', 500));
await log.append('payments', payment('payment-2', 'acme', 250));
// A producer bug: payment-1's id reused for a different payment.
await log.append('payments', payment('payment-1', 'acme', 9_999));

const applied = new Set<number>();
const router = createRouter({
  log,
  group: 'ledger.balances',
  topics: ['payments'],
  store,
  // Innermost, idempotency skips what the inbox says this group handled already and fails a
  // reused id with CONFLICT, a permanent failure that retry does not retry and deadLetter parks.
  middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 20 }), idempotency({ store })],
});
router.on(PaymentReceived, async (data, event, ctx) => {
  // The balance update and the inbox entry commit in one transaction: if the process dies
  // before the offset is committed, the redelivered event finds the entry and is skipped.
  await ctx.transaction(async (tx) => {
    const balance = (await tx.get<number>('balances', data.account)) ?? 0;
    await tx.put('balances', data.account, balance + data.amount);
  });
  applied.add(event.offset);
});

const running = router.run();
await caughtUp(log, router.group);
await router.stop();
await running;

// What happened to each delivery, in log order.
const parked = await log.read('payments.dead-letter', { partition: 0, from: 'earliest' });
const parkedAt = new Map(parked.map((e) => [Number(e.extensions?.['dloffset']), e.extensions?.['dlcode']]));
console.log('payments, as the log holds them:');
for (const event of await log.read('payments', { partition: 0, from: 'earliest' })) {
  const outcome = applied.has(event.offset)
    ? 'applied'
    : parkedAt.has(event.offset)
      ? `not applied: ${parkedAt.get(event.offset)}, parked in payments.dead-letter`
      : `skipped: ledger.balances handled ${event.id} already`;
  const { amount } = PaymentReceived.decode(event.data);
  console.log(`  offset ${event.offset}: ${event.id}, amount ${amount} → ${outcome}`);
}
console.log(`acme's balance: ${await store.get<number>('balances', 'acme')}`);
for (const event of parked) console.log(`dead-letter reason: ${event.extensions?.['dlerror']}`);
