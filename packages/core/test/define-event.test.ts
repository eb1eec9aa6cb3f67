import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineEvent } from '../src/define-event.ts';
import { assertValidEnvelope } from '../src/envelope.ts';
import { HeraldError, isHeraldError } from '../src/errors.ts';
import type { HeraldErrorCode } from '../src/errors.ts';

const OrderPlaced = defineEvent({
  type: 'dev.herald.orders.order-placed.v1',
  schema: z.object({
    orderId: z.string().min(1),
    total: z.number().int().nonnegative(),
    note: z.string().optional(),
  }),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function heraldError(code: HeraldErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isHeraldError(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  };
}

void describe('defineEvent', () => {
  void it('accepts reverse-DNS, versioned types and refuses others with INVALID_ARGUMENT', () => {
    for (const type of ['dev.herald.orders.order-placed.v1', 'com.example.thing-happened.v12', 'a.b.v1']) {
      assert.equal(defineEvent({ type, schema: z.unknown() }).type, type);
    }
    for (const type of [
      '',
      'OrderPlaced',
      'dev.herald.orders.order-placed',
      'dev.herald.orders.order-placed.v0',
      'dev.herald.orders.order-placed.V1',
      'Dev.herald.orders.order-placed.v1',
      'dev.herald.orders.order placed.v1',
      'v1',
    ]) {
      assert.throws(() => defineEvent({ type, schema: z.unknown() }), heraldError('INVALID_ARGUMENT'), type);
    }
  });

  void it('creates a valid CloudEvent with JSON data, a fresh id and the current time', () => {
    const before = Date.now();
    const event = OrderPlaced.create({ orderId: 'o-1', total: 1200 }, { source: '/orders' });
    assertValidEnvelope(event);
    assert.equal(event.specversion, '1.0');
    assert.equal(event.type, 'dev.herald.orders.order-placed.v1');
    assert.equal(event.source, '/orders');
    assert.equal(event.datacontenttype, 'application/json');
    assert.match(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const time = Date.parse(event.time!);
    assert.ok(time >= before && time <= Date.now());
    assert.deepEqual(JSON.parse(decoder.decode(event.data)), { orderId: 'o-1', total: 1200 });
    assert.notEqual(OrderPlaced.create({ orderId: 'o-1', total: 1 }, { source: '/orders' }).id, event.id);
    for (const absent of [
      'partitionkey',
      'subject',
      'traceparent',
      'tracestate',
      'extensions',
      'dataschema',
    ]) {
      assert.equal(absent in event, false, `${absent} is left out`);
    }
  });

  void it('sets the key, subject, id, time, trace context and extensions it is given', () => {
    const event = OrderPlaced.create(
      { orderId: 'o-2', total: 5 },
      {
        source: '/orders',
        key: 'o-2',
        subject: 'orders/o-2',
        id: 'order-o-2-placed',
        time: new Date('2024-05-01T12:00:00Z'),
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'rojo=1',
        extensions: { tenant: 'acme' },
      },
    );
    assertValidEnvelope(event);
    assert.equal(event.partitionkey, 'o-2');
    assert.equal(event.subject, 'orders/o-2');
    assert.equal(event.id, 'order-o-2-placed');
    assert.equal(event.time, '2024-05-01T12:00:00.000Z');
    assert.equal(event.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    assert.equal(event.tracestate, 'rojo=1');
    assert.deepEqual(event.extensions, { tenant: 'acme' });
  });

  void it('refuses to create an event whose data breaks the schema, naming each issue', () => {
    assert.throws(
      () => OrderPlaced.create({ orderId: '', total: -1 }, { source: '/orders' }),
      (error: unknown) => {
        assert.ok(isHeraldError(error, 'VALIDATION_FAILED'));
        assert.equal(error.details['type'], 'dev.herald.orders.order-placed.v1');
        const issues = error.details['issues'] as { path: string; message: string }[];
        assert.deepEqual(issues.map((i) => i.path).sort(), ['orderId', 'total']);
        assert.match(error.message, /orderId: /);
        assert.match(error.message, /total: /);
        return true;
      },
    );
  });

  void it('joins nested issue paths with dots', () => {
    const Nested = defineEvent({
      type: 'dev.herald.test.nested.v1',
      schema: z.object({ lines: z.array(z.object({ sku: z.string() })) }),
    });
    assert.throws(
      () => Nested.parse({ lines: [{ sku: 'a' }, { sku: 3 }] }),
      (error: unknown) => {
        assert.ok(isHeraldError(error, 'VALIDATION_FAILED'));
        assert.deepEqual(
          (error.details['issues'] as { path: string }[]).map((i) => i.path),
          ['lines.1.sku'],
        );
        return true;
      },
    );
  });

  void it("returns the schema's output, so transforms and defaults apply", () => {
    const Shipped = defineEvent({
      type: 'dev.herald.shipping.order-shipped.v1',
      schema: z.object({ orderId: z.string().trim(), carrier: z.string().default('post') }),
    });
    assert.deepEqual(Shipped.parse({ orderId: '  o-3 ' }), { orderId: 'o-3', carrier: 'post' });
    const event = Shipped.create({ orderId: ' o-3', carrier: 'post' }, { source: '/shipping' });
    assert.deepEqual(JSON.parse(decoder.decode(event.data)), { orderId: 'o-3', carrier: 'post' });
  });

  void it('encodes as UTF-8 JSON and decodes back to the same data', () => {
    const data = { orderId: 'ö-4 ✓', total: 0, note: '"quoted"' };
    const bytes = OrderPlaced.encode(data);
    assert.equal(decoder.decode(bytes), JSON.stringify(data));
    assert.deepEqual(OrderPlaced.decode(bytes), data);
  });

  void it('refuses to decode bytes that are not UTF-8 JSON with DECODE_FAILED', () => {
    for (const bytes of [
      new Uint8Array([0xff, 0xfe, 0x7b]),
      encoder.encode('{"orderId":'),
      new Uint8Array(0),
    ]) {
      assert.throws(
        () => OrderPlaced.decode(bytes),
        (error: unknown) => {
          assert.ok(isHeraldError(error, 'DECODE_FAILED'));
          assert.equal(error.details['type'], 'dev.herald.orders.order-placed.v1');
          assert.ok(error.cause instanceof Error);
          return true;
        },
      );
    }
  });

  void it('refuses decoded data that breaks the schema with VALIDATION_FAILED', () => {
    assert.throws(
      () => OrderPlaced.decode(encoder.encode('{"orderId":"o-5","total":"12"}')),
      heraldError('VALIDATION_FAILED'),
    );
  });

  void it('validates missing data against the schema', () => {
    assert.throws(() => OrderPlaced.decode(undefined), heraldError('VALIDATION_FAILED'));
    const Ping = defineEvent({ type: 'dev.herald.test.ping.v1', schema: z.undefined() });
    assert.equal(Ping.decode(undefined), undefined);
  });

  void it('refuses a schema that validates asynchronously with UNSUPPORTED', () => {
    const Async = defineEvent({
      type: 'dev.herald.test.async-checked.v1',
      schema: z.string().refine(async (value) => Promise.resolve(value.length > 0)),
    });
    assert.throws(() => Async.parse('x'), heraldError('UNSUPPORTED'));
  });

  void it('tells whether an event is of its type', () => {
    const event = OrderPlaced.create({ orderId: 'o-6', total: 1 }, { source: '/orders' });
    assert.equal(OrderPlaced.is(event), true);
    assert.equal(OrderPlaced.is({ type: 'dev.herald.orders.order-placed.v2' }), false);
  });

  void it('throws HeraldError instances, never bare errors', () => {
    try {
      OrderPlaced.parse({});
      assert.fail('parse should have thrown');
    } catch (error) {
      assert.ok(error instanceof HeraldError);
    }
  });
});
