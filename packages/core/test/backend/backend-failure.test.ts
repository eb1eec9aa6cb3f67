import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureWrapper, wrapBackendFailure } from '@herald/core/backend';
import { HeraldError, isHeraldError } from '../../src/errors.ts';

void describe('backend failure', () => {
  void it('passes a HeraldError through unchanged, without classifying it', () => {
    const original = new HeraldError('CONFLICT', 'already done');
    const wrapped = wrapBackendFailure(original, 'cannot commit', { group: 'g' }, () => {
      throw new Error('must not classify');
    });
    assert.equal(wrapped, original);
  });

  void it("names the failure's own message after the caller's and keeps it as cause", () => {
    const failure = new Error('connection refused');
    const wrapped = wrapBackendFailure(failure, 'cannot list topics', { topic: 't' }, () => ({
      code: 'BACKEND_UNAVAILABLE',
    }));
    assert.ok(isHeraldError(wrapped, 'BACKEND_UNAVAILABLE'));
    assert.equal(wrapped.message, 'cannot list topics: connection refused');
    assert.equal(wrapped.cause, failure);
    assert.deepEqual(wrapped.details, { topic: 't' });
  });

  void it("takes the backend's reason and adds its details to the caller's", () => {
    const wrapped = wrapBackendFailure('boom', 'append failed', { topic: 't' }, (error) => ({
      code: 'TOO_LARGE',
      reason: `broker said ${String(error)}`,
      details: { brokerError: 10 },
    }));
    assert.ok(isHeraldError(wrapped, 'TOO_LARGE'));
    assert.equal(wrapped.message, 'append failed: broker said boom');
    assert.deepEqual(wrapped.details, { topic: 't', brokerError: 10 });
  });

  void it('describes a failure that is not an Error by its text', () => {
    const wrapped = wrapBackendFailure(42, 'read failed', {}, () => ({ code: 'BACKEND_UNAVAILABLE' }));
    assert.equal(wrapped.message, 'read failed: 42');
  });

  void it("makes a backend's toHeraldError, whose details default to none", () => {
    const toHeraldError = failureWrapper(() => ({ code: 'TIMEOUT', details: { waitedMs: 5 } }));
    const wrapped = toHeraldError(new Error('no reply'), 'publish');
    assert.ok(isHeraldError(wrapped, 'TIMEOUT'));
    assert.equal(wrapped.message, 'publish: no reply');
    assert.deepEqual(wrapped.details, { waitedMs: 5 });
    assert.deepEqual(toHeraldError(new Error('x'), 'read', { topic: 't' }).details, {
      topic: 't',
      waitedMs: 5,
    });
  });
});
