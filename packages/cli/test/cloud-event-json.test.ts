import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredEvent } from '@herald/core';
import { isJsonContentType, toCloudEventJson } from '../src/cloud-event-json.ts';

const encoder = new TextEncoder();

function stored(overrides: Partial<StoredEvent>): StoredEvent {
  return {
    specversion: '1.0',
    id: 'e-1',
    source: '/test',
    type: 'dev.herald.test.thing-happened.v1',
    topic: 'things',
    partition: 3,
    offset: 41,
    timestamp: 1_700_000_000_000,
    ...overrides,
  };
}

describe('toCloudEventJson', () => {
  it('puts every attribute and extension under its own name, with the position in the log', () => {
    const json = toCloudEventJson(
      stored({
        time: '2025-01-31T12:00:00Z',
        subject: 'order-7',
        dataschema: 'https://example.com/schema',
        partitionkey: 'order-7',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'vendor=1',
        extensions: { tenant: 'acme' },
      }),
    );
    assert.deepEqual(json, {
      specversion: '1.0',
      id: 'e-1',
      source: '/test',
      type: 'dev.herald.test.thing-happened.v1',
      time: '2025-01-31T12:00:00Z',
      subject: 'order-7',
      dataschema: 'https://example.com/schema',
      partitionkey: 'order-7',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=1',
      tenant: 'acme',
      topic: 'things',
      partition: 3,
      offset: 41,
    });
  });

  it('decodes JSON data into a JSON value', () => {
    const json = toCloudEventJson(
      stored({ datacontenttype: 'application/json; charset=utf-8', data: encoder.encode('{"total": 12}') }),
    );
    assert.deepEqual(json['data'], { total: 12 });
    assert.equal('data_base64' in json, false);
  });

  it('keeps data that is not JSON as base64 of the exact bytes', () => {
    const bytes = new Uint8Array([0, 255, 1, 2]);
    const json = toCloudEventJson(stored({ datacontenttype: 'application/octet-stream', data: bytes }));
    assert.equal(json['data_base64'], 'AP8BAg==');
    assert.equal('data' in json, false);
  });

  it('falls back to base64 when data labelled JSON does not parse', () => {
    const json = toCloudEventJson(
      stored({ datacontenttype: 'application/json', data: encoder.encode('{oops') }),
    );
    assert.equal(json['data_base64'], Buffer.from('{oops').toString('base64'));
  });

  it('encodes the bytes of a view into a larger buffer, not the whole buffer', () => {
    const backing = encoder.encode('xxhelloyy');
    const json = toCloudEventJson(stored({ datacontenttype: 'text/plain', data: backing.subarray(2, 7) }));
    assert.equal(json['data_base64'], Buffer.from('hello').toString('base64'));
  });

  it('omits data entirely for an event without data', () => {
    const json = toCloudEventJson(stored({}));
    assert.equal('data' in json || 'data_base64' in json, false);
  });

  it('lets the log position win over extensions of the same name', () => {
    const json = toCloudEventJson(stored({ extensions: { partition: 'x', offset: 'y', topic: 'z' } }));
    assert.deepEqual([json['topic'], json['partition'], json['offset']], ['things', 3, 41]);
  });
});

describe('isJsonContentType', () => {
  it('recognises JSON media types with or without parameters', () => {
    for (const type of [
      'application/json',
      'Application/JSON',
      'application/json;charset=utf-8',
      'text/json',
      'application/cloudevents+json',
    ]) {
      assert.equal(isJsonContentType(type), true, type);
    }
  });

  it('rejects other media types and a missing one', () => {
    for (const type of ['text/plain', 'application/jsonx', 'application/octet-stream', undefined]) {
      assert.equal(isJsonContentType(type), false, String(type));
    }
  });
});
