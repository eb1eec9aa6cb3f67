import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCatalog } from '@herald/orders-domain/catalog.ts';
import { placeOrderBody } from '@herald/orders-domain/http/schemas.ts';
import { customerIdOf, indexOfCustomer, intentOf, labCatalog, orderBody } from '../src/workload.ts';

describe('the lab workload', () => {
  it('has a catalog the system accepts, with one SKU sold out', () => {
    const items = parseCatalog(labCatalog());
    assert.ok(items.some((i) => i.initialStock === 0));
  });

  it('mixes 5% declined cards, 5% sold-out SKUs and 2% blocked countries into every 100 requests', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 100; i++) counts.set(intentOf(i), (counts.get(intentOf(i)) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), {
      confirmed: 88,
      'payment-declined': 5,
      'out-of-stock': 5,
      'fraud-suspected': 2,
    });
  });

  it('builds bodies the API accepts, each with its own customer id', () => {
    const customers = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const body = orderBody('lab1-baseline-e', i);
      assert.equal(placeOrderBody.safeParse(body).success, true, JSON.stringify(body));
      customers.add(body.customerId as string);
    }
    assert.equal(customers.size, 300);
  });

  it('finds a request’s index back from its customer id, and only for its own run', () => {
    assert.equal(indexOfCustomer('run-a', customerIdOf('run-a', 42)), 42);
    assert.equal(indexOfCustomer('run-a', customerIdOf('run-ab', 42)), undefined);
    assert.equal(indexOfCustomer('run-a', 'run-a-4x'), undefined);
  });
});
