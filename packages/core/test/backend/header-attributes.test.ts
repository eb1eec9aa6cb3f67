import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEADER_ATTRIBUTES, isStructuredContentType, strictUtf8 } from '@herald/core/backend';
import { KNOWN_ATTRIBUTES, OPTIONAL_ATTRIBUTES } from '../../src/envelope.ts';

void describe('binary-mode header attributes', () => {
  void it('are the required attributes, then the optional ones except datacontenttype, in writing order', () => {
    const expected = 'specversion id source type time subject dataschema partitionkey traceparent tracestate';
    assert.deepEqual(HEADER_ATTRIBUTES, expected.split(' '));
    for (const name of HEADER_ATTRIBUTES) assert.ok(KNOWN_ATTRIBUTES.has(name), name);
    assert.ok(OPTIONAL_ATTRIBUTES.includes('datacontenttype'));
  });

  void it('recognise the structured-mode content type with any parameters and in any case', () => {
    assert.ok(isStructuredContentType('application/cloudevents+json'));
    assert.ok(isStructuredContentType('Application/CloudEvents+JSON; charset=utf-8'));
    assert.ok(!isStructuredContentType('application/json'));
    assert.ok(!isStructuredContentType('application/cloudevents+json-seq'));
    assert.ok(!isStructuredContentType(''));
  });

  void it('read header text as strict UTF-8, refusing malformed bytes', () => {
    assert.equal(strictUtf8.decode(new Uint8Array([0x6b, 0xc3, 0xa4, 0x73, 0x65])), 'käse');
    assert.throws(() => strictUtf8.decode(new Uint8Array([0xff, 0xfe])), TypeError);
  });
});
