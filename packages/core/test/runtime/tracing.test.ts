import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3Propagator } from '@opentelemetry/propagator-b3';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { TEST_TYPE, makeEvent, waitFor } from '@herald/testing';
import type { CloudEvent, StoredEvent } from '../../src/envelope.ts';
import type { EventLog } from '../../src/event-log.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { telemetryOf } from '../../src/backend/telemetry-of.ts';
import { deadLetter, deadLetterTopicOf } from '../../src/runtime/middleware/dead-letter.ts';
import { idempotency } from '../../src/runtime/middleware/idempotency.ts';
import { retry } from '../../src/runtime/middleware/retry.ts';
import {
  extractTraceContext,
  injectTraceContext,
  tracing,
  tracingPublish,
} from '../../src/runtime/middleware/tracing.ts';
import { createProducer } from '../../src/runtime/producer.ts';
import { createRouter } from '../../src/runtime/router.ts';
import { Thing, start, waitForNoLag } from './fixtures/harness.ts';
import { MemoryStore } from './fixtures/memory-store.ts';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

async function readAll(log: EventLog, topic: string): Promise<StoredEvent[]> {
  const { partitionInfo } = await log.describeTopic(topic);
  const events = await Promise.all(
    partitionInfo.map((p) => log.read(topic, { partition: p.partition, from: 'earliest' })),
  );
  return events.flat();
}

function traceparentOf(event: CloudEvent): { traceId: string; spanId: string } {
  const match = TRACEPARENT.exec(event.traceparent ?? '');
  assert.ok(match, `event ${event.id} carries no sampled W3C traceparent: ${event.traceparent}`);
  return { traceId: match[1]!, spanId: match[2]! };
}

// Runs before any SDK is registered (node:test runs these suites in order, in this process only).
void describe('tracing without an OpenTelemetry SDK', () => {
  void it('publishes events unchanged and handles them without spans', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const published = makeEvent(1);
    let passed: CloudEvent | undefined;
    const producer = createProducer({
      log,
      source: '/test',
      middleware: [
        tracingPublish(),
        (next) => async (topic, events) => {
          passed = events[0];
          return next(topic, events);
        },
      ],
    });
    await producer.publish('orders', Thing, { i: 1 });
    assert.equal((await readAll(log, 'orders'))[0]!.traceparent, undefined);
    assert.ok(passed !== undefined && passed.traceparent === undefined);
    assert.equal(injectTraceContext(published, context.active()), published, 'a copy was made for nothing');
  });

  void it('still passes the trace context an event carries on to the events its handler emits', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.createTopic('shipments', { partitions: 1 });
    const upstream = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await log.append('orders', makeEvent(1, 'k', { traceparent: upstream, tracestate: 'vendor=x' }));
    const store = new MemoryStore(log);
    const router = createRouter({
      log,
      group: 'test.no-sdk',
      topics: ['orders'],
      store,
      middleware: [tracing()],
    });
    router.on(Thing, async (data, _event, ctx) => {
      await ctx.transaction((tx) => tx.emit('shipments', makeEvent(100 + data.i)));
    });
    const run = start(router);
    await waitForNoLag(log, 'test.no-sdk');
    await run.stop();
    const [emitted] = await readAll(log, 'shipments');
    assert.equal(emitted?.traceparent, upstream);
    assert.equal(emitted?.tracestate, 'vendor=x');
  });
});

