import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import type { CloudEvent } from '@herald/core';
import { decodeCloudEvent, encodeCloudEvent } from '../src/cloud-event-binding.ts';
import type { KafkaRecordInput } from '../src/cloud-event-binding.ts';

const full: CloudEvent = {
  specversion: '1.0',
  id: 'order-42-placed',
  source: '/orders-service',
  type: 'dev.herald.orders.order-placed.v1',
  time: '2024-02-29T23:59:59.123456+01:00',
  subject: 'orders/42 ✓',
  datacontenttype: 'application/json',
  dataschema: 'https://schemas.example.com/order-placed/v1.json',
  partitionkey: 'order-∑',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'congo=t61rcWkgMzE',
  extensions: { tenant: 'acme', comment: 'line1\nline2' },
  data: new Uint8Array([0, 1, 2, 0xff, 0xfe]),
};

function headerText(headers: Map<Buffer, Buffer>): Record<string, string> {
  return Object.fromEntries(
    [...headers].map(([name, value]) => [name.toString('latin1'), value.toString('utf8')]),
  );
}

/** A record as the broker returns it: header pairs, bytes everywhere. */
function record(
  headers: Record<string, string>,
  value: string | Uint8Array | null,
  key: string | null = null,
): KafkaRecordInput {
  return {
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : typeof value === 'string' ? Buffer.from(value) : value,
    headers: Object.entries(headers).map(([name, text]) => [Buffer.from(name), Buffer.from(text)] as const),
  };
}

function decodeFails(input: KafkaRecordInput): void {
  assert.throws(
    () => decodeCloudEvent(input),
    (error: unknown) => isHeraldError(error, 'DECODE_FAILED'),
  );
}

