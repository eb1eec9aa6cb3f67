// Literals for statements that share one simple-protocol query: what each value becomes, and
// what is refused before anything is sent. Round trips of the same values through a real
// Postgres are in postgres-store.int.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { inlineSql, sqlLiteral } from '../src/inline-sql.ts';

void describe('inlineSql', () => {
  void it('writes each $n as the literal of its value, $10 not read as $1 followed by 0', () => {
    const params = ['a', 2, null, true, 5, 6, 7, 8, 9, 'ten'];
    assert.equal(
      inlineSql('SELECT $1, $2, $3, $4 WHERE x = $10', params),
      "SELECT 'a', 2, NULL, TRUE WHERE x = 'ten'",
    );
  });

  void it('quotes strings so that quotes and backslashes read back as written', () => {
    assert.equal(sqlLiteral("it's"), "'it''s'");
    // A backslash makes it an E'' string, which reads the same whatever standard_conforming_strings says.
    assert.equal(sqlLiteral('a\\b'), " E'a\\\\b'");
    assert.equal(sqlLiteral('{"k":"v"}'), '\'{"k":"v"}\'');
  });

  void it('writes bytes as hex to decode, numbers and bigints as written', () => {
    assert.equal(sqlLiteral(Buffer.from([0, 255, 16])), "decode('00ff10', 'hex')");
    assert.equal(sqlLiteral(new Uint8Array([1, 2, 3]).subarray(1)), "decode('0203', 'hex')");
    assert.equal(sqlLiteral(-1.5), '-1.5');
    assert.equal(sqlLiteral(2n ** 70n), '1180591620717411303424');
  });

  void it('refuses U+0000, a number that is not finite, a value with no literal and a missing placeholder', () => {
    for (const value of ['a\u0000b', Number.NaN, Infinity, { a: 1 }, Symbol('s')]) {
      assert.throws(
        () => sqlLiteral(value),
        (error: unknown) => isHeraldError(error, 'INVALID_ARGUMENT'),
      );
    }
    assert.throws(
      () => inlineSql('SELECT $2', ['only one']),
      (error: unknown) => isHeraldError(error, 'INVALID_ARGUMENT'),
    );
  });
});