void describe('tracing with an OpenTelemetry SDK', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('herald-test');
  // Registered the way an application does: one @opentelemetry/api in the tree (core declares
  // it as a peer dependency), so Herald's spans reach the SDK the application set up.
  before(() => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  after(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  const spans = () => exporter.getFinishedSpans();
  const only = (name: string): ReadableSpan => {
    const found = spans().filter((s) => s.name === name);
    assert.equal(
      found.length,
      1,
      `expected one span ${name}, got ${spans()
        .map((s) => s.name)
        .join(', ')}`,
    );
    return found[0]!;
  };
  const isChild = (child: ReadableSpan, parent: ReadableSpan) => {
    assert.equal(
      child.spanContext().traceId,
      parent.spanContext().traceId,
      `${child.name} is in another trace`,
    );
    assert.equal(
      child.parentSpanContext?.spanId,
      parent.spanContext().spanId,
      `${child.name} is not a child of ${parent.name}`,
    );
  };

  void it('makes the process span a child of the send span, across the log, with the messaging attributes', async () => {
    exporter.reset();
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 3 });
    const producer = createProducer({ log, source: '/test', middleware: [tracingPublish({ tracer })] });
    const result = await producer.publish('orders', Thing, { i: 7 }, { key: 'order-7', id: 'e-7' });
    const router = createRouter({
      log,
      group: 'test.trace',
      topics: ['orders'],
      middleware: [tracing({ tracer })],
    });
    let activeInHandler: string | undefined;
    router.on(Thing, async () => {
      activeInHandler = trace.getActiveSpan()?.spanContext().spanId;
    });
    const run = start(router);
    await waitFor(() => spans().some((s) => s.name === 'process orders'), 10_000, 'the process span');
    await run.stop();

    const send = only('send orders');
    const process = only('process orders');
    assert.equal(send.kind, SpanKind.PRODUCER);
    assert.equal(process.kind, SpanKind.CONSUMER);
    isChild(process, send);
    assert.equal(
      activeInHandler,
      process.spanContext().spanId,
      'the process span is not active in the handler',
    );

    const [stored] = await readAll(log, 'orders').then((all) => all.filter((e) => e.id === 'e-7'));
    assert.deepEqual(traceparentOf(stored!), {
      traceId: send.spanContext().traceId,
      spanId: send.spanContext().spanId,
    });

    assert.deepEqual(send.attributes, {
      'messaging.system': 'herald_memory',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': 'orders',
      'messaging.destination.partition.id': String(result.partition),
      'messaging.message.id': 'e-7',
      'messaging.message.body.size': stored!.data!.byteLength,
      'cloudevents.event_id': 'e-7',
      'cloudevents.event_source': '/test',
      'cloudevents.event_type': TEST_TYPE,
      'herald.partition_key': 'order-7',
      'herald.offset': result.offset,
    });
    assert.deepEqual(process.attributes, {
      'messaging.system': 'herald_memory',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'orders',
      'messaging.destination.partition.id': String(result.partition),
      'messaging.consumer.group.name': 'test.trace',
      'messaging.message.id': 'e-7',
      'messaging.message.body.size': stored!.data!.byteLength,
      'cloudevents.event_id': 'e-7',
      'cloudevents.event_source': '/test',
      'cloudevents.event_type': TEST_TYPE,
      'herald.partition_key': 'order-7',
      'herald.offset': result.offset,
      'herald.attempt': 1,
      // Published before the group first ran: history it backfills.
      'herald.replaying': true,
    });
    assert.equal(process.status.code, SpanStatusCode.UNSET);
  });

  void it('carries the handler trace into events emitted in its transaction, through idempotency, to the next consumer', async () => {
    exporter.reset();
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.createTopic('shipments', { partitions: 2 });
    const store = new MemoryStore(log);
    // The global tracer this time: tracing() without options uses the registered SDK.
    const producer = createProducer({ log, source: '/test', middleware: [tracingPublish()] });
    await producer.publish('orders', Thing, { i: 1 }, { key: 'k1', id: 'order-event-1' });

    const reserve = createRouter({
      log,
      group: 'test.reserve',
      topics: ['orders'],
      store,
      middleware: [
        deadLetter(),
        retry({ maxAttempts: 2, initialDelayMs: 1 }),
        tracing(),
        idempotency({ store }),
      ],
    });
    reserve.on(Thing, async (data, _event, ctx) => {
      await ctx.transaction(async (tx) => {
        await tx.put('stock', `sku-${data.i}`, { reserved: true });
        await tx.emit('shipments', makeEvent(100 + data.i, 'k1'));
      });
    });
    const ship = createRouter({ log, group: 'test.ship', topics: ['shipments'], middleware: [tracing()] });
    ship.on(TEST_TYPE, async () => {});
    const runs = [start(reserve), start(ship)];
    await waitFor(() => spans().some((s) => s.name === 'process shipments'), 10_000, 'the second hop');
    await Promise.all(runs.map((r) => r.stop()));

    const send = only('send orders');
    const processOrder = only('process orders');
    const create = only('create shipments');
    const processShipment = only('process shipments');
    isChild(processOrder, send);
    isChild(create, processOrder);
    isChild(processShipment, create);
    assert.equal(create.kind, SpanKind.PRODUCER);
    assert.equal(create.attributes['messaging.operation.type'], 'create');
    assert.equal(create.attributes['messaging.destination.name'], 'shipments');

    const [emitted] = await readAll(log, 'shipments');
    assert.deepEqual(traceparentOf(emitted!), {
      traceId: processOrder.spanContext().traceId,
      spanId: create.spanContext().spanId,
    });
    assert.deepEqual(store.handled('test.reserve'), ['order-event-1'], 'the inbox entry was not written');
  });

  void it('traces an event a handler publishes through a producer within its transaction as one create span, stamped by the producer', async () => {
    exporter.reset();
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.createTopic('shipments', { partitions: 1 });
    const store = new MemoryStore(log);
    await log.append('orders', makeEvent(1, 'k1'));
    const shipments = createProducer({ sink: log, source: '/shipping' });
    const router = createRouter({
      log,
      group: 'test.ship-through-producer',
      topics: ['orders'],
      store,
      middleware: [tracing({ tracer }), idempotency({ store })],
    });
    router.on(Thing, async (data, _event, ctx) => {
      await ctx.transaction((tx) =>
        shipments.within(tx).publish('shipments', Thing, { i: 100 + data.i }, { key: 'k1', id: 'ship-1' }),
      );
    });
    const run = start(router);
    await waitForNoLag(log, 'test.ship-through-producer');
    await run.stop();

    const process = only('process orders');
    const create = only('create shipments');
    isChild(create, process);
    assert.equal(create.attributes['cloudevents.event_id'], 'ship-1');
    assert.equal(create.attributes['cloudevents.event_source'], '/shipping');
    const [emitted] = await readAll(log, 'shipments');
    assert.equal(emitted?.source, '/shipping');
    assert.deepEqual(traceparentOf(emitted), {
      traceId: process.spanContext().traceId,
      spanId: create.spanContext().spanId,
    });
  });

  void it('records a failed attempt on its span with status ERROR, one span per attempt inside retry', async () => {
    exporter.reset();
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(1));
    const router = createRouter({
      log,
      group: 'test.failing',
      topics: ['orders'],
      middleware: [deadLetter(), retry({ maxAttempts: 2, initialDelayMs: 1 }), tracing({ tracer })],
    });
    router.on(TEST_TYPE, async () => {
      throw new TypeError('stock service said no');
    });
    const run = start(router);
    await waitForNoLag(log, 'test.failing');
    await run.stop();

    const attempts = spans().filter((s) => s.name === 'process orders');
    assert.deepEqual(
      attempts.map((s) => s.attributes['herald.attempt']),
      [1, 2],
    );
    for (const span of attempts) {
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.equal(span.status.message, 'stock service said no');
      assert.equal(span.attributes['error.type'], 'TypeError');
      const exception = span.events.find((e) => e.name === 'exception');
      assert.equal(exception?.attributes?.['exception.type'], 'TypeError');
    }
    const [parked] = await readAll(log, deadLetterTopicOf('orders'));
    assert.equal(parked?.id, 'event-1', 'the event was not dead-lettered after its failed attempts');
  });

  void it('keeps the trace context an event already carries when it is published again, and links to it', async () => {
    exporter.reset();
    await using log = await openMemoryLog();
    await log.createTopic('relayed', { partitions: 1 });
    const original = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const producer = createProducer({ log, source: '/test', middleware: [tracingPublish({ tracer })] });
    await producer.publishBatch('relayed', [
      { definition: Thing, data: { i: 1 } },
      { definition: Thing, data: { i: 2 } },
    ]);
    const relay = tracingPublish({ tracer })((topic, events) => log.appendBatch(topic, events));
    await relay('relayed', [makeEvent(3, undefined, { traceparent: original })]);

    const [first, second, third] = await readAll(log, 'relayed');
    const batch = spans().find((s) => s.attributes['messaging.batch.message_count'] === 2);
    assert.ok(batch, 'no span for the batch');
    assert.equal(traceparentOf(first!).spanId, batch.spanContext().spanId);
    assert.equal(traceparentOf(second!).spanId, batch.spanContext().spanId);
    assert.equal(third?.traceparent, original);
    const relayed = spans().find((s) => s.attributes['messaging.message.id'] === 'event-3');
    assert.deepEqual(
      relayed?.links.map((l) => l.context.spanId),
      ['00f067aa0ba902b7'],
    );
  });

  void it('writes and reads W3C trace context exactly as the OpenTelemetry W3C propagator does', () => {
    const span = tracer.startSpan('any');
    const base = trace.setSpan(ROOT_CONTEXT, span);
    const carrier: Record<string, string> = {};
    propagation.inject(base, carrier);
    const injected = injectTraceContext(makeEvent(1), base);
    assert.equal(injected.traceparent, carrier['traceparent']);
    span.end();

    const withState = makeEvent(2, undefined, {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00',
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
    });
    const ours = trace.getSpanContext(extractTraceContext(withState, ROOT_CONTEXT));
    const theirs = trace.getSpanContext(
      propagation.extract(ROOT_CONTEXT, {
        traceparent: withState.traceparent,
        tracestate: withState.tracestate,
      }),
    );
    assert.ok(ours !== undefined && theirs !== undefined);
    assert.deepEqual(
      { ...ours, traceState: ours.traceState?.serialize() },
      { ...theirs, traceState: theirs.traceState?.serialize() },
    );
    const copied = injectTraceContext(makeEvent(3), extractTraceContext(withState, ROOT_CONTEXT));
    assert.equal(copied.traceparent, withState.traceparent);
    assert.equal(copied.tracestate, withState.tracestate);

    for (const invalid of [
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
    ]) {
      const event = makeEvent(4, undefined, { traceparent: invalid });
      assert.equal(extractTraceContext(event, ROOT_CONTEXT), ROOT_CONTEXT, `${invalid} was accepted`);
    }
  });

  void it('names the backend on its spans: Kafka spans carry the Kafka attributes and the broker', async () => {
    exporter.reset();
    await using memory = await openMemoryLog();
    // A log that says it is Kafka: what the spans say comes from the log's declaration alone.
    const capabilities = {
      ...memory.capabilities,
      telemetry: telemetryOf('kafka', ['k1.example:9093'], 9092),
    };
    const kafkaLike = new Proxy(memory, {
      get: (target, key) => {
        if (key === 'capabilities') return capabilities;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as EventLog;
    await kafkaLike.createTopic('orders', { partitions: 2 });
    const producer = createProducer({
      log: kafkaLike,
      source: '/test',
      middleware: [tracingPublish({ tracer })],
    });
    const result = await producer.publish('orders', Thing, { i: 1 }, { key: 'order-1', id: 'k-1' });
    const router = createRouter({
      log: kafkaLike,
      group: 'test.kafka-attributes',
      topics: ['orders'],
      middleware: [tracing({ tracer })],
    });
    router.on(Thing, async () => {});
    const run = start(router);
    await waitFor(() => spans().some((s) => s.name === 'process orders'), 10_000, 'the process span');
    await run.stop();
    for (const span of [only('send orders'), only('process orders')]) {
      assert.equal(span.attributes['messaging.system'], 'kafka', span.name);
      assert.equal(span.attributes['messaging.kafka.offset'], result.offset, span.name);
      assert.equal(span.attributes['messaging.kafka.message.key'], 'order-1', span.name);
      assert.equal(span.attributes['messaging.destination.partition.id'], String(result.partition));
      assert.equal(span.attributes['server.address'], 'k1.example', span.name);
      assert.equal(span.attributes['server.port'], 9093, span.name);
      assert.equal(span.attributes['herald.offset'], undefined, `${span.name} says herald.offset`);
    }
    assert.equal(only('process orders').attributes['messaging.consumer.group.name'], 'test.kafka-attributes');
  });

  void it('carries baggage from the publisher to the handler and on to the events it emits', async () => {
    exporter.reset();
    propagation.disable();
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    try {
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      await log.createTopic('shipments', { partitions: 1 });
      const store = new MemoryStore(log);
      const producer = createProducer({ log, source: '/test', middleware: [tracingPublish({ tracer })] });
      const withBaggage = propagation.setBaggage(
        ROOT_CONTEXT,
        propagation.createBaggage({ tenant: { value: 'acme' } }),
      );
      await context.with(withBaggage, () => producer.publish('orders', Thing, { i: 1 }, { key: 'k' }));
      const [published] = await readAll(log, 'orders');
      assert.equal(published?.extensions?.['baggage'], 'tenant=acme');
      traceparentOf(published);

      let seen: string | undefined;
      const router = createRouter({
        log,
        group: 'test.baggage',
        topics: ['orders'],
        store,
        middleware: [tracing({ tracer })],
      });
      router.on(Thing, async (_data, _event, ctx) => {
        seen = propagation.getActiveBaggage()?.getEntry('tenant')?.value;
        await ctx.transaction((tx) => tx.emit('shipments', makeEvent(100)));
      });
      const run = start(router);
      await waitForNoLag(log, 'test.baggage');
      await run.stop();
      assert.equal(seen, 'acme', 'the handler does not see the baggage');
      const [emitted] = await readAll(log, 'shipments');
      assert.equal(emitted?.extensions?.['baggage'], 'tenant=acme');
    } finally {
      propagation.disable();
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });

  void it('honours the registered propagator: with B3 an event carries b3 beside its W3C traceparent, and B3 is what the consumer reads', async () => {
    exporter.reset();
    propagation.disable();
    propagation.setGlobalPropagator(new B3Propagator());
    try {
      const span = tracer.startSpan('upstream');
      const injected = injectTraceContext(makeEvent(1), trace.setSpan(ROOT_CONTEXT, span));
      span.end();
      const { traceId, spanId } = span.spanContext();
      assert.equal(injected.extensions?.['b3'], `${traceId}-${spanId}-1`);
      assert.deepEqual(traceparentOf(injected), { traceId, spanId });

      // An event from a B3 producer elsewhere, whose traceparent names another trace: B3 wins.
      const b3TraceId = '80f198ee56343ba864fe8b2a57d3eff7';
      const fromB3 = makeEvent(2, undefined, {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        extensions: { b3: `${b3TraceId}-e457b5a2e4d86bd1-1` },
      });
      const read = trace.getSpanContext(extractTraceContext(fromB3, ROOT_CONTEXT));
      assert.equal(read?.traceId, b3TraceId);
      assert.equal(read?.spanId, 'e457b5a2e4d86bd1');
    } finally {
      propagation.disable();
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });
});
