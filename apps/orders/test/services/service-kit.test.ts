import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeraldError, PermanentFailure } from '@herald/core';
import { isRetryable } from '../../src/services/service-kit.ts';

describe('isRetryable', () => {
  it('retries a store transaction that lost to concurrent writers (contention, not poison)', () => {
    const contention = new HeraldError('CONFLICT', 'a store transaction failed 10 times', {
      details: { attempts: 10 },
    });
    assert.equal(isRetryable(contention), true);
  });

  it('keeps an event id reused with another payload permanent', () => {
    const reused = new HeraldError('CONFLICT', 'handled before with a different payload', {
      details: { eventId: 'e1', group: 'g' },
    });
    assert.equal(isRetryable(reused), false);
    assert.equal(isRetryable(new HeraldError('VALIDATION_FAILED', 'bad data')), false);
    assert.equal(isRetryable(new PermanentFailure('no')), false);
  });

  it('retries what retry() retries by default', () => {
    assert.equal(isRetryable(new HeraldError('BACKEND_UNAVAILABLE', 'down')), true);
    assert.equal(isRetryable(new Error('boom')), true);
  });
});
