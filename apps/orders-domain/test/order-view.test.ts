import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlacedOrder } from '../src/order.ts';
import { type OrderFact, applyFact, isFinal, isSettled, placedView } from '../src/order-view.ts';

const order: PlacedOrder = {
  orderId: 'o-1',
  customerId: 'ada',
  currency: 'EUR',
  items: [{ sku: 'A', name: 'A', quantity: 1, unitPrice: 100, lineTotal: 100 }],
  total: 100,
  paymentToken: 'tok_visa',
  shippingCountry: null,
  placedAt: '2026-01-01T10:00:00.000Z',
};
const at = (ms: number) => new Date(Date.parse(order.placedAt) + ms).toISOString();
const fold = (facts: OrderFact[]) =>
  facts.reduce((view, fact) => applyFact(view, 'o-1', fact), placedView(order));

describe('the order view', () => {
  it('starts pending with every step pending', () => {
    const view = placedView(order);
    assert.equal(view.status, 'pending');
    assert.deepEqual(view.steps, {
      inventory: 'pending',
      payment: 'pending',
      fraud: 'pending',
      notification: 'pending',
    });
    assert.ok(!isFinal(view));
  });

  it('is settled once a confirmed order was captured and its customer told', () => {
    const facts: OrderFact[] = [
      { type: 'stock-reserved', at: at(1) },
      { type: 'payment-authorized', at: at(2) },
      { type: 'fraud-check-passed', at: at(3) },
      { type: 'order-confirmed', at: at(4) },
    ];
    const confirmed = fold(facts);
    assert.ok(isFinal(confirmed));
    assert.ok(!isSettled(confirmed), 'not captured, nobody told yet');
    const settled = fold([
      ...facts,
      { type: 'payment-captured', at: at(5) },
      { type: 'notification-sent', at: at(6) },
    ]);
    assert.ok(isSettled(settled));
    assert.equal(settled.updatedAt, at(6));
  });

  it('is settled only when a rejected order holds no stock and no authorization', () => {
    const rejected: OrderFact[] = [
      { type: 'stock-reserved', at: at(1) },
      { type: 'payment-authorized', at: at(2) },
      { type: 'fraud-check-failed', at: at(3) },
      { type: 'order-rejected', at: at(4), reason: 'fraud-suspected', detail: 'x' },
      { type: 'notification-sent', at: at(5) },
    ];
    assert.ok(!isSettled(fold(rejected)));
    const compensated = fold([
      ...rejected,
      { type: 'stock-released', at: at(6) },
      { type: 'payment-voided', at: at(7) },
    ]);
    assert.ok(isSettled(compensated));
    assert.equal(compensated.reason, 'fraud-suspected');
  });

  it('never moves a step back and ignores repeats, whatever order facts arrive in', () => {
    const view = fold([
      { type: 'payment-captured', at: at(3) },
      { type: 'payment-authorized', at: at(1) },
      { type: 'order-confirmed', at: at(2) },
      { type: 'order-rejected', at: at(4), reason: 'out-of-stock', detail: 'late' },
    ]);
    assert.equal(view.steps.payment, 'captured');
    assert.equal(view.status, 'confirmed');
    const again = applyFact(view, 'o-1', { type: 'payment-authorized', at: at(9) });
    assert.equal(again, view, 'a fact that changes nothing returns the same view');
  });

  it('takes outcomes that arrive before the order itself', () => {
    const early = applyFact(undefined, 'o-1', { type: 'fraud-check-passed', at: at(1) });
    assert.equal(early.createdAt, null);
    const placed = applyFact(early, 'o-1', { type: 'order-placed', at: order.placedAt, order });
    assert.equal(placed.steps.fraud, 'passed');
    assert.equal(placed.total, 100);
  });
});
