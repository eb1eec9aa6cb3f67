import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attributesOf, isHeraldError } from '@herald/core';
import type { CloudEvent } from '@herald/core';
import { headers as createHeaders } from '@nats-io/transport-node';
import type { MsgHdrs } from '@nats-io/transport-node';
import {
  decodeCloudEvent,
  decodeHeaderValue,
  encodeCloudEvent,
  encodeHeaderValue,
} from '../src/cloud-event-headers.ts';

const encoder = new TextEncoder();

const full: CloudEvent = {
  specversion: '1.0',
  id: 'order-42 "first" 100%',
  source: 'urn:herald:tests/ünïcødé',
  type: 'dev.herald.orders.order-placed.v1',
  time: '2024-02-29T23:59:59.123456+01:00',
  subject: '  leading and trailing spaces  ',
  datacontenttype: 'application/json; charset=utf-8',
  dataschema: 'https://schemas.example.com/order/v1.json',
  partitionkey: 'key-∑',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'congo=t61rcWkgMzE',
  extensions: { tenant: 'acme', comment: 'line1\r\nline2 — ✓', empty: '' },
  data: encoder.encode('{"total":12}'),
};

function headerMap(headers: MsgHdrs): Map<string, string> {
  return new Map([...headers].map(([name, values]) => [name, values[0]!]));
}

