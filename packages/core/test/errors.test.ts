import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HERALD_ERROR_CODES, HeraldError, isHeraldError } from '../src/errors.ts';
import type { HeraldErrorCode } from '../src/errors.ts';

void describe('HeraldError', () => {
  void it('carries a code, a message for people and machine-readable details', () => {
    const error = new HeraldError('UNKNOWN_TOPIC', 'topic "orders" does not exist', {
      details: { topic: 'orders' },
    });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'HeraldError');
    assert.equal(error.code, 'UNKNOWN_TOPIC');
    assert.equal(error.message, 'topic "orders" does not exist');
    assert.deepEqual(error.details, { topic: 'orders' });
    assert.match(String(error.stack), /HeraldError/);
  });

  void it('keeps the underlying failure as its cause', () => {
    const cause = new Error('disk full');
    const error = new HeraldError('BACKEND_UNAVAILABLE', 'append failed', { cause });
    assert.equal(error.cause, cause);
  });

  void it('has empty details and no cause when none are given', () => {
    const error = new HeraldError('CLOSED', 'the log is closed');
    assert.deepEqual(error.details, {});
    assert.equal('cause' in error, false);
  });
});

void describe('isHeraldError', () => {
  void it('recognises a HeraldError, and its code when one is asked for', () => {
    const error = new HeraldError('FENCED', 'no longer the owner');
    assert.equal(isHeraldError(error), true);
    assert.equal(isHeraldError(error, 'FENCED'), true);
    assert.equal(isHeraldError(error, 'CLOSED'), false);
  });

  void it('refuses anything else, even an error that looks like one', () => {
    const lookalike = Object.assign(new Error('x'), { name: 'HeraldError', code: 'FENCED' });
    for (const value of [lookalike, new TypeError('x'), 'FENCED', { code: 'FENCED' }, null, undefined]) {
      assert.equal(isHeraldError(value), false);
      assert.equal(isHeraldError(value, 'FENCED'), false);
    }
  });
});

void describe('HERALD_ERROR_CODES', () => {
  const codes = Object.keys(HERALD_ERROR_CODES) as HeraldErrorCode[];
  const where = (fact: 'retryable' | 'permanent'): HeraldErrorCode[] =>
    codes.filter((code) => HERALD_ERROR_CODES[code][fact]).sort();

  void it("calls retryable the failures of a backend's state, which the same call can outlive", () => {
    assert.deepEqual(where('retryable'), [
      'BACKEND_UNAVAILABLE',
      'CLOSED',
      'CONTENTION',
      'CORRUPT_LOG',
      'TIMEOUT',
    ]);
  });

  void it('calls permanent the failures of the event itself, which no attempt can outlive', () => {
    assert.deepEqual(where('permanent'), ['CONFLICT', 'DECODE_FAILED', 'VALIDATION_FAILED']);
  });

  void it('never calls a code both retryable and permanent', () => {
    assert.deepEqual(
      codes.filter((code) => HERALD_ERROR_CODES[code].retryable && HERALD_ERROR_CODES[code].permanent),
      [],
    );
  });

  void it('answers on the error itself from its code', () => {
    for (const code of codes) {
      const error = new HeraldError(code, 'x');
      assert.equal(error.retryable, HERALD_ERROR_CODES[code].retryable, code);
      assert.equal(error.permanent, HERALD_ERROR_CODES[code].permanent, code);
    }
    assert.equal(new HeraldError('CONTENTION', 'lost a race').retryable, true);
    assert.equal(new HeraldError('UNKNOWN_TOPIC', 'no orders').retryable, false);
  });
});
