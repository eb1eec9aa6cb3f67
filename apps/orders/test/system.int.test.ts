// The order flow end to end on a real SQLite file: the API (through Fastify's inject), the saga
// and every service in their own consumer groups. Each outcome is checked in the view, in the
// log (which events exist), in the simulated gateway and mailbox (the external effects) and in
// the stock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayEntry } from '@herald/orders-domain/payment.ts';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import type { OrderView } from '@herald/orders-domain/order-view.ts';
import { TOPICS } from '@herald/orders-domain/events.ts';
import type { OrderSystem } from '../src/system.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import {
  type TempFolder,
  apiOf,
  caughtUp,
  countEvents,
  eventNamesOf,
  eventsOf,
  eventually,
  getOrder,
  mailboxOf,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';

const FLOW_TOPICS = [TOPICS.orders, TOPICS.inventory, TOPICS.payments, TOPICS.fraud, TOPICS.notifications];
const ALL_GROUPS = Object.values(GROUPS);

describe('the order flow on a real SQLite file', { timeout: 90_000 }, () => {
  let folder: TempFolder;
  let system: OrderSystem;

  before(async () => {
    folder = tempFolder();
    system = await openTestSystem(folder);
  });
  after(async () => {
    await system.stop();
    folder[Symbol.dispose]();
  });

  const stock = async (sku: string) => (await system.store.get<StockLevel>(COLLECTIONS.stock, sku))!;
  const gatewayEntry = (orderId: string) => system.store.get<GatewayEntry>(COLLECTIONS.gateway, orderId);
  const outcomeMessages = async (orderId: string) =>
    (await mailboxOf(system)).filter((m) => m.orderId === orderId && m.kind !== 'points-awarded');

  it('confirms an order: stock reserved, payment authorized then captured, fraud passed, one message', async () => {
    const app = apiOf(system);
    const before = await stock('WIDGET');
    const { orderId } = await placeOrder(app, {
      customerId: 'happy',
      items: [{ sku: 'WIDGET', quantity: 2 }],
      shippingCountry: 'DE',
    });
    const view = await settled(app, orderId);
    assert.equal(view.status, 'confirmed');
    assert.deepEqual(view.steps, {
      inventory: 'reserved',
      payment: 'captured',
      fraud: 'passed',
      notification: 'sent',
    });
    assert.equal(view.total, 2000);
    assert.deepEqual(await eventNamesOf(system.log, orderId, FLOW_TOPICS), [
      'fraud-check-passed',
      'notification-sent',
      'order-confirmed',
      'order-placed',
      'payment-authorized',
      'payment-captured',
      'stock-reserved',
    ]);
    const messages = await outcomeMessages(orderId);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.kind, 'order-confirmed');
    assert.equal(messages[0]!.requests, 1);
    const entry = await gatewayEntry(orderId);
    assert.equal(entry?.authorization.status, 'authorized');
    assert.ok(entry.captured && !entry.voided);
    assert.equal(entry.requests, 2, 'one authorization and one capture reached the gateway');
    // Confirmed stock has left the shop: available went down, nothing stays reserved for it.
    assert.deepEqual(await stock('WIDGET'), {
      sku: 'WIDGET',
      available: before.available - 2,
      reserved: before.reserved,
    });
  });

  it('rejects an order that is out of stock and voids its payment; nothing was reserved to release', async () => {
    const app = apiOf(system);
    const { orderId } = await placeOrder(app, {
      customerId: 'greedy',
      items: [{ sku: 'RARE', quantity: 3 }],
    });
    const view = await settled(app, orderId);
    assert.equal(view.status, 'rejected');
    assert.equal((view as OrderView & { reason: string }).reason, 'out-of-stock');
    assert.equal((view as OrderView & { detail: string }).detail, 'RARE: 3 requested, 2 available');
    assert.deepEqual(view.steps, {
      inventory: 'failed',
      payment: 'voided',
      fraud: 'passed',
      notification: 'sent',
    });
    const names = await eventNamesOf(system.log, orderId, FLOW_TOPICS);
    assert.ok(names.includes('payment-voided') && names.includes('stock-reservation-failed'), names.join());
    assert.ok(!names.includes('stock-released') && !names.includes('order-confirmed'), names.join());
    assert.deepEqual(await stock('RARE'), { sku: 'RARE', available: 2, reserved: 0 });
    const entry = await gatewayEntry(orderId);
    assert.ok(entry?.voided && !entry.captured);
    assert.deepEqual(
      (await outcomeMessages(orderId)).map((m) => m.kind),
      ['order-rejected'],
    );
  });

  it('rejects an order whose payment is declined (tok_decline) and releases its stock', async () => {
    const app = apiOf(system);
    const before = await stock('GADGET');
    const { orderId } = await placeOrder(app, {
      customerId: 'broke',
      items: [{ sku: 'GADGET', quantity: 4 }],
      paymentToken: 'tok_decline',
    });
    const view = await settled(app, orderId);
    assert.equal(view.status, 'rejected');
    assert.equal((view as OrderView & { reason: string }).reason, 'payment-declined');
    assert.deepEqual(view.steps, {
      inventory: 'released',
      payment: 'declined',
      fraud: 'passed',
      notification: 'sent',
    });
    const names = await eventNamesOf(system.log, orderId, FLOW_TOPICS);
    assert.ok(names.includes('stock-released') && names.includes('payment-declined'), names.join());
    assert.ok(!names.includes('payment-voided'), 'a declined payment has no authorization to void');
    assert.deepEqual(await stock('GADGET'), before);
    assert.deepEqual(
      (await outcomeMessages(orderId)).map((m) => m.kind),
      ['order-rejected'],
    );
  });

  it('rejects an order the fraud rules fail, releasing the stock and voiding the payment', async () => {
    const app = apiOf(system);
    const before = await stock('WIDGET');
    const { orderId } = await placeOrder(app, {
      customerId: 'shady',
      items: [{ sku: 'WIDGET', quantity: 1 }],
      shippingCountry: 'KP',
    });
    const view = await settled(app, orderId);
    assert.equal(view.status, 'rejected');
    assert.equal((view as OrderView & { reason: string }).reason, 'fraud-suspected');
    assert.match(
      (view as OrderView & { detail: string }).detail,
      /blocked-country: the shop does not ship to KP/,
    );
    assert.deepEqual(view.steps, {
      inventory: 'released',
      payment: 'voided',
      fraud: 'failed',
      notification: 'sent',
    });
    const names = await eventNamesOf(system.log, orderId, FLOW_TOPICS);
    assert.ok(names.includes('stock-released') && names.includes('payment-voided'), names.join());
    assert.deepEqual(await stock('WIDGET'), before);
    assert.deepEqual(
      (await outcomeMessages(orderId)).map((m) => m.kind),
      ['order-rejected'],
    );
    const fraudEvent = (await eventsOf(system.log, TOPICS.fraud)).find((e) => e.partitionkey === orderId)!;
    const explained = JSON.parse(new TextDecoder().decode(fraudEvent.data)) as { rules: { rule: string }[] };
    assert.deepEqual(
      explained.rules.map((r) => r.rule),
      ['order-total', 'order-velocity', 'blocked-country'],
      'every rule is explained in the event',
    );
  });

  it('lets reads wait: for a consistency token, for a final state (?wait), as a stream (SSE)', async () => {
    const app = apiOf(system);
    // A slow fraud service keeps the order pending long enough to watch it change.
    await system.faults.update('fraud', { latencyMs: 800 });
    try {
      const { orderId, consistencyToken } = await placeOrder(app, {
        customerId: 'patient',
        items: [{ sku: 'WIDGET', quantity: 1 }],
      });
      const stream = app.inject({ method: 'GET', url: `/orders/${orderId}/events` });
      const consistent = await getOrder(
        app,
        orderId,
        `?consistentWith=${encodeURIComponent(consistencyToken)}`,
      );
      assert.equal(consistent.orderId, orderId);
      assert.ok(
        (await system.store.get(COLLECTIONS.orderViews, orderId)) !== undefined,
        'the view itself (not the placed order) has the order once the token is reached',
      );
      const final = await getOrder(app, orderId, '?wait=15');
      assert.equal(final.status, 'confirmed');

      const response = await stream;
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/event-stream/);
      const events = response.body
        .split('\n\n')
        .filter((chunk) => chunk.startsWith('event: order'))
        .map(
          (chunk) =>
            JSON.parse(
              chunk
                .split('\n')
                .find((l) => l.startsWith('data: '))!
                .slice(6),
            ) as OrderView,
        );
      assert.ok(events.length >= 2, `expected the pending view and later ones, got ${events.length}`);
      assert.equal(events[0]!.status, 'pending');
      assert.equal(events.at(-1)!.status, 'confirmed', 'the stream ends with the final state');
      assert.ok(events.every((e, i) => i === 0 || e.version > events[i - 1]!.version));
    } finally {
      await system.faults.update('fraud', { latencyMs: 0 });
    }
  });

  it('rebuilds an order as of a past moment by replaying its events', async () => {
    const app = apiOf(system);
    await system.faults.update('fraud', { latencyMs: 300 });
    let orderId: string;
    try {
      ({ orderId } = await placeOrder(app, {
        customerId: 'historian',
        items: [{ sku: 'WIDGET', quantity: 1 }],
      }));
      await settled(app, orderId);
    } finally {
      await system.faults.update('fraud', { latencyMs: 0 });
    }
    const placed = (await eventsOf(system.log, TOPICS.orders)).find(
      (e) => e.partitionkey === orderId && e.type.endsWith('order-placed.v1'),
    )!;
    const asOf = async (ms: number) =>
      app.inject({ method: 'GET', url: `/orders/${orderId}?asOf=${new Date(ms).toISOString()}` });

    const atPlacement = await asOf(placed.timestamp);
    assert.equal(atPlacement.statusCode, 200);
    assert.equal(atPlacement.json<OrderView>().status, 'pending');
    assert.equal(atPlacement.json<OrderView>().steps.fraud, 'pending', 'fraud answered 300 ms later');
    assert.equal((await asOf(placed.timestamp - 1)).statusCode, 404, 'before it was placed it did not exist');
    const now = (await asOf(Date.now())).json<OrderView>();
    assert.equal(now.status, 'confirmed');
    assert.deepEqual(
      now.steps,
      (await getOrder(app, orderId)).steps,
      'replaying everything gives the live view',
    );
  });

  it('has one charge and one message per order when every event is delivered twice', async () => {
    const app = apiOf(system);
    await caughtUp(system.log, ALL_GROUPS);
    const snapshot = async () => ({
      gateway: await system.store.list(COLLECTIONS.gateway),
      mailbox: await system.store.list(COLLECTIONS.mailbox),
      stock: await system.store.list(COLLECTIONS.stock),
      views: (await system.store.list<OrderView>(COLLECTIONS.orderViews)).map((r) => ({
        ...r.value,
        version: 0,
      })),
      loyalty: await system.store.list(COLLECTIONS.loyaltyAccounts),
      funnel: await system.store.list(COLLECTIONS.funnel),
      emitted: await countEvents(system.log, [TOPICS.notifications, TOPICS.loyalty]),
    });
    const before = await snapshot();
    assert.ok(before.gateway.length >= 5 && before.mailbox.length >= 5);

    // 1. A producer or relay that retried: every event appended again, same id, same payload.
    let copies = 0;
    for (const topic of [TOPICS.orders, TOPICS.inventory, TOPICS.payments, TOPICS.fraud]) {
      for (const event of await eventsOf(system.log, topic)) {
        const { topic: _t, partition: _p, offset: _o, timestamp: _ts, ...copy } = event;
        await system.log.append(topic, copy);
        copies++;
      }
    }
    assert.ok(copies > 20);
    await caughtUp(system.log, ALL_GROUPS);
    assert.deepEqual(await snapshot(), before, 'duplicates changed nothing and emitted nothing');

    // 2. Consumers that read everything again: payment and notification stopped (an outage),
    //    moved back to the beginning of the log, and started again.
    for (const service of ['payment', 'notification'] as const)
      await system.faults.update(service, { outage: true });
    for (const group of [GROUPS.payment, GROUPS.notification]) {
      await eventually(`${group} to stop`, async () =>
        (await system.log.describeGroup(group)).members.length === 0 ? true : undefined,
      );
      assert.ok(system.log.resetGroup !== undefined, 'the embedded log resets groups');
      await system.log.resetGroup(group, { to: 'earliest' });
    }
    for (const service of ['payment', 'notification'] as const)
      await system.faults.update(service, { outage: false });
    await caughtUp(system.log, ALL_GROUPS);
    assert.deepEqual(await snapshot(), before, 'a full re-read charged nobody and mailed nobody again');

    // Still working after all that.
    const { orderId } = await placeOrder(app, {
      customerId: 'after',
      items: [{ sku: 'WIDGET', quantity: 1 }],
    });
    assert.equal((await settled(app, orderId)).status, 'confirmed');
  });
});
