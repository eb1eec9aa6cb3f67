import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeStructuredCloudEvent, isHeraldError } from '../src/index.ts';

const encoder = new TextEncoder();
const json = (body: unknown): Uint8Array => encoder.encode(JSON.stringify(body));
const text = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);
const base = { specversion: '1.0', id: 's-1', source: '/s', type: 'dev.herald.test.thing-done.v1' };
const decodeFailed = (error: unknown): boolean => isHeraldError(error, 'DECODE_FAILED');

void describe('decodeStructuredCloudEvent', () => {
  void it('reads the attributes, and other string members with extension names as extensions', () => {
    const event = decodeStructuredCloudEvent(
      json({ ...base, time: '2026-01-01T00:00:00Z', tenant: 'acme', 'not-an-extension': 'x' }),
    );
    assert.deepEqual(event, { ...base, time: '2026-01-01T00:00:00Z', extensions: { tenant: 'acme' } });
  });

  void it('takes data_base64 as bytes, text data as text, and any JSON data as its JSON text', () => {
    assert.deepEqual(
      [...decodeStructuredCloudEvent(json({ ...base, data_base64: 'AAH/' })).data!],
      [0, 1, 255],
    );
    const plain = decodeStructuredCloudEvent(json({ ...base, datacontenttype: 'text/plain', data: 'hello' }));
    assert.equal(text(plain.data), 'hello');
    const object = decodeStructuredCloudEvent(json({ ...base, data: { total: 12 } }));
    assert.equal(text(object.data), '{"total":12}');
    assert.equal(object.datacontenttype, 'application/json', 'JSON data without a content type is JSON');
    const jsonString = decodeStructuredCloudEvent(
      json({ ...base, datacontenttype: 'application/json', data: 'hello' }),
    );
    assert.equal(text(jsonString.data), '"hello"', 'a JSON string stays a JSON document');
  });

  void it('refuses with DECODE_FAILED what is not a valid JSON CloudEvent', () => {
    assert.throws(() => decodeStructuredCloudEvent(encoder.encode('{not json')), decodeFailed);
    assert.throws(() => decodeStructuredCloudEvent(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])), decodeFailed);
    assert.throws(() => decodeStructuredCloudEvent(json([base])), decodeFailed);
    assert.throws(() => decodeStructuredCloudEvent(json({ ...base, id: 42 })), decodeFailed);
    assert.throws(() => decodeStructuredCloudEvent(json({ ...base, specversion: '0.3' })), decodeFailed);
    assert.throws(() => decodeStructuredCloudEvent(json({ ...base, time: 'yesterday' })), decodeFailed);
  });
});