/** What a subscriber receives: the header block as NATS writes it, parsed back. */
function overTheWire(headers: MsgHdrs): MsgHdrs {
  const text = (headers as unknown as { toString(): string }).toString();
  const parsed = createHeaders();
  for (const line of text.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) parsed.append(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return parsed;
}

function decodeFailed(error: unknown): boolean {
  assert.ok(isHeraldError(error, 'DECODE_FAILED'), String(error));
  return true;
}

describe('CloudEvents in NATS headers', () => {
  it('puts each attribute in a ce- header, datacontenttype in content-type and the data as the payload', () => {
    const { headers, data } = encodeCloudEvent(full);
    const map = headerMap(headers);
    assert.equal(map.get('ce-specversion'), '1.0');
    assert.equal(map.get('ce-type'), 'dev.herald.orders.order-placed.v1');
    assert.equal(map.get('ce-tenant'), 'acme');
    assert.equal(map.get('content-type'), 'application/json;%20charset=utf-8');
    assert.equal(map.has('ce-datacontenttype'), false);
    assert.deepEqual([...data], [...full.data!]);
  });

  it('percent-encodes what a header value cannot hold, as the CloudEvents HTTP binding does', () => {
    assert.equal(encodeHeaderValue('plain/ASCII-value_1'), 'plain/ASCII-value_1');
    assert.equal(encodeHeaderValue('a b"c%d'), 'a%20b%22c%25d');
    assert.equal(encodeHeaderValue('line1\nline2 ✓'), 'line1%0Aline2%20%E2%9C%93');
    for (const value of [full.id, full.source, full.subject!, 'line1\r\nline2 — ✓', '', ' ', '%zz']) {
      assert.match(encodeHeaderValue(value), /^[\x21-\x7e]*$/);
      assert.equal(decodeHeaderValue(encodeHeaderValue(value)), value);
    }
  });

  it('round-trips every attribute and every data byte through the wire format', () => {
    const decoded = decodeCloudEvent(overTheWire(encodeCloudEvent(full).headers), full.data!);
    assert.deepEqual(attributesOf(decoded), attributesOf(full));
    assert.deepEqual(decoded.extensions, full.extensions);
    assert.deepEqual([...decoded.data!], [...full.data!]);
  });

  it('tells an event without data from one with empty data', () => {
    const none: CloudEvent = { specversion: '1.0', id: '1', source: '/s', type: 't' };
    const empty: CloudEvent = { ...none, data: new Uint8Array(0) };
    const encodedNone = encodeCloudEvent(none);
    const encodedEmpty = encodeCloudEvent(empty);
    assert.equal(decodeCloudEvent(overTheWire(encodedNone.headers), encodedNone.data).data, undefined);
    assert.deepEqual(
      decodeCloudEvent(overTheWire(encodedEmpty.headers), encodedEmpty.data).data,
      new Uint8Array(0),
    );
  });

  it('sets Nats-Msg-Id from source and id, so only a retry of the same event is dropped as a duplicate', () => {
    const a = encodeCloudEvent({ ...full, source: '/a', id: '1' }).msgId;
    assert.equal(a, '/a 1');
    assert.notEqual(encodeCloudEvent({ ...full, source: '/b', id: '1' }).msgId, a);
    assert.notEqual(
      encodeCloudEvent({ ...full, source: '/a 1', id: '2' }).msgId,
      encodeCloudEvent({ ...full, source: '/a', id: '1 2' }).msgId,
    );
    assert.equal(headerMap(encodeCloudEvent(full).headers).get('Nats-Msg-Id'), encodeCloudEvent(full).msgId);
  });

  it('gives a redriven event a Nats-Msg-Id of its own per redrive, so the server stores it within the duplicate window', () => {
    const original = { ...full, source: '/a', id: '1', extensions: { tenant: 'acme' } };
    const first = encodeCloudEvent({
      ...original,
      extensions: { ...original.extensions, dlredrive: '1' },
    }).msgId;
    const second = encodeCloudEvent({
      ...original,
      extensions: { ...original.extensions, dlredrive: '2' },
    }).msgId;
    assert.notEqual(first, encodeCloudEvent(original).msgId);
    assert.notEqual(second, first);
    assert.equal(
      encodeCloudEvent({ ...original, extensions: { ...original.extensions, dlredrive: '1' } }).msgId,
      first,
      'a retried publish of the same redrive keeps its key',
    );
  });

  it('counts the bytes NATS sends: the header block plus the data', () => {
    const parts = encodeCloudEvent(full);
    const block = (parts.headers as unknown as { encode(): Uint8Array }).encode();
    assert.equal(parts.bytes, block.byteLength + full.data!.byteLength);
  });

  it("copies the data, so later changes to the caller's buffer change nothing", () => {
    const data = encoder.encode('original');
    const parts = encodeCloudEvent({ ...full, data });
    data.fill(0x21);
    assert.equal(new TextDecoder().decode(parts.data), 'original');
  });

  it('refuses an invalid envelope and strings that are not well-formed Unicode with INVALID_ENVELOPE', () => {
    for (const event of [
      { ...full, id: '' },
      { ...full, subject: 'lone \uD800 surrogate' },
      { ...full, extensions: { bad: 'x\uDFFFy' } },
    ]) {
      assert.throws(
        () => encodeCloudEvent(event),
        (error) => isHeraldError(error, 'INVALID_ENVELOPE'),
      );
    }
  });

  it('reads other producers leniently: any header case, raw UTF-8, a stray %, and ignores foreign headers', () => {
    const headers = createHeaders();
    headers.append('CE-SpecVersion', '1.0');
    headers.append('Ce-Id', '100%');
    headers.append('ce-source', '/ünï');
    headers.append('ce-type', 't');
    headers.append('ce-Not_An-Extension', 'ignored');
    headers.append('Nats-Msg-Id', 'whatever');
    headers.append('X-Other', 'ignored');
    const event = decodeCloudEvent(headers, encoder.encode('x'));
    assert.deepEqual(attributesOf(event), { specversion: '1.0', id: '100%', source: '/ünï', type: 't' });
    assert.equal(event.extensions, undefined);
  });

  it('reads a structured-mode event (JSON payload), the only mode of the CloudEvents NATS binding 1.0.2', () => {
    const payload = encoder.encode(
      JSON.stringify({
        specversion: '1.0',
        id: 's-1',
        source: '/legacy',
        type: 'dev.herald.legacy.thing-done.v1',
        tenant: 'acme',
        data: { total: 12 },
      }),
    );
    const event = decodeCloudEvent(undefined, payload);
    assert.equal(event.id, 's-1');
    assert.equal(event.datacontenttype, 'application/json');
    assert.deepEqual(event.extensions, { tenant: 'acme' });
    assert.equal(new TextDecoder().decode(event.data), '{"total":12}');
    const binary = decodeCloudEvent(
      undefined,
      encoder.encode(
        JSON.stringify({ specversion: '1.0', id: '2', source: '/s', type: 't', data_base64: 'AAEC' }),
      ),
    );
    assert.deepEqual([...binary.data!], [0, 1, 2]);
  });

  it('refuses with DECODE_FAILED what is not a CloudEvent', () => {
    const missing = createHeaders();
    missing.append('ce-specversion', '1.0');
    missing.append('ce-id', '1');
    assert.throws(() => decodeCloudEvent(missing, new Uint8Array(0)), decodeFailed);
    const notUtf8 = createHeaders();
    for (const [name, value] of [
      ['ce-specversion', '1.0'],
      ['ce-id', '%FF%FE'],
      ['ce-source', '/s'],
      ['ce-type', 't'],
    ] as const) {
      notUtf8.append(name, value);
    }
    assert.throws(() => decodeCloudEvent(notUtf8, new Uint8Array(0)), decodeFailed);
    assert.throws(() => decodeCloudEvent(undefined, encoder.encode('plain text')), decodeFailed);
    const foreign = createHeaders();
    foreign.append('content-type', 'text/plain');
    assert.throws(() => decodeCloudEvent(foreign, encoder.encode('hello')), decodeFailed);
  });
});
