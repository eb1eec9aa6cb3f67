import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent, readAll } from '@herald/testing';
import {
  causationOf,
  correlationOf,
  eventBeingHandled,
  runHandling,
  stampCausation,
} from '../src/causation.ts';
import type { StoredEvent } from '../src/envelope.ts';
import { openMemoryLog } from '../src/memory.ts';
import { idempotency } from '../src/runtime/middleware/idempotency.ts';
import { createProducer } from '../src/runtime/producer.ts';
import { createRouter } from '../src/runtime/router.ts';
import { MemoryStore } from './runtime/fixtures/memory-store.ts';
import { Thing, start, waitForNoLag } from './runtime/fixtures/harness.ts';

void describe('stampCausation', () => {
  void it('starts a chain with an event of no cause: its own id is its correlation id, and it has no cause', () => {
    const event = stampCausation(makeEvent(1), undefined);
    assert.equal(event.extensions?.['correlationid'], 'event-1');
    assert.equal(correlationOf(event), 'event-1');
    assert.equal(causationOf(event), undefined);
  });

  void it('gives an event emitted while handling another that event as cause and its correlation', () => {
    const root = stampCausation(makeEvent(1), undefined);
    const second = stampCausation(makeEvent(2), root);
    const third = stampCausation(makeEvent(3), second);
    assert.deepEqual(second.extensions, { correlationid: 'event-1', causationid: 'event-1' });
    assert.deepEqual(third.extensions, { correlationid: 'event-1', causationid: 'event-2' });
  });

  void it('keeps the causation an event was given, and keeps its other extensions', () => {
    const given = makeEvent(2, undefined, { extensions: { correlationid: 'checkout-7', tenant: 'acme' } });
    const stamped = stampCausation(given, makeEvent(1));
    assert.deepEqual(stamped.extensions, {
      correlationid: 'checkout-7',
      tenant: 'acme',
      causationid: 'event-1',
    });
    assert.equal(stampCausation(stamped, makeEvent(9)), stamped, 'stamping twice changes nothing');
    assert.equal(given.extensions?.['causationid'], undefined, 'the event passed in is not changed');
  });

  void it('knows the event being handled inside runHandling and nowhere else', async () => {
    const event = makeEvent(1);
    assert.equal(eventBeingHandled(), undefined);
    await runHandling(event, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      assert.equal(eventBeingHandled(), event);
    });
    assert.equal(eventBeingHandled(), undefined);
  });
});

void describe('causation through the runtime', () => {
  void it('stamps what a handler emits in its transaction and what it publishes to the log as caused by the event it handles', async () => {
    await using log = await openMemoryLog();
    for (const topic of ['orders', 'payments', 'emails']) await log.createTopic(topic, { partitions: 2 });
    const store = new MemoryStore(log);
    const producer = createProducer({ log, source: '/billing' });
    const router = createRouter({
      log,
      group: 'billing',
      topics: ['orders'],
      store,
      middleware: [idempotency({ store })],
    });
    router.on(Thing, async (data, event, ctx) => {
      await ctx.transaction((tx) =>
        tx.emit('payments', makeEvent(100 + data.i, event.partitionkey, { id: `payment-${event.id}` })),
      );
      await producer.publish('emails', Thing, { i: data.i }, { id: `email-${event.id}` });
    });
    const placed = createProducer({ log, source: '/orders' });
    await placed.publish('orders', Thing, { i: 1 }, { id: 'order-1', key: 'k1' });
    await placed.publish('orders', Thing, { i: 2 }, { id: 'order-2', key: 'k2' });
    const running = start(router);
    await waitForNoLag(log, 'billing');
    await running.stop();

    const emitted: StoredEvent[] = [...(await readAll(log, 'payments')), ...(await readAll(log, 'emails'))];
    const chain = (e: StoredEvent) => [e.id, correlationOf(e), causationOf(e)];
    assert.deepEqual(emitted.map(chain).sort(), [
      ['email-order-1', 'order-1', 'order-1'],
      ['email-order-2', 'order-2', 'order-2'],
      ['payment-order-1', 'order-1', 'order-1'],
      ['payment-order-2', 'order-2', 'order-2'],
    ]);
    const roots = await readAll(log, 'orders');
    assert.deepEqual(roots.map(chain), [
      ['order-1', 'order-1', undefined],
      ['order-2', 'order-2', undefined],
    ]);
  });

  void it('keeps one correlation along a chain of groups, each hop naming the event before it', async () => {
    await using log = await openMemoryLog();
    for (const topic of ['a', 'b', 'c']) await log.createTopic(topic, { partitions: 1 });
    const store = new MemoryStore(log);
    const hop = (group: string, from: string, to: string) => {
      const router = createRouter({ log, group, topics: [from], store });
      router.on(Thing, async (data, _event, ctx) => {
        await ctx.transaction((tx) => tx.emit(to, makeEvent(data.i, undefined, { id: `${to}-${data.i}` })));
      });
      return router;
    };
    await createProducer({ log, source: '/start' }).publish('a', Thing, { i: 7 }, { id: 'a-7' });
    const first = start(hop('ab', 'a', 'b'));
    const second = start(hop('bc', 'b', 'c'));
    await waitForNoLag(log, 'ab');
    await waitForNoLag(log, 'bc');
    await first.stop();
    await second.stop();
    const [last] = await readAll(log, 'c');
    assert.equal(last?.id, 'c-7');
    assert.equal(correlationOf(last), 'a-7');
    assert.equal(causationOf(last), 'b-7');
  });
});
