import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAll } from '@herald/testing';
import { z } from 'zod';
import { defineEvent } from '../../src/define-event.ts';
import type { CloudEvent } from '../../src/envelope.ts';
import { isHeraldError } from '../../src/errors.ts';
import { partitionFor } from '../../src/partitioner.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { createProducer } from '../../src/runtime/producer.ts';
import type { PublishMiddleware } from '../../src/runtime/producer.ts';

const OrderPlaced = defineEvent({
  type: 'dev.herald.orders.order-placed.v1',
  schema: z.object({ orderId: z.string(), total: z.number().int().nonnegative() }),
});
const OrderCancelled = defineEvent({
  type: 'dev.herald.orders.order-cancelled.v1',
  schema: z.object({ orderId: z.string(), reason: z.string().max(20) }),
});

const decoder = new TextDecoder();

void describe('Producer', () => {
  void it('publishes a typed, validated event with its source, key, id and partition', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 4 });
    const producer = createProducer({ log, source: '/orders' });
    const result = await producer.publish(
      'orders',
      OrderPlaced,
      { orderId: 'o-1', total: 1200 },
      { key: 'o-1', id: 'order-placed-o-1', subject: 'orders/o-1', extensions: { tenant: 'acme' } },
    );
    assert.equal(result.partition, partitionFor('o-1', 4));
    const [stored] = await log.read('orders', {
      partition: result.partition,
      from: { offset: result.offset },
    });
    assert.equal(stored?.id, 'order-placed-o-1');
    assert.equal(stored?.source, '/orders');
    assert.equal(stored?.type, OrderPlaced.type);
    assert.equal(stored?.partitionkey, 'o-1');
    assert.equal(stored?.subject, 'orders/o-1');
    assert.equal(stored?.extensions?.['tenant'], 'acme');
    assert.deepEqual(JSON.parse(decoder.decode(stored?.data)), { orderId: 'o-1', total: 1200 });
  });

  void it('refuses invalid data with VALIDATION_FAILED and appends nothing', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const producer = createProducer({ log, source: '/orders' });
    await assert.rejects(producer.publish('orders', OrderPlaced, { orderId: 'o-1', total: -5 }), (error) =>
      isHeraldError(error, 'VALIDATION_FAILED'),
    );
    await assert.rejects(
      // A caller bypassing the types gets the same answer.
      producer.publish('orders', OrderPlaced, { orderId: 42 } as never),
      (error) => isHeraldError(error, 'VALIDATION_FAILED'),
    );
    assert.deepEqual(await readAll(log, 'orders'), []);
  });

  void it('appends a batch atomically: one invalid item and nothing is appended', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 2 });
    const producer = createProducer({ log, source: '/orders' });
    await assert.rejects(
      producer.publishBatch('orders', [
        { definition: OrderPlaced, data: { orderId: 'o-1', total: 1 }, options: { key: 'o-1' } },
        {
          definition: OrderCancelled,
          data: { orderId: 'o-1', reason: 'x'.repeat(50) },
          options: { key: 'o-1' },
        },
      ]),
      (error) => isHeraldError(error, 'VALIDATION_FAILED'),
    );
    assert.deepEqual(await readAll(log, 'orders'), []);
  });

  void it('appends a batch atomically: one record the log refuses and nothing is appended', async () => {
    await using log = await openMemoryLog({ maxRecordBytes: 400 });
    await log.createTopic('orders', { partitions: 2 });
    const producer = createProducer({ log, source: '/orders' });
    await assert.rejects(
      producer.publishBatch('orders', [
        { definition: OrderPlaced, data: { orderId: 'o-1', total: 1 }, options: { key: 'o-1' } },
        { definition: OrderPlaced, data: { orderId: 'o'.repeat(1000), total: 2 }, options: { key: 'o-2' } },
      ]),
      (error) => isHeraldError(error, 'TOO_LARGE'),
    );
    assert.deepEqual(await readAll(log, 'orders'), []);
  });

  void it('publishes a batch in order, keeping per-key order across event types', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 3 });
    const producer = createProducer({ log, source: '/orders' });
    const results = await producer.publishBatch('orders', [
      { definition: OrderPlaced, data: { orderId: 'o-1', total: 1 }, options: { key: 'o-1' } },
      { definition: OrderPlaced, data: { orderId: 'o-2', total: 2 }, options: { key: 'o-2' } },
      {
        definition: OrderCancelled,
        data: { orderId: 'o-1', reason: 'changed mind' },
        options: { key: 'o-1' },
      },
    ]);
    assert.equal(results.length, 3);
    assert.equal(results[0]!.partition, results[2]!.partition);
    assert.ok(results[0]!.offset < results[2]!.offset);
    const o1 = (await readAll(log, 'orders')).filter((e) => e.partitionkey === 'o-1').map((e) => e.type);
    assert.deepEqual(o1, [OrderPlaced.type, OrderCancelled.type]);
  });

  void it('runs publish middleware outermost first, on validated events', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const trail: string[] = [];
    const tag =
      (name: string): PublishMiddleware =>
      (next) =>
      async (topic, events) => {
        trail.push(`${name}:${events.length}`);
        return next(
          topic,
          events.map((e): CloudEvent => ({ ...e, extensions: { ...e.extensions, [name]: 'yes' } })),
        );
      };
    const producer = createProducer({ log, source: '/orders', middleware: [tag('outer'), tag('inner')] });
    await producer.publish('orders', OrderPlaced, { orderId: 'o-1', total: 1 });
    await assert.rejects(producer.publish('orders', OrderPlaced, { orderId: 'o-2', total: -1 }));
    assert.deepEqual(trail, ['outer:1', 'inner:1'], 'middleware ran for an invalid event');
    const [stored] = await readAll(log, 'orders');
    assert.deepEqual(stored?.extensions, { outer: 'yes', inner: 'yes' });
  });

  void it('rejects a publish to a missing topic with UNKNOWN_TOPIC', async () => {
    await using log = await openMemoryLog();
    const producer = createProducer({ log, source: '/orders' });
    await assert.rejects(producer.publish('nowhere', OrderPlaced, { orderId: 'o-1', total: 1 }), (error) =>
      isHeraldError(error, 'UNKNOWN_TOPIC'),
    );
  });
});
