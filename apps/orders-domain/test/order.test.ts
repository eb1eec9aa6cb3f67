import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { indexCatalog, parseCatalog } from '../src/catalog.ts';
import { type OrderRequest, createOrder } from '../src/order.ts';

const catalog = indexCatalog([
  ...parseCatalog({
    items: [
      { sku: 'LAMP', name: 'Lamp', prices: { EUR: 3990, USD: 4290 }, initialStock: 5 },
      { sku: 'MUG', name: 'Mug', prices: { EUR: 1250 }, initialStock: 10 },
    ],
  }),
  // Above what a catalog file may hold (MAX_UNIT_PRICE): only to reach the overflow guard.
  { sku: 'GOLD', name: 'Gold bar', prices: { EUR: 4_000_000_000_000_000 }, initialStock: 1 },
]);
const identity = { orderId: 'o-1', placedAt: '2026-01-01T10:00:00.000Z' };
const request = (overrides: Partial<OrderRequest> = {}): OrderRequest => ({
  customerId: 'ada',
  items: [{ sku: 'LAMP', quantity: 2 }],
  currency: 'EUR',
  paymentToken: 'tok_visa',
  shippingCountry: 'DE',
  ...overrides,
});

describe('placing an order', () => {
  it('prices every line from the catalog in the order’s currency', () => {
    const result = createOrder(
      request({
        items: [
          { sku: 'LAMP', quantity: 2 },
          { sku: 'MUG', quantity: 3 },
        ],
      }),
      catalog,
      identity,
    );
    assert.ok(result.ok);
    assert.deepEqual(
      result.order.items.map((l) => [l.sku, l.unitPrice, l.lineTotal]),
      [
        ['LAMP', 3990, 7980],
        ['MUG', 1250, 3750],
      ],
    );
    assert.equal(result.order.total, 11730);
    assert.equal(result.order.orderId, 'o-1');
  });

  it('reports every problem at once, each with a pointer into the request', () => {
    const result = createOrder(
      request({
        currency: 'USD',
        items: [
          { sku: 'NOPE', quantity: 1 },
          { sku: 'MUG', quantity: 1 },
          { sku: 'LAMP', quantity: 1 },
          { sku: 'LAMP', quantity: 1 },
        ],
      }),
      catalog,
      identity,
    );
    assert.ok(!result.ok);
    assert.deepEqual(
      result.problems.map((p) => [p.code, p.pointer]),
      [
        ['unknown-sku', '/items/0/sku'],
        ['not-sold-in-currency', '/items/1/sku'],
        ['duplicate-sku', '/items/3/sku'],
      ],
    );
  });

  it('refuses a total that would not be a safe integer instead of rounding it', () => {
    const result = createOrder(request({ items: [{ sku: 'GOLD', quantity: 3 }] }), catalog, identity);
    assert.ok(!result.ok);
    assert.equal(result.problems[0]?.code, 'total-out-of-range');
  });
});

describe('the catalog file', () => {
  it('refuses duplicate SKUs, items without a price, and fractional or huge prices', () => {
    const item = { sku: 'A', name: 'A', prices: { EUR: 100 }, initialStock: 1 };
    assert.throws(() => parseCatalog({ items: [item, item] }), /appears twice/);
    assert.throws(() => parseCatalog({ items: [{ ...item, prices: {} }] }), /has no price/);
    assert.throws(() => parseCatalog({ items: [{ ...item, prices: { EUR: 1.5 } }] }), /prices\.EUR/);
    assert.throws(() => parseCatalog({ items: [{ ...item, prices: { EUR: 4e15 } }] }), /prices\.EUR/);
    assert.throws(() => parseCatalog({ items: [{ ...item, sku: 'lower' }] }), /sku/);
  });
});
