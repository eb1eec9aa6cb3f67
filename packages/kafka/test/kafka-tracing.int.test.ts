// Tracing on a real Kafka broker: the spans name the system `kafka` with the Kafka attributes
// and the broker, and the trace context and baggage an event carries travel in its record's
// headers (`ce_traceparent`, `ce_baggage`) from the producer to the consumer's handler.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { z } from 'zod';
import { createProducer, createRouter, defineEvent } from '@herald/core';
import { tracing, tracingPublish } from '@herald/core/tracing';
import { openKafkaLog } from '@herald/kafka';
import {
  TEST_BROKERS,
  brokerUnavailable,
  deleteNamespace,
  reportUnavailable,
  uniqueNamespace,
} from './kafka-test-broker.ts';

const unavailable = await brokerUnavailable();

const Shipped = defineEvent({
  type: 'dev.herald.test.parcel-shipped.v1',
  schema: z.object({ parcel: z.string() }),
});

if (unavailable !== undefined) {
  reportUnavailable('tracing on Kafka', unavailable);
} else {
  void describe('tracing on Kafka', { timeout: 60_000 }, () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    before(() => {
      trace.setGlobalTracerProvider(provider);
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      propagation.setGlobalPropagator(
        new CompositePropagator({
          propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
        }),
      );
    });
    after(async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    });

    void it('names kafka on the send and process spans, with offset, key, group and broker, and carries baggage through the headers', async () => {
      const namespace = uniqueNamespace();
      const log = await openKafkaLog({ brokers: TEST_BROKERS, namespace });
      try {
        await log.createTopic('parcels', { partitions: 2 });
        const producer = createProducer({ log, source: '/test', middleware: [tracingPublish()] });
        const withBaggage = propagation.setBaggage(
          ROOT_CONTEXT,
          propagation.createBaggage({ tenant: { value: 'acme' } }),
        );
        const result = await context.with(withBaggage, () =>
          producer.publish('parcels', Shipped, { parcel: 'p-1' }, { key: 'parcel-1', id: 'ship-1' }),
        );

        const seen = Promise.withResolvers<string | undefined>();
        const router = createRouter({
          log,
          group: 'test.parcels',
          topics: ['parcels'],
          middleware: [tracing()],
        });
        router.on(Shipped, async () => {
          seen.resolve(propagation.getActiveBaggage()?.getEntry('tenant')?.value);
        });
        const running = router.run();
        const tenant = await seen.promise;
        await router.stop();
        await running;
        assert.equal(tenant, 'acme', 'the handler sees the baggage the producer had');

        const [host, port] = TEST_BROKERS[0]!.split(':');
        const spans = exporter.getFinishedSpans();
        const send = spans.find((s) => s.kind === SpanKind.PRODUCER && s.name === 'send parcels');
        const process = spans.find((s) => s.kind === SpanKind.CONSUMER && s.name === 'process parcels');
        assert.ok(send && process, `send and process spans among ${spans.map((s) => s.name).join(', ')}`);
        assert.equal(process.parentSpanContext?.spanId, send.spanContext().spanId, 'one trace across Kafka');
        for (const span of [send, process]) {
          assert.equal(span.attributes['messaging.system'], 'kafka', span.name);
          assert.equal(span.attributes['messaging.kafka.offset'], result.offset, span.name);
          assert.equal(span.attributes['messaging.kafka.message.key'], 'parcel-1', span.name);
          assert.equal(span.attributes['messaging.destination.partition.id'], String(result.partition));
          assert.equal(span.attributes['server.address'], host, span.name);
          assert.equal(span.attributes['server.port'], Number(port), span.name);
        }
        assert.equal(process.attributes['messaging.consumer.group.name'], 'test.parcels');
      } finally {
        await log.close();
        await deleteNamespace(namespace);
      }
    });
  });
}
