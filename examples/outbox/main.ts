// Transactional outbox: a command handler changes its state and emits an event in ONE store
// transaction, so the event is published if and only if the state change commits. There is
// no window where the order is saved but its event is lost, or the event is out but the
// order was rolled back. On the embedded log the outbox is the log itself: nothing to relay.
//
// Run: ./node_modules/.bin/node examples/outbox/main.ts
import { type Producer, type Store, createProducer, defineEvent } from '@herald/core';
import { z } from 'zod';
import { openExampleLog } from '../example-log.ts';

const OrderPlaced = defineEvent({
  type: 'dev.herald.examples.order-placed.v1',
  schema: z.object({ orderId: z.string(), sku: z.string(), quantity: z.number().int().positive() }),
});

/** A business rule said no: the caller gets this error, and nothing of the transaction stays. */
class OutOfStock extends Error {
  override readonly name = 'OutOfStock';
}

interface PlaceOrder {
  readonly orderId: string;
  readonly sku: string;
  readonly quantity: number;
}

/**
 * The command handler (what an HTTP endpoint would call). Everything inside the transaction
 * commits together or not at all: the stock level, the order, and the OrderPlaced event.
 */
async function placeOrder(store: Store, events: Producer, command: PlaceOrder): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.put('orders', command.orderId, { ...command, status: 'placed' });
    // Published into the transaction first on purpose: if anything below throws, the event
    // goes too. `within(tx)` validates and stamps it exactly as a direct publish would.
    await events.within(tx).publish('orders', OrderPlaced, command, { key: command.orderId });
    const inStock = (await tx.get<number>('stock', command.sku)) ?? 0;
    if (inStock < command.quantity) {
      throw new OutOfStock(
        `only ${inStock} ${command.sku} left, ${command.orderId} wants ${command.quantity}`,
      );
    }
    await tx.put('stock', command.sku, inStock - command.quantity);
  });
}

await using example = await openExampleLog();
const { log, store } = example;
const events = createProducer({ sink: log, source: '/examples/shop' });
await log.createTopic('orders', { partitions: 1 });
await store.transaction((tx) => tx.put('stock', 'lamp', 3));

for (const command of [
  { orderId: 'order-1', sku: 'lamp', quantity: 2 },
  { orderId: 'order-2', sku: 'lamp', quantity: 5 }, // more than is left: the transaction fails
  { orderId: 'order-3', sku: 'lamp', quantity: 1 },
]) {
  try {
    await placeOrder(store, events, command);
    console.log(`${command.orderId}: placed`);
  } catch (error) {
    if (!(error instanceof OutOfStock)) throw error;
    console.log(`${command.orderId}: rejected, ${error.message}`);
  }
}

// The log holds exactly the events of the transactions that committed.
console.log('\nthe log, topic "orders":');
for (const event of await log.read('orders', { partition: 0, from: 'earliest' })) {
  console.log(`  offset ${event.offset}: ${event.type} ${JSON.stringify(OrderPlaced.decode(event.data))}`);
}
// And the state matches it: no trace of order-2.
console.log('\nthe store:');
for (const { id, value } of await store.list('orders'))
  console.log(`  orders/${id}: ${JSON.stringify(value)}`);
console.log(`  stock/lamp: ${await store.get<number>('stock', 'lamp')}`);