void describe('CloudEvents Kafka binary binding', () => {
  void it('puts every attribute in a ce_ header, datacontenttype in content-type, the key and the data bytes', () => {
    const encoded = encodeCloudEvent(full);
    assert.deepEqual(headerText(encoded.headers), {
      ce_specversion: '1.0',
      ce_id: 'order-42-placed',
      ce_source: '/orders-service',
      ce_type: 'dev.herald.orders.order-placed.v1',
      ce_time: '2024-02-29T23:59:59.123456+01:00',
      ce_subject: 'orders/42 ✓',
      ce_dataschema: 'https://schemas.example.com/order-placed/v1.json',
      ce_partitionkey: 'order-∑',
      ce_traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      ce_tracestate: 'congo=t61rcWkgMzE',
      ce_tenant: 'acme',
      ce_comment: 'line1\nline2',
      'content-type': 'application/json',
    });
    assert.equal(encoded.key?.toString('utf8'), 'order-∑');
    assert.deepEqual([...encoded.value!], [0, 1, 2, 0xff, 0xfe]);
  });

  void it('writes only the attributes an event has: no key without a partition key, a null value without data', () => {
    const minimal: CloudEvent = { specversion: '1.0', id: '1', source: '/s', type: 't' };
    const encoded = encodeCloudEvent(minimal);
    assert.deepEqual(Object.keys(headerText(encoded.headers)).sort(), [
      'ce_id',
      'ce_source',
      'ce_specversion',
      'ce_type',
    ]);
    assert.equal(encoded.key, null);
    assert.equal(encoded.value, null);
    assert.deepEqual(encodeCloudEvent({ ...minimal, data: new Uint8Array(0) }).value, Buffer.alloc(0));
  });

  void it("copies the data, so later changes to the caller's bytes change nothing", () => {
    const data = new Uint8Array([1, 2, 3]);
    const encoded = encodeCloudEvent({ ...full, data });
    data.fill(9);
    assert.deepEqual([...encoded.value!], [1, 2, 3]);
  });

  void it('refuses an invalid event with INVALID_ENVELOPE', () => {
    assert.throws(
      () => encodeCloudEvent({ ...full, time: 'yesterday' }),
      (error: unknown) => isHeraldError(error, 'INVALID_ENVELOPE'),
    );
  });

  void it('decodes what it encodes: every attribute, extension and data byte', () => {
    const encoded = encodeCloudEvent(full);
    const decoded = decodeCloudEvent({
      key: encoded.key,
      value: encoded.value,
      headers: [...encoded.headers],
    });
    assert.deepEqual(decoded, full);
    assert.ok(!Buffer.isBuffer(decoded.data), 'data is its own Uint8Array, not a view of a network buffer');
  });

  void it('copies the data out of the record: changing the fetched bytes later changes no event', () => {
    const response = Buffer.from('....{"n":1}....{"n":2}....');
    const headers = { ce_specversion: '1.0', ce_id: '1', ce_source: '/s', ce_type: 't' };
    const first = decodeCloudEvent(record(headers, response.subarray(4, 11)));
    const second = decodeCloudEvent(record({ ...headers, ce_id: '2' }, response.subarray(15, 22)));
    const large = Buffer.alloc(64 * 1024, 7);
    const third = decodeCloudEvent(record({ ...headers, ce_id: '3' }, large));
    response.fill(0);
    large.fill(0);
    assert.equal(Buffer.from(first.data!).toString(), '{"n":1}');
    assert.equal(Buffer.from(second.data!).toString(), '{"n":2}');
    assert.deepEqual(third.data, new Uint8Array(64 * 1024).fill(7));
    assert.notEqual(first.data!.buffer, response.buffer, 'no event pins the fetch response');
  });

  void it('decodes each repeating attribute afresh when it changes, however values alternate', () => {
    const base = { ce_specversion: '1.0', ce_id: '1', ce_source: '/s' };
    // Same length and same beginning, differing in one byte; more distinct values than are kept.
    const types = Array.from(
      { length: 12 },
      (_, i) => `dev.herald.test.thing-${String.fromCharCode(97 + i)}.v1`,
    );
    for (const round of [0, 1, 2]) {
      for (let i = 0; i < types.length; i++) {
        const at = (i * (round + 1)) % types.length;
        const decoded = decodeCloudEvent(
          record({ ...base, ce_type: types[at]!, 'content-type': `text/plain; v=${at % 3}` }, 'x'),
        );
        assert.equal(decoded.type, types[at], `round ${round}, value ${i}`);
        assert.equal(decoded.datacontenttype, `text/plain; v=${at % 3}`);
      }
    }
    const notUtf8 = record(base, 'x');
    for (let i = 0; i < 2; i++) {
      decodeFails({
        ...notUtf8,
        headers: [...notUtf8.headers, [Buffer.from('ce_type'), Buffer.from([0xc3, 0x28])]],
      });
    }
  });

  void it('keeps empty data empty and missing data missing', () => {
    const headers = { ce_specversion: '1.0', ce_id: '1', ce_source: '/s', ce_type: 't' };
    assert.deepEqual(decodeCloudEvent(record(headers, new Uint8Array(0))).data, new Uint8Array(0));
    assert.equal('data' in decodeCloudEvent(record(headers, null)), false);
  });

  void it('takes the partition key from the record key when no ce_partitionkey header says otherwise', () => {
    const headers = { ce_specversion: '1.0', ce_id: '1', ce_source: '/s', ce_type: 't' };
    assert.equal(decodeCloudEvent(record(headers, 'x', 'customer-7')).partitionkey, 'customer-7');
    assert.equal(
      decodeCloudEvent(record({ ...headers, ce_partitionkey: 'from-header' }, 'x', 'key')).partitionkey,
      'from-header',
    );
    const binaryKey = { ...record(headers, 'x'), key: new Uint8Array([0xff, 0xfe]) };
    assert.equal(
      'partitionkey' in decodeCloudEvent(binaryKey),
      false,
      'a key that is not UTF-8 is no partition key',
    );
  });

  void it('matches header names case-insensitively and ignores headers that are not CloudEvents attributes', () => {
    const decoded = decodeCloudEvent(
      record(
        {
          CE_SPECVERSION: '1.0',
          Ce_Id: '1',
          ce_source: '/s',
          ce_type: 't',
          'Content-Type': 'text/plain',
          traceparent: 'not ours',
          'ce_bad-name': 'not an extension name',
          ce_tenant: 'acme',
        },
        'hello',
      ),
    );
    assert.deepEqual(decoded, {
      specversion: '1.0',
      id: '1',
      source: '/s',
      type: 't',
      datacontenttype: 'text/plain',
      extensions: { tenant: 'acme' },
      data: new Uint8Array(Buffer.from('hello')),
    });
  });

  void it('fails with DECODE_FAILED on records that are not valid CloudEvents', () => {
    const headers = { ce_specversion: '1.0', ce_id: '1', ce_source: '/s', ce_type: 't' };
    decodeFails(record({}, 'a plain Kafka record'));
    decodeFails(record({ ...headers, ce_id: '' }, null));
    decodeFails(record({ ...headers, ce_specversion: '0.3' }, null));
    decodeFails(record({ ...headers, ce_time: 'yesterday' }, null));
    decodeFails({ key: null, value: null, headers: [[Buffer.from('ce_id'), new Uint8Array([0xc3, 0x28])]] });
  });

  void it('reads structured mode too: a JSON CloudEvent with content-type application/cloudevents+json', () => {
    const json = (body: unknown): KafkaRecordInput =>
      record({ 'content-type': 'application/cloudevents+json; charset=utf-8' }, JSON.stringify(body));
    const base = { specversion: '1.0', id: 's-1', source: '/s', type: 't', tenant: 'acme' };
    assert.deepEqual(
      decodeCloudEvent(json({ ...base, datacontenttype: 'application/json', data: { a: 1 } })),
      {
        specversion: '1.0',
        id: 's-1',
        source: '/s',
        type: 't',
        datacontenttype: 'application/json',
        extensions: { tenant: 'acme' },
        data: new Uint8Array(Buffer.from('{"a":1}')),
      },
    );
    assert.deepEqual(
      decodeCloudEvent(json({ ...base, data_base64: 'AAH/' })).data,
      new Uint8Array([0, 1, 255]),
    );
    decodeFails(record({ 'content-type': 'application/cloudevents+json' }, '{not json'));
    decodeFails(json({ ...base, id: 42 }));
  });
});
