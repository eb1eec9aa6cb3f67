import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_FUNNEL, applyToFunnel, applyToRevenue } from '../src/analytics.ts';
import { awardPoints, pointsFor } from '../src/loyalty.ts';
import { orderOutcomeMessage, pointsMessage } from '../src/notification.ts';

describe('messages to customers', () => {
  it('tells the same outcome with the same words every time', () => {
    const outcome = {
      kind: 'order-confirmed',
      orderId: '6f4334ef-7a23-43bb-82ac-722ca233a3fa',
      customerId: 'ada',
      total: 3990,
      currency: 'EUR',
    } as const;
    const message = orderOutcomeMessage(outcome);
    assert.deepEqual(message, orderOutcomeMessage(outcome));
    assert.equal(message.subject, 'Order 6f4334ef confirmed');
    assert.match(message.body, /39\.90 EUR will be charged/);
  });

  it('explains a rejection without blaming the customer, and says nothing was charged', () => {
    const message = orderOutcomeMessage({
      kind: 'order-rejected',
      orderId: 'o-1',
      customerId: 'ada',
      reason: 'payment-declined',
    });
    assert.match(message.body, /the payment was declined\. Nothing was charged\./);
    assert.equal(pointsMessage('ada', 'o-1', 39).subject, 'You earned 39 points');
  });
});

describe('loyalty points', () => {
  it('gives one point per whole major unit and adds up per customer', () => {
    assert.equal(pointsFor(3990, 'EUR'), 39);
    assert.equal(pointsFor(900, 'JPY'), 900);
    const first = awardPoints(undefined, 'ada', 3990, 'EUR');
    const second = awardPoints(first.account, 'ada', 1250, 'EUR');
    assert.deepEqual(second.account, { customerId: 'ada', points: 51, orders: 2 });
    assert.equal(second.points, 12);
  });
});

describe('analytics views', () => {
  it('counts the funnel per stage and rejections per reason', () => {
    const funnel = [
      { type: 'order-placed' },
      { type: 'order-placed' },
      { type: 'order-rejected', reason: 'out-of-stock' },
      { type: 'order-confirmed', currency: 'EUR', amount: 100 },
    ].reduce((f, fact) => applyToFunnel(f, fact as Parameters<typeof applyToFunnel>[1]), EMPTY_FUNNEL);
    assert.equal(funnel.placed, 2);
    assert.equal(funnel.confirmed, 1);
    assert.deepEqual(funnel.rejected, {
      'out-of-stock': 1,
      'payment-declined': 0,
      'fraud-suspected': 0,
      'decision-timeout': 0,
    });
  });

  it('sums revenue per currency and ignores facts that move no money', () => {
    let revenue = applyToRevenue(undefined, { type: 'order-confirmed', currency: 'EUR', amount: 100 });
    revenue = applyToRevenue(revenue, { type: 'payment-captured', currency: 'EUR', amount: 100 });
    revenue = applyToRevenue(revenue, { type: 'order-placed' });
    assert.deepEqual(revenue, {
      currency: 'EUR',
      confirmed: 100,
      captured: 100,
      voided: 0,
      confirmedOrders: 1,
    });
  });
});
