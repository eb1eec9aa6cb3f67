import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type OrderRecord, reconcile } from '../src/reconcile.ts';

function record(orderId: string, overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    orderId,
    customerId: `c-${orderId}`,
    status: 'confirmed',
    decidedAt: 1_000,
    settled: true,
    lastFactAt: 1_100,
    messages: 1,
    deadLetters: 0,
    ...overrides,
  };
}

describe('reconcile', () => {
  it('finds nothing wrong when every accepted order is recorded, decided and settled', () => {
    const result = reconcile(
      [
        { index: 0, accepted: true, orderId: 'a' },
        { index: 1, accepted: true, orderId: 'b' },
      ],
      new Map([
        [0, record('a')],
        [1, record('b', { status: 'rejected' })],
      ]),
    );
    assert.deepEqual(result, {
      offered: 2,
      accepted: 2,
      records: 2,
      final: 2,
      lost: 0,
      unsettled: 0,
      unacknowledged: 0,
      duplicateEffects: 0,
      deadLetters: 0,
      failedOrders: 0,
    });
  });

  it('counts an accepted order without a record, or never decided, as lost', () => {
    const result = reconcile(
      [
        { index: 0, accepted: true, orderId: 'a' },
        { index: 1, accepted: true, orderId: 'b' },
        { index: 2, accepted: true, orderId: 'c' },
      ],
      new Map([
        [1, record('b', { status: 'pending', decidedAt: null, settled: false })],
        [2, record('c')],
      ]),
    );
    assert.equal(result.lost, 2);
    assert.equal(result.final, 1);
    assert.equal(result.records, 2);
    assert.equal(result.failedOrders, 2);
  });

  it('counts an accepted order whose record carries another order id as lost', () => {
    const result = reconcile([{ index: 0, accepted: true, orderId: 'a' }], new Map([[0, record('other')]]));
    assert.equal(result.lost, 1);
  });

  it('counts decided orders whose customer was never told as unsettled, and as failed', () => {
    const result = reconcile(
      [{ index: 0, accepted: true, orderId: 'a' }],
      new Map([[0, record('a', { settled: false, messages: 0, deadLetters: 1 })]]),
    );
    assert.equal(result.unsettled, 1);
    assert.equal(result.lost, 0);
    assert.equal(result.deadLetters, 1);
    assert.equal(result.failedOrders, 1);
  });

  it('counts refused requests as failed, and those decided anyway as unacknowledged', () => {
    const result = reconcile(
      [
        { index: 0, accepted: false, orderId: undefined },
        { index: 1, accepted: false, orderId: 'b' },
        { index: 2, accepted: false, orderId: 'c' },
      ],
      new Map([
        [1, record('b')],
        [2, record('c', { status: 'failed', decidedAt: null, settled: false })],
      ]),
    );
    assert.equal(result.accepted, 0);
    assert.equal(result.failedOrders, 3);
    assert.equal(result.unacknowledged, 1);
    assert.equal(result.lost, 0);
    assert.equal(result.records, 2);
  });

  it('counts every message beyond the first to a customer as a duplicate effect', () => {
    const result = reconcile(
      [
        { index: 0, accepted: true, orderId: 'a' },
        { index: 1, accepted: true, orderId: 'b' },
      ],
      new Map([
        [0, record('a', { messages: 3 })],
        [1, record('b', { messages: 1 })],
      ]),
    );
    assert.equal(result.duplicateEffects, 2);
  });
});
