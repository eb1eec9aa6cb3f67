import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import { assertRecordSize, recordBytes } from '@herald/core/backend';
import { isHeraldError } from '../../src/errors.ts';
import { attributesOf } from '../../src/envelope.ts';

void describe('record size', () => {
  void it('counts the UTF-8 bytes of attribute names and values plus the data', () => {
    const event = makeEvent(1, 'käse', { data: new Uint8Array(10) });
    let expected = 10;
    for (const [name, value] of Object.entries(attributesOf(event))) {
      expected += new TextEncoder().encode(name).length + new TextEncoder().encode(value).length;
    }
    assert.equal(recordBytes(event), expected);
    assert.ok(recordBytes(event) > recordBytes(makeEvent(1, 'kase', { data: new Uint8Array(10) })));
  });

  void it('accepts a record of exactly the limit', () => {
    assertRecordSize({ id: 'e-1' }, 100, 100, 'memory');
  });

  void it('refuses a larger record with TOO_LARGE, naming the backend, the setting and the sizes', () => {
    assert.throws(
      () => assertRecordSize({ id: 'e-1' }, 101, 100, 'NATS', 'max_payload'),
      (error) => {
        assert.ok(isHeraldError(error, 'TOO_LARGE'));
        assert.equal(error.message, 'event e-1 is 101 bytes; the NATS log accepts at most 100 (max_payload)');
        assert.deepEqual(error.details, { id: 'e-1', bytes: 101, maxRecordBytes: 100 });
        return true;
      },
    );
    assert.throws(() => assertRecordSize({ id: 'e-2' }, 2, 1, 'SQLite'), /the SQLite log accepts at most 1$/);
  });
});
