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
import type { OrderSystem } from '../src/system.ts';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import {
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

  before(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    folder = tempFolder();
    system = await openTestSystem(folder);
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
});
