// {{name}}: places one order at start, ships every order placed, and runs until stopped
// (Ctrl-C or SIGTERM: in-flight work finishes and is committed first).
//
// HERALD_LOG names the log (default: the embedded log in .herald/herald.db, the file the
// `herald` command reads too); HERALD_STORE the store (default: the embedded log's own file, so
// it must be set for a kafka: or nats: log).
import { randomUUID } from 'node:crypto';
import { logUrlFrom, openEventLog, openStore } from '@herald/core';
import { createShipping, SHIPPING_GROUP } from './consumer.ts';
import { createOrderProducer } from './producer.ts';
import { ensureTopics } from './topics.ts';

const logUrl = logUrlFrom(process.env);
const storeUrl = process.env['HERALD_STORE'] || logUrl;

await using log = await openEventLog(logUrl);
await using store = await openStore(storeUrl, { log });
await ensureTopics(log);

const shipping = createShipping({
  log,
  store,
  onShipped: (s) => console.log(`shipped order ${s.orderId}: ${s.quantity} × ${s.sku}`),
});
const running = shipping.run();
console.log(`{{name}}: ${SHIPPING_GROUP} is consuming; Ctrl-C to stop`);

const order = { orderId: randomUUID(), sku: 'lamp', quantity: 1 };
const placed = await createOrderProducer(log).placeOrder(order);
console.log(`placed order ${order.orderId} (orders, partition ${placed.partition}, offset ${placed.offset})`);

// A router that fails (an error no middleware handled) ends the process with that error.
const stopSignal = new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
await Promise.race([stopSignal, running]);
await shipping.stop();
await running;
