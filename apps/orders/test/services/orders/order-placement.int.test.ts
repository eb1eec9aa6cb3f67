// Idempotency-Keys of POST /orders: scoped to the customer and remembered for 24 hours, on a real
// SQLite store with a clock the test moves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { indexCatalog } from '@herald/orders-domain/catalog.ts';
import type { OrderRequest } from '@herald/orders-domain/order.ts';
import { ensureTopics } from '@herald/orders-domain/topology.ts';
import {
  IDEMPOTENCY_KEY_TTL_MS,
  OrderPlacement,
  type PlacementOutcome,
} from '../../../src/services/orders/order-placement.ts';
import { TEST_CATALOG, tempFolder } from '../../fixtures/order-system.ts';

const ada: OrderRequest = {
  customerId: 'ada',
  items: [{ sku: 'WIDGET', quantity: 1 }],
  currency: 'EUR',
  paymentToken: 'tok_visa',
  shippingCountry: 'DE',
};

function orderIdOf(outcome: PlacementOutcome): string {
  assert.equal(outcome.kind, 'accepted', JSON.stringify(outcome));
  return outcome.order.orderId;
}

describe('Idempotency-Keys of order placement', () => {
  it('are scoped to the customer and expire after 24 hours, after which the key places a new order', async () => {
    using folder = tempFolder();
    await using log = await openSqliteLog({ path: folder.dbPath });
    await ensureTopics(log, 1);
    const store = await openSqliteStore(log);
    let now = new Date('2026-12-07T10:00:00Z');
    const placement = new OrderPlacement({ store, catalog: indexCatalog(TEST_CATALOG), now: () => now });

    const first = await placement.place(ada, 'key-1');
    const retried = await placement.place(ada, 'key-1');
    assert.equal(orderIdOf(retried), orderIdOf(first));
    assert.equal(retried.kind === 'accepted' && retried.replayed, true);
    assert.equal(
      (await placement.place({ ...ada, items: [{ sku: 'WIDGET', quantity: 3 }] }, 'key-1')).kind,
      'key-reused',
    );

    const grace = await placement.place({ ...ada, customerId: 'grace' }, 'key-1');
    assert.notEqual(orderIdOf(grace), orderIdOf(first), "another customer's key is her own");

    now = new Date(now.getTime() + IDEMPOTENCY_KEY_TTL_MS - 1000);
    assert.equal(orderIdOf(await placement.place(ada, 'key-1')), orderIdOf(first), 'still remembered');
    now = new Date(now.getTime() + 2000);
    const later = await placement.place(ada, 'key-1');
    assert.notEqual(orderIdOf(later), orderIdOf(first), 'an expired key places a new order');
    assert.equal(later.kind === 'accepted' && later.replayed, false);
    assert.equal(orderIdOf(await placement.place(ada, 'key-1')), orderIdOf(later), 'and is remembered again');
  });
});
