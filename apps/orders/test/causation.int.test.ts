// One order is one causation chain: every event the order system appends for an order carries
// the OrderPlaced event's id as its correlation id, and names as its cause an event of the same
// chain that was appended before it — across every service's consumer group.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { causationOf, correlationOf } from '@herald/core';
import { TOPICS } from '@herald/orders-domain/events.ts';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import type { OrderSystem } from '../src/system.ts';
import {
  type TempFolder,
  apiOf,
  caughtUp,
  eventsOf,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';

describe('causation in the order flow', { timeout: 60_000 }, () => {
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

  it('puts every event of one order, from OrderPlaced to its notification, in one chain of causes', async () => {
    const app = apiOf(system);
    const { orderId } = await placeOrder(app, {
      customerId: 'caused',
      items: [{ sku: 'WIDGET', quantity: 1 }],
    });
    await settled(app, orderId);
    await caughtUp(system.log, Object.values(GROUPS));

    const events = (await Promise.all(Object.values(TOPICS).map((topic) => eventsOf(system.log, topic))))
      .flat()
      .filter((event) => event.partitionkey === orderId);
    const placed = events.find((event) => event.type.includes('order-placed'));
    assert.ok(placed, 'the OrderPlaced event');
    assert.equal(causationOf(placed), undefined, 'OrderPlaced starts the chain');
    const types = new Set(events.map((event) => event.type.split('.').at(-2)));
    for (const step of ['order-confirmed', 'payment-captured', 'notification-sent']) {
      assert.ok(types.has(step), `the order reached ${step}: ${[...types].join(', ')}`);
    }
    const byId = new Map(events.map((event) => [event.id, event]));
    for (const event of events) {
      assert.equal(correlationOf(event), placed.id, `${event.type} belongs to the order's chain`);
      if (event === placed) continue;
      const cause = byId.get(causationOf(event) ?? '');
      assert.ok(cause, `${event.type} names an event of the chain as its cause`);
      assert.ok(
        cause.timestamp <= event.timestamp,
        `${event.type} was appended after its cause ${cause.type}`,
      );
    }
  });
});
