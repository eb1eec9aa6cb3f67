import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CustomerHistory,
  DEFAULT_FRAUD_RULES,
  type FraudInput,
  assessFraud,
  explainFailure,
} from '../src/fraud.ts';

const input = (overrides: Partial<FraudInput> = {}): FraudInput => ({
  orderId: 'o-1',
  customerId: 'ada',
  total: 10_000,
  currency: 'EUR',
  shippingCountry: 'DE',
  placedAt: '2026-01-01T10:00:00.000Z',
  ...overrides,
});
const empty: CustomerHistory = { orders: [] };
const rules = DEFAULT_FRAUD_RULES;

describe('fraud rules', () => {
  it('passes an ordinary order and explains every rule', () => {
    const assessment = assessFraud(input(), empty, rules);
    assert.equal(assessment.passed, true);
    assert.deepEqual(
      assessment.rules.map((r) => [r.rule, r.passed]),
      [
        ['order-total', true],
        ['order-velocity', true],
        ['blocked-country', true],
      ],
    );
    assert.match(assessment.rules[0]!.explanation, /100\.00 EUR is within the limit of 5000\.00 EUR/);
  });

  it('fails a total above the limit and a blocked country, saying why', () => {
    const assessment = assessFraud(input({ total: 500_001, shippingCountry: 'KP' }), empty, rules);
    assert.equal(assessment.passed, false);
    assert.equal(
      explainFailure(assessment.rules),
      'order-total: total 5000.01 EUR is above the limit of 5000.00 EUR; blocked-country: the shop does not ship to KP',
    );
  });

  it('fails the sixth order of one customer within a minute, counting by order time', () => {
    let history = empty;
    const at = (s: number) => new Date(Date.parse('2026-01-01T10:00:00.000Z') + s * 1000).toISOString();
    for (let i = 0; i < 5; i++) {
      const a = assessFraud(input({ orderId: `o-${i}`, placedAt: at(i * 10) }), history, rules);
      assert.equal(a.passed, true, `order ${i}`);
      history = a.history;
    }
    const sixth = assessFraud(input({ orderId: 'o-5', placedAt: at(45) }), history, rules);
    assert.equal(sixth.passed, false);
    assert.match(explainFailure(sixth.rules), /6 orders by ada within a minute/);
    // A minute after the first, it counts again from fewer.
    assert.equal(assessFraud(input({ orderId: 'o-6', placedAt: at(75) }), history, rules).passed, true);
  });

  it('counts an order assessed twice once', () => {
    const once = assessFraud(input(), empty, rules);
    const twice = assessFraud(input(), once.history, rules);
    assert.equal(twice.history.orders.length, 1);
    assert.match(twice.rules[1]!.explanation, /^1 order/);
  });
});
