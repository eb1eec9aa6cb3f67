import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAll } from '@herald/testing';
import { z } from 'zod';
import { defineEvent } from '../../src/define-event.ts';
import type { CloudEvent } from '../../src/envelope.ts';
import { isHeraldError } from '../../src/errors.ts';
import { partitionFor } from '../../src/partitioner.ts';
import { openMemoryLog } from '../../src/memory.ts';
import type { EventLog } from '../../src/event-log.ts';
import { createProducer, emitThrough } from '../../src/runtime/producer.ts';
import type { PublishMiddleware } from '../../src/runtime/producer.ts';
import type { StoreTransaction } from '../../src/runtime/store.ts';
import { MemoryStore } from './fixtures/memory-store.ts';

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
    assert.deepEqual(stored?.extensions, { correlationid: stored?.id, outer: 'yes', inner: 'yes' });
  });

  void it('rejects a publish to a missing topic with UNKNOWN_TOPIC', async () => {
    await using log = await openMemoryLog();
    const producer = createProducer({ log, source: '/orders' });
    await assert.rejects(producer.publish('nowhere', OrderPlaced, { orderId: 'o-1', total: 1 }), (error) =>
      isHeraldError(error, 'UNKNOWN_TOPIC'),
    );
  });
});

/**
 * A transaction that appends straight to `log` when it emits, as the SQLite store does (the log
 * is the outbox), so a publish within it resolves with a position. Documents are not kept.
 */
function appendingTransaction(log: EventLog, emitted: string[] = []): StoreTransaction {
  return {
    emit: async (topic, event, options) => {
      emitted.push(`${topic}:${event.id}`);
      return log.append(topic, event, options);
    },
    get: async () => undefined,
    put: async () => undefined,
    delete: async () => false,
    list: async () => [],
    recordHandled: async () => 'first',
    schedule: async (_at, _topic, event) => event.id,
    cancelSchedule: async () => false,
  };
}

const tagging =
  (name: string, trail: string[]): PublishMiddleware =>
  (next) =>
  async (topic, events) => {
    trail.push(`${name}:${events.length}`);
    return next(
      topic,
      events.map((e): CloudEvent => ({ ...e, extensions: { ...e.extensions, [name]: 'yes' } })),
    );
  };

void describe('Producer within a store transaction', () => {
  void it('stamps, validates and wraps an event in a transaction exactly as a direct publish', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 4 });
    const trail: string[] = [];
    const producer = createProducer({ sink: log, source: '/orders', middleware: [tagging('mw', trail)] });
    const direct = await producer.publish(
      'orders',
      OrderPlaced,
      { orderId: 'o-1', total: 1 },
      { key: 'o-1' },
    );
    const inTx = await producer
      .within(appendingTransaction(log))
      .publish(
        'orders',
        OrderPlaced,
        { orderId: 'o-2', total: 2 },
        { key: 'o-1', id: 'placed-o-2', subject: 's' },
      );
    assert.deepEqual(trail, ['mw:1', 'mw:1']);
    assert.equal(inTx?.partition, direct.partition, 'the key did not choose the partition');
    const [first, second] = await readAll(log, 'orders');
    assert.equal(second?.id, 'placed-o-2');
    assert.equal(second?.source, first?.source);
    assert.equal(second?.source, '/orders');
    assert.equal(second?.partitionkey, 'o-1');
    assert.equal(second?.subject, 's');
    assert.deepEqual(second?.extensions, { correlationid: 'placed-o-2', mw: 'yes' });
    assert.equal(second?.type, OrderPlaced.type);
  });

  void it('refuses invalid data in a transaction with VALIDATION_FAILED before the middleware or the store sees it', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const trail: string[] = [];
    const emitted: string[] = [];
    const producer = createProducer({
      sink: appendingTransaction(log, emitted),
      source: '/orders',
      middleware: [tagging('mw', trail)],
    });
    await assert.rejects(producer.publish('orders', OrderPlaced, { orderId: 'o-1', total: -1 }), (error) =>
      isHeraldError(error, 'VALIDATION_FAILED'),
    );
    await assert.rejects(
      producer.publishBatch('orders', [
        { definition: OrderPlaced, data: { orderId: 'o-1', total: 1 } },
        { definition: OrderCancelled, data: { orderId: 'o-1', reason: 'x'.repeat(50) } },
      ]),
      (error) => isHeraldError(error, 'VALIDATION_FAILED'),
    );
    assert.deepEqual(trail, []);
    assert.deepEqual(emitted, []);
  });

  void it('commits published events with the transaction and publishes nothing when it rolls back', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const store = new MemoryStore(log);
    const producer = createProducer({ sink: log, source: '/orders' });
    await assert.rejects(
      store.transaction(async (tx) => {
        await producer
          .within(tx)
          .publish('orders', OrderPlaced, { orderId: 'o-1', total: 1 }, { id: 'lost' });
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    const position = await store.transaction(async (tx) => {
      await tx.put('orders', 'o-2', { total: 2 });
      return producer
        .within(tx)
        .publish('orders', OrderPlaced, { orderId: 'o-2', total: 2 }, { key: 'o-2', id: 'kept' });
    });
    assert.equal(position, undefined, 'an event waiting in an outbox has no position yet');
    assert.deepEqual(
      (await readAll(log, 'orders')).map((e) => e.id),
      ['kept'],
    );
    assert.deepEqual(await store.get('orders', 'o-2'), { total: 2 });
  });

  void it('emits a batch in a transaction in order, with the positions the store knows', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const emitted: string[] = [];
    const producer = createProducer({ sink: appendingTransaction(log, emitted), source: '/orders' });
    const results = await producer.publishBatch('orders', [
      { definition: OrderPlaced, data: { orderId: 'o-1', total: 1 }, options: { id: 'e-1' } },
      { definition: OrderCancelled, data: { orderId: 'o-1', reason: 'r' }, options: { id: 'e-2' } },
    ]);
    assert.deepEqual(emitted, ['orders:e-1', 'orders:e-2']);
    assert.deepEqual(
      results.map((r) => r.offset),
      [0, 1],
    );
  });

  void it("passes a transaction's raw emits through publish middleware, keeping the emit's partition", async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 3 });
    const trail: string[] = [];
    const event = OrderPlaced.create({ orderId: 'o-9', total: 9 }, { source: '/raw', id: 'raw-1' });
    const tx = emitThrough(appendingTransaction(log), [tagging('mw', trail)]);
    const result = await tx.emit('orders', event, { partition: 2 });
    assert.deepEqual(trail, ['mw:1']);
    assert.equal(result?.partition, 2);
    const [stored] = await log.read('orders', { partition: 2, from: 'earliest' });
    assert.equal(stored?.id, 'raw-1');
    assert.deepEqual(stored?.extensions, { mw: 'yes' });
  });
});
