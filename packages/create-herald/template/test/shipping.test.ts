import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, it } from 'node:test';
import type { EventLog } from '@herald/core';
import { type SqliteLog, type SqliteStore, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { SHIPMENTS, SHIPPING_GROUP, type Shipment, createShipping } from '../src/consumer.ts';
import { ORDERS_TOPIC, OrderPlaced } from '../src/events.ts';
import { createOrderProducer } from '../src/producer.ts';
import { ensureTopics } from '../src/topics.ts';

let folder: string;
let log: SqliteLog;
let store: SqliteStore;

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), '{{name}}-test-'));
  log = await openSqliteLog({ path: join(folder, 'herald.db') });
  store = await openSqliteStore(log);
  await ensureTopics(log);
});

afterEach(async () => {
  await store.close();
  await log.close();
  await rm(folder, { recursive: true, force: true });
});

/**
 * Resolves once `group` has committed everything in its topics. Fails when the group makes no
 * progress for 10 s: a stuck consumer fails the test instead of hanging it.
 */
async function caughtUp(eventLog: EventLog, group: string): Promise<void> {
  let lastLag = Number.POSITIVE_INFINITY;
  let lastProgress = Date.now();
  for (;;) {
    const { partitions } = await eventLog.describeGroup(group);
    const lag = partitions.reduce((sum, p) => sum + p.lag, 0);
    if (partitions.length > 0 && lag === 0) return;
    if (lag < lastLag) [lastLag, lastProgress] = [lag, Date.now()];
    assert.ok(Date.now() - lastProgress < 10_000, `${group} made no progress for 10 s (lag ${lag})`);
    await sleep(20);
  }
}

it('applies each placed order once, even when its event is delivered twice', async () => {
  const orders = [
    { orderId: 'order-1', sku: 'lamp', quantity: 1 },
    { orderId: 'order-2', sku: 'desk', quantity: 2 },
    { orderId: 'order-3', sku: 'chair', quantity: 4 },
  ];
  const producer = createOrderProducer(log);
  for (const order of orders.slice(1)) await producer.placeOrder(order);
  // order-1's event appended twice with one id, as a producer that retried after a lost
  // acknowledgement would: the log holds both, the consumer must apply it once.
  const twice = OrderPlaced.create(orders[0]!, { id: 'order-1-placed', source: '/test', key: 'order-1' });
  await log.append(ORDERS_TOPIC, twice);
  await log.append(ORDERS_TOPIC, twice);

  const shipped: string[] = [];
  const shipping = createShipping({ log, store, onShipped: (s) => shipped.push(s.orderId) });
  const running = shipping.run();
  await caughtUp(log, SHIPPING_GROUP);
  await shipping.stop();
  await running;

  assert.deepEqual(shipped.toSorted(), ['order-1', 'order-2', 'order-3']);
  for (const order of orders) {
    assert.deepEqual(await store.get<Shipment>(SHIPMENTS, order.orderId), { ...order, applications: 1 });
  }
});

it('rejects an invalid order without writing it', async () => {
  const producer = createOrderProducer(log);
  await assert.rejects(producer.placeOrder({ orderId: 'order-9', sku: 'lamp', quantity: 0 }), {
    code: 'VALIDATION_FAILED',
  });
  const { partitionInfo } = await log.describeTopic(ORDERS_TOPIC);
  assert.ok(partitionInfo.every((p) => p.latest === 0));
});
