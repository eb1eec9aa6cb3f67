import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertValidEnvelope, attributesOf, eventFromAttributes } from '../src/envelope.ts';
import type { CloudEvent } from '../src/envelope.ts';
import { isHeraldError } from '../src/errors.ts';

const minimal: CloudEvent = {
  specversion: '1.0',
  id: 'evt-1',
  source: '/orders',
  type: 'dev.herald.orders.order-placed.v1',
};

const full: CloudEvent = {
  ...minimal,
  time: '2024-05-01T12:30:00.123Z',
  subject: 'orders/42',
  datacontenttype: 'application/json',
  dataschema: 'https://schemas.example.com/order-placed/v1.json',
  partitionkey: 'order-42',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'rojo=00f067aa0ba902b7',
  extensions: { tenant: 'acme', retries2: '0' },
  data: new Uint8Array([123, 125]),
};

/** An assert.throws validator: INVALID_ENVELOPE naming `attribute`. */
function invalidAttribute(attribute: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isHeraldError(error, 'INVALID_ENVELOPE'), `expected INVALID_ENVELOPE, got ${String(error)}`);
    assert.equal(error.details['attribute'], attribute);
    assert.match(error.message, new RegExp(attribute.replace(/[()]/g, '\\$&')));
    return true;
  };
}

const invalid = (event: object): CloudEvent => event as CloudEvent;

void describe('assertValidEnvelope', () => {
  void it('accepts a minimal event and one with every attribute set', () => {
    assertValidEnvelope(minimal);
    assertValidEnvelope(full);
    assertValidEnvelope({ ...minimal, data: new Uint8Array(0) });
  });

  void it('accepts RFC 3339 times with offsets, fractions and a lower-case separator', () => {
    for (const time of [
      '2024-05-01T12:30:00Z',
      '2024-05-01T12:30:00.123456789+02:00',
      '2024-05-01t12:30:00-05:30',
    ]) {
      assertValidEnvelope({ ...minimal, time });
    }
  });

  void it('refuses anything that is not an object', () => {
    for (const value of [null, undefined, 'event', 42]) {
      assert.throws(() => assertValidEnvelope(value as unknown as CloudEvent), invalidAttribute('(event)'));
    }
  });

  void it('requires specversion "1.0"', () => {
    assert.throws(
      () => assertValidEnvelope(invalid({ ...minimal, specversion: '0.3' })),
      invalidAttribute('specversion'),
    );
    const { specversion: _, ...without } = minimal;
    assert.throws(() => assertValidEnvelope(invalid(without)), invalidAttribute('specversion'));
  });

  void it('requires id, source and type as non-empty strings', () => {
    for (const name of ['id', 'source', 'type'] as const) {
      assert.throws(() => assertValidEnvelope(invalid({ ...minimal, [name]: '' })), invalidAttribute(name));
      assert.throws(() => assertValidEnvelope(invalid({ ...minimal, [name]: 7 })), invalidAttribute(name));
      const without: Record<string, unknown> = { ...minimal };
      delete without[name];
      assert.throws(() => assertValidEnvelope(invalid(without)), invalidAttribute(name));
    }
  });

  void it('requires optional attributes to be strings when present', () => {
    for (const name of [
      'time',
      'subject',
      'datacontenttype',
      'dataschema',
      'partitionkey',
      'traceparent',
      'tracestate',
    ]) {
      assert.throws(() => assertValidEnvelope(invalid({ ...minimal, [name]: 1 })), invalidAttribute(name));
    }
  });

  void it('refuses a time that is not RFC 3339', () => {
    for (const time of [
      'yesterday',
      '2024-05-01',
      '2024-05-01 12:30:00Z',
      '2024-05-01T12:30:00',
      '1714566600',
    ]) {
      assert.throws(() => assertValidEnvelope({ ...minimal, time }), invalidAttribute('time'), time);
    }
  });

  void it('refuses a traceparent that is not W3C trace context', () => {
    for (const traceparent of [
      '',
      'abc',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-4bf9-00f0-01',
    ]) {
      assert.throws(
        () => assertValidEnvelope({ ...minimal, traceparent }),
        invalidAttribute('traceparent'),
        traceparent,
      );
    }
  });

  void it('requires data to be bytes', () => {
    for (const data of ['{"a":1}', [1, 2], { a: 1 }, Buffer.from('x').buffer]) {
      assert.throws(() => assertValidEnvelope(invalid({ ...minimal, data })), invalidAttribute('data'));
    }
  });

  void it('accepts a Buffer as data, since a Buffer is a Uint8Array', () => {
    assertValidEnvelope({ ...minimal, data: Buffer.from('{}') });
  });

  void it('refuses extension names that are not lower-case alphanumeric up to 20 characters', () => {
    for (const name of ['Tenant', 'trace-id', 'trace_id', '', 'a'.repeat(21), 'ünï']) {
      assert.throws(
        () => assertValidEnvelope({ ...minimal, extensions: { [name]: 'x' } }),
        invalidAttribute(name),
        JSON.stringify(name),
      );
    }
    assertValidEnvelope({ ...minimal, extensions: { ['a'.repeat(20)]: 'x' } });
  });

  void it('refuses extensions that reuse a known attribute name', () => {
    for (const name of ['id', 'type', 'data', 'partitionkey', 'traceparent']) {
      assert.throws(
        () => assertValidEnvelope({ ...minimal, extensions: { [name]: 'x' } }),
        invalidAttribute(name),
      );
    }
  });

  void it('refuses extension values that are not strings', () => {
    assert.throws(
      () => assertValidEnvelope(invalid({ ...minimal, extensions: { priority: 7 } })),
      invalidAttribute('priority'),
    );
  });
});

void describe('attributesOf and eventFromAttributes', () => {
  void it('flattens attributes and extensions into one object without data', () => {
    assert.deepEqual(attributesOf(full), {
      specversion: '1.0',
      id: 'evt-1',
      source: '/orders',
      type: 'dev.herald.orders.order-placed.v1',
      time: '2024-05-01T12:30:00.123Z',
      subject: 'orders/42',
      datacontenttype: 'application/json',
      dataschema: 'https://schemas.example.com/order-placed/v1.json',
      partitionkey: 'order-42',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'rojo=00f067aa0ba902b7',
      tenant: 'acme',
      retries2: '0',
    });
    assert.deepEqual(attributesOf(minimal), {
      specversion: '1.0',
      id: 'evt-1',
      source: '/orders',
      type: 'dev.herald.orders.order-placed.v1',
    });
  });

  void it('rebuilds the same event from its attributes and data', () => {
    assert.deepEqual(eventFromAttributes(attributesOf(full), full.data), full);
    assert.deepEqual(eventFromAttributes(attributesOf(minimal)), minimal);
    const empty = { ...minimal, data: new Uint8Array(0) };
    assert.deepEqual(eventFromAttributes(attributesOf(empty), empty.data), empty);
  });

  void it('produces attributes that survive JSON and still validate', () => {
    const rebuilt = eventFromAttributes(
      JSON.parse(JSON.stringify(attributesOf(full))) as Record<string, string>,
      full.data,
    );
    assertValidEnvelope(rebuilt);
    assert.deepEqual(rebuilt, full);
  });

  void it('leaves extensions out of a rebuilt event that had none', () => {
    assert.equal('extensions' in eventFromAttributes(attributesOf(minimal)), false);
    assert.equal('data' in eventFromAttributes(attributesOf(minimal)), false);
  });
});
