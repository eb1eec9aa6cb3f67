import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type StockLevel,
  commitStock,
  describeShortages,
  releaseStock,
  reserveStock,
} from '../src/inventory.ts';

const levels = (...items: StockLevel[]) => new Map(items.map((l) => [l.sku, l]));

describe('reserving stock', () => {
  it('reserves every line when all are available', () => {
    const outcome = reserveStock(
      levels({ sku: 'A', available: 5, reserved: 0 }, { sku: 'B', available: 1, reserved: 2 }),
      [
        { sku: 'A', quantity: 5 },
        { sku: 'B', quantity: 1 },
      ],
    );
    assert.ok(outcome.ok);
    assert.deepEqual(outcome.levels, [
      { sku: 'A', available: 0, reserved: 5 },
      { sku: 'B', available: 0, reserved: 3 },
    ]);
  });

  it('reserves nothing when one line is short, and lists every short line', () => {
    const outcome = reserveStock(levels({ sku: 'A', available: 5, reserved: 0 }), [
      { sku: 'A', quantity: 2 },
      { sku: 'B', quantity: 1 },
      { sku: 'A', quantity: 4 },
    ]);
    assert.ok(!outcome.ok);
    assert.deepEqual(outcome.shortages, [
      { sku: 'B', requested: 1, available: 0 },
      { sku: 'A', requested: 4, available: 3 },
    ]);
    assert.equal(
      describeShortages(outcome.shortages),
      'B: 1 requested, 0 available; A: 4 requested, 3 available',
    );
  });

  it('gives released lines back and lets committed ones leave', () => {
    const held = levels({ sku: 'A', available: 1, reserved: 4 });
    assert.deepEqual(releaseStock(held, [{ sku: 'A', quantity: 4 }]), [
      { sku: 'A', available: 5, reserved: 0 },
    ]);
    assert.deepEqual(commitStock(held, [{ sku: 'A', quantity: 4 }]), [
      { sku: 'A', available: 1, reserved: 0 },
    ]);
  });
});
