import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AuthorizationRequest,
  DECLINE_TOKEN,
  DEFAULT_GATEWAY_RULES,
  type GatewayEntry,
  applyGatewayOperation,
  decideAuthorization,
} from '../src/payment.ts';

const request = (overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest => ({
  orderId: 'o-1',
  amount: 1000,
  currency: 'EUR',
  token: 'tok_visa',
  ...overrides,
});
const rules = DEFAULT_GATEWAY_RULES;

describe('the simulated payment gateway', () => {
  it('always declines tok_decline and approves an ordinary card', () => {
    assert.deepEqual(decideAuthorization(request({ token: DECLINE_TOKEN }), rules), {
      approved: false,
      reason: 'card-declined',
      detail: 'the card issuer declined the payment',
    });
    assert.deepEqual(decideAuthorization(request(), rules), { approved: true });
    assert.equal(
      (decideAuthorization(request({ amount: rules.maxAmount + 1 }), rules) as { reason: string }).reason,
      'amount-exceeds-limit',
    );
  });

  it('authorizes once per order id: a repeated request gets the first answer and charges nothing more', () => {
    const first = applyGatewayOperation(undefined, { kind: 'authorize', request: request() }, rules);
    assert.equal(first.response.status, 'authorized');
    // The repeat even asks for another amount: the gateway answers what it decided the first time.
    const again = applyGatewayOperation(
      first.entry,
      { kind: 'authorize', request: request({ amount: 99 }) },
      rules,
    );
    assert.deepEqual(again.response, first.response);
    assert.equal(again.entry?.amount, 1000);
    assert.equal(again.entry?.requests, 2);
  });

  it('captures or voids an authorization once, and never both', () => {
    const authorized = applyGatewayOperation(
      undefined,
      { kind: 'authorize', request: request() },
      rules,
    ).entry;
    const captured = applyGatewayOperation(authorized, { kind: 'capture', orderId: 'o-1' }, rules);
    assert.equal(captured.response.status, 'captured');
    assert.equal(
      applyGatewayOperation(captured.entry, { kind: 'capture', orderId: 'o-1' }, rules).response.status,
      'captured',
    );
    assert.equal(
      applyGatewayOperation(captured.entry, { kind: 'void', orderId: 'o-1' }, rules).response.status,
      'refused',
    );
    const voided = applyGatewayOperation(authorized, { kind: 'void', orderId: 'o-1' }, rules);
    assert.equal((voided.entry as GatewayEntry).voided, true);
    assert.equal(
      applyGatewayOperation(voided.entry, { kind: 'capture', orderId: 'o-1' }, rules).response.status,
      'refused',
    );
  });

  it('refuses to capture or void an order it never authorized', () => {
    const declined = applyGatewayOperation(
      undefined,
      { kind: 'authorize', request: request({ token: DECLINE_TOKEN }) },
      rules,
    );
    assert.equal(
      applyGatewayOperation(declined.entry, { kind: 'void', orderId: 'o-1' }, rules).response.status,
      'refused',
    );
    assert.equal(
      applyGatewayOperation(undefined, { kind: 'capture', orderId: 'o-1' }, rules).response.status,
      'refused',
    );
  });
});
