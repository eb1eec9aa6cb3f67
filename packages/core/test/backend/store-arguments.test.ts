import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCollection, checkListLimit, encodeDocument } from '@herald/core/backend';
import { isHeraldError } from '../../src/errors.ts';

void describe('store arguments', () => {
  void it('accepts collections of 1 to 128 letters, digits, ".", "_" and "-"', () => {
    checkCollection('orders');
    checkCollection('a.b_c-9');
    checkCollection('x'.repeat(128));
  });

  void it('refuses any other collection name with INVALID_ARGUMENT naming it', () => {
    for (const name of ['', 'x'.repeat(129), 'has space', 'slash/ed', 'ümlaut']) {
      assert.throws(
        () => checkCollection(name),
        (error) =>
          isHeraldError(error, 'INVALID_ARGUMENT') &&
          error.message === `collection "${name}" must be 1-128 of letters, digits, ".", "_", "-"`,
      );
    }
  });

  void it('encodes a document as its JSON text', () => {
    assert.equal(encodeDocument({ id: 'o-1', total: 3 }), '{"id":"o-1","total":3}');
    assert.equal(encodeDocument(null), 'null');
  });

  void it('refuses a document without a JSON form', () => {
    for (const value of [undefined, () => 1, Symbol('s')]) {
      assert.throws(
        () => encodeDocument(value),
        (error) =>
          isHeraldError(error, 'INVALID_ARGUMENT') &&
          error.message === 'a document must be JSON-serialisable',
      );
    }
  });

  void it('reads no limit as null and keeps a non-negative integer', () => {
    assert.equal(checkListLimit(undefined), null);
    assert.equal(checkListLimit(0), 0);
    assert.equal(checkListLimit(25), 25);
  });

  void it('refuses a negative or fractional limit', () => {
    for (const limit of [-1, 1.5, Number.NaN]) {
      assert.throws(
        () => checkListLimit(limit),
        (error) =>
          isHeraldError(error, 'INVALID_ARGUMENT') &&
          error.message === `limit must be a non-negative integer, got ${limit}`,
      );
    }
  });
});
