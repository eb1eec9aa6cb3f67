// One order is one trace: the API's span, the OrderPlaced append, every consumer that handles
// the order's events (inventory, payment with its gateway calls, fraud, the saga, the view,
// notification, loyalty, analytics) and the events they emit, all descendants of one root span.
// An in-memory exporter registered for this process only (node:test runs each file apart).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { Writable } from 'node:stream';
import { createLogger } from '../src/logger.ts';
import type { OrderSystem } from '../src/system.ts';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import {
  ADMIN_TOKEN,
  type TempFolder,
  apiOf,
  caughtUp,
  eventually,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';

describe('tracing the order flow', { timeout: 60_000 }, () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let folder: TempFolder;
  let system: OrderSystem;
  /** Every line the API logged, parsed. */
  const logLines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });

  before(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    folder = tempFolder();
    system = await openTestSystem(folder, {
      httpLogger: createLogger('herald-orders-test', { destination }),
    });
  });
  after(async () => {
    await system.stop();
    await provider.shutdown();
    folder[Symbol.dispose]();
  });

  it('puts one order, API to notification, in one trace', async () => {
    const app = apiOf(system);
    const { orderId } = await placeOrder(app, {
      customerId: 'traced',
      items: [{ sku: 'WIDGET', quantity: 1 }],
    });
    await settled(app, orderId);
    await caughtUp(system.log, Object.values(GROUPS));

    const root = exporter
      .getFinishedSpans()
      .find((s) => s.kind === SpanKind.SERVER && s.attributes['herald.order_id'] === orderId);
    assert.ok(root, 'a SERVER span for POST /orders');
    assert.equal(root.name, 'POST /orders');
    assert.equal(root.parentSpanContext, undefined, 'the request started the trace');
    const traceId = root.spanContext().traceId;

    const spans = await eventually('every consumer span of the order to end', async () => {
      const inTrace = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      const groups = new Set(inTrace.map((s) => s.attributes['messaging.consumer.group.name']));
      return Object.values(GROUPS).every((g) => groups.has(g)) ? inTrace : undefined;
    });
    const names = new Set(spans.map((s) => s.name));
    for (const name of [
      'send orders',
      'process orders',
      'process inventory',
      'process payments',
      'process fraud',
      'process notifications',
      'create orders',
      'create notifications',
      'payment-gateway authorize',
      'payment-gateway capture',
    ]) {
      assert.ok(names.has(name), `the trace has "${name}": ${[...names].join(', ')}`);
    }
    const confirmed = spans.find(
      (s) =>
        s.name === 'create orders' &&
        s.attributes['cloudevents.event_type'] === 'dev.herald.orders.order-confirmed.v1',
    );
    assert.ok(confirmed, 'the saga emitted OrderConfirmed within the trace');

    // A tree: every span's parent is in the trace, up to the root.
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const depthOf = (span: ReadableSpan): number => {
      const parent = span.parentSpanContext?.spanId;
      if (parent === undefined) return 0;
      const found = byId.get(parent);
      assert.ok(found, `the parent of ${span.name} is in the trace`);
      return depthOf(found) + 1;
    };
    for (const span of spans) depthOf(span);
    // POST → send → inventory/payment/fraud → their event → saga → OrderConfirmed → notification.
    const notification = spans.find(
      (s) =>
        s.attributes['messaging.consumer.group.name'] === GROUPS.notification &&
        s.attributes['cloudevents.event_type'] === 'dev.herald.orders.order-confirmed.v1',
    );
    assert.ok(notification, 'notification handled OrderConfirmed within the trace');
    assert.equal(depthOf(notification), 6, 'notification sits at the end of the causal chain');

    // No span about this order's events belongs to another trace.
    const elsewhere = exporter
      .getFinishedSpans()
      .filter((s) => s.attributes['herald.partition_key'] === orderId && s.spanContext().traceId !== traceId);
    assert.deepEqual(
      elsewhere.map((s) => s.name),
      [],
    );
  });

  it('gives every route a SERVER span named by its route template, continuing the trace the caller sent', async () => {
    const app = apiOf(system);
    const { orderId } = await placeOrder(app, {
      customerId: 'reader',
      items: [{ sku: 'WIDGET', quantity: 1 }],
    });
    exporter.reset();
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const read = await app.inject({
      url: `/orders/${orderId}`,
      headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` },
    });
    assert.equal(read.statusCode, 200);
    for (const url of ['/healthz', '/metrics', '/catalog', '/no-such-route']) await app.inject(url);

    const servers = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    const get = servers.find((s) => s.name === 'GET /orders/:orderId');
    assert.ok(get, `a SERVER span for GET /orders/:orderId among ${servers.map((s) => s.name).join(', ')}`);
    assert.equal(get.spanContext().traceId, callerTrace, "the caller's trace continues");
    assert.equal(get.parentSpanContext?.spanId, callerSpan);
    assert.equal(get.attributes['http.route'], '/orders/:orderId');
    assert.equal(get.attributes['http.request.method'], 'GET');
    assert.equal(get.attributes['http.response.status_code'], 200);
    for (const name of ['GET /healthz', 'GET /metrics', 'GET /catalog']) {
      assert.ok(
        servers.some((s) => s.name === name),
        `a SERVER span named ${name}`,
      );
    }
    const unmatched = servers.find((s) => s.attributes['url.path'] === '/no-such-route');
    assert.equal(unmatched?.attributes['http.response.status_code'], 404);
  });

  it('logs JSON lines, each answer with the trace and span ids of its request span, and never a token', async () => {
    const app = apiOf(system);
    exporter.reset();
    const before = logLines.length;
    const admin = await app.inject({
      url: '/admin/faults?token=in-the-query',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(admin.statusCode, 200);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'GET /admin/faults');
    assert.ok(span, 'a span for the admin request');

    const lines = logLines.slice(before);
    const access = lines.find((l) => l['route'] === '/admin/faults');
    assert.ok(access, `an access-log line for the admin request among ${JSON.stringify(lines)}`);
    assert.equal(access['msg'], 'request answered');
    assert.equal(access['status'], 200);
    assert.equal(access['path'], '/admin/faults', 'the query is left out');
    assert.equal(access['trace_id'], span.spanContext().traceId);
    assert.equal(access['span_id'], span.spanContext().spanId);
    assert.equal(typeof access['time'], 'string');
    const written = JSON.stringify(lines);
    assert.ok(!written.includes(ADMIN_TOKEN), `the admin token was logged: ${written}`);
    assert.ok(!written.includes('in-the-query'), `the query was logged: ${written}`);

    // Whatever a caller logs, authorization headers and tokens come out redacted.
    const captured: string[] = [];
    const logger = createLogger('redaction', {
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          captured.push(chunk.toString('utf8'));
          done();
        },
      }),
    });
    logger.info(
      { headers: { authorization: 'Bearer s3cr3t' }, token: 's3cr3t', config: { password: 's3cr3t' } },
      'x',
    );
    assert.ok(captured.length === 1 && !captured[0]!.includes('s3cr3t'), captured.join(''));
    assert.match(captured[0]!, /"authorization":"\[redacted\]"/);
  });
});
