import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { TEST_TYPE, makeEvent, readAll, waitFor } from '@herald/testing';
import type { StoredEvent } from '../../src/envelope.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { deadLetter } from '../../src/runtime/middleware/dead-letter.ts';
import { fingerprintOf, idempotency } from '../../src/runtime/middleware/idempotency.ts';
import { retry } from '../../src/runtime/middleware/retry.ts';
import { createRouter } from '../../src/runtime/router.ts';
import type { InboxQuery, InboxStatus } from '../../src/runtime/store.ts';
import { MemoryStore } from './fixtures/memory-store.ts';
import { bytes, start, waitForNoLag } from './fixtures/harness.ts';

const GROUP = 'inventory.reservations';

async function setup() {
  const log = await openMemoryLog();
  await log.createTopic('orders', { partitions: 1 });
  await log.createTopic('inventory', { partitions: 1 });
  const store = new MemoryStore(log);
  return { log, store };
}

void describe('idempotency', () => {
  void it('gives an event delivered twice (same id, same payload) one effect', async () => {
    const { log, store } = await setup();
    await using _log = log;
    const event = makeEvent(1, 'sku-1');
    await log.appendBatch('orders', [event, makeEvent(2, 'sku-1'), event]);
    let calls = 0;
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 2 }), idempotency({ store })],
    });
    router.on(TEST_TYPE, async (e, ctx) => {
      calls++;
      await ctx.transaction(async (tx) => {
        const count = (await tx.get<number>('effects', e.id)) ?? 0;
        await tx.put('effects', e.id, count + 1);
      });
    });
    const run = start(router);
    await waitForNoLag(log, GROUP);
    await run.stop();
    assert.equal(calls, 2, 'the duplicate reached the handler');
    assert.equal(await store.get('effects', 'event-1'), 1);
    assert.equal(await store.get('effects', 'event-2'), 1);
    assert.deepEqual(store.handled(GROUP).sort(), ['event-1', 'event-2']);
    assert.equal(
      (await log.listTopics()).some((t) => t.name === 'orders.dead-letter'),
      false,
    );
  });

  void it('flags the same id with a different payload as CONFLICT and parks it instead of dropping it', async () => {
    const { log, store } = await setup();
    await using _log = log;
    const original = makeEvent(1, 'sku-1', { data: bytes('{"i":1,"qty":2}') });
    const impostor = makeEvent(1, 'sku-1', { data: bytes('{"i":1,"qty":200}') });
    await log.appendBatch('orders', [original, impostor]);
    const applied: string[] = [];
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 2 }), idempotency({ store })],
    });
    router.on(TEST_TYPE, async (e, ctx) => {
      await ctx.transaction((tx) => tx.put('effects', e.id, new TextDecoder().decode(e.data)));
      applied.push(new TextDecoder().decode(e.data));
    });
    const run = start(router);
    await waitForNoLag(log, GROUP);
    await waitFor(
      async () => (await log.listTopics()).some((t) => t.name === 'orders.dead-letter'),
      5000,
      'a dead letter',
    );
    await run.stop();
    assert.deepEqual(applied, ['{"i":1,"qty":2}']);
    assert.equal(await store.get('effects', 'event-1'), '{"i":1,"qty":2}');
    const [parked] = await readAll(log, 'orders.dead-letter');
    assert.equal(parked?.extensions?.['dlcode'], 'CONFLICT');
    assert.equal(parked?.extensions?.['dlattempts'], '1', 'a conflict is not retried');
    assert.equal(new TextDecoder().decode(parked?.data), '{"i":1,"qty":200}');
  });

  void it('records nothing of an attempt that threw inside its transaction, and the retry applies it once', async () => {
    const { log, store } = await setup();
    await using _log = log;
    await log.append('orders', makeEvent(1, 'sku-1'));
    let attempts = 0;
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [retry({ maxAttempts: 3, initialDelayMs: 2 }), idempotency({ store })],
    });
    router.on(TEST_TYPE, async (e, ctx) => {
      attempts++;
      await ctx.transaction(async (tx) => {
        await tx.put('stock', 'sku-1', { reserved: 1 });
        await tx.emit('inventory', makeEvent(1000, 'sku-1', { id: `reserved-${e.id}` }));
        if (attempts === 1) throw new Error('crash inside the transaction');
      });
    });
    const run = start(router);
    await waitForNoLag(log, GROUP);
    await run.stop();
    assert.equal(attempts, 2);
    assert.deepEqual(await store.get('stock', 'sku-1'), { reserved: 1 });
    assert.deepEqual(
      (await readAll(log, 'inventory')).map((e) => e.id),
      ['reserved-event-1'],
      'the rolled-back attempt emitted nothing; the retry emitted once',
    );
    assert.deepEqual(store.handled(GROUP), ['event-1']);
  });

  void it('does not apply a committed transaction again when the handler fails after it', async () => {
    const { log, store } = await setup();
    await using _log = log;
    await log.append('orders', makeEvent(1, 'sku-1'));
    let attempts = 0;
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [retry({ maxAttempts: 3, initialDelayMs: 2 }), idempotency({ store })],
    });
    router.on(TEST_TYPE, async (e, ctx) => {
      attempts++;
      await ctx.transaction(async (tx) => {
        await tx.put('effects', e.id, ((await tx.get<number>('effects', e.id)) ?? 0) + 1);
      });
      if (attempts === 1) throw new Error('failed after the commit');
    });
    const run = start(router);
    await waitForNoLag(log, GROUP);
    await run.stop();
    assert.equal(await store.get('effects', 'event-1'), 1);
  });

  void it('records the inbox entry once when a handler runs several transactions', async () => {
    const { log, store } = await setup();
    await using _log = log;
    await log.append('orders', makeEvent(1, 'sku-1'));
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [idempotency({ store })],
    });
    router.on(TEST_TYPE, async (_e, ctx) => {
      await ctx.transaction((tx) => tx.put('a', '1', 1));
      await ctx.transaction((tx) => tx.put('b', '1', 1));
    });
    const run = start(router);
    await waitForNoLag(log, GROUP);
    await run.stop();
    assert.equal(await store.get('a', '1'), 1);
    assert.equal(await store.get('b', '1'), 1);
    assert.deepEqual(store.handled(GROUP), ['event-1']);
  });

  void it('records a handler that uses no transaction after it finished, so a redelivery skips it', async () => {
    const { log, store } = await setup();
    await using _log = log;
    const event = makeEvent(1, 'sku-1');
    await log.appendBatch('orders', [event, event]);
    let calls = 0;
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [idempotency({ store })],
    });
    router.on(TEST_TYPE, async () => {
      calls++;
    });
    const run = start(router);
    await waitForNoLag(log, GROUP);
    await run.stop();
    assert.equal(calls, 1);
    assert.deepEqual(store.handled(GROUP), ['event-1']);
  });

  void it('keeps inboxes of different groups apart', async () => {
    const { log, store } = await setup();
    await using _log = log;
    await log.append('orders', makeEvent(1));
    const calls: string[] = [];
    for (const group of ['inventory.reservations', 'email.confirmations']) {
      const router = createRouter({
        log,
        group,
        topics: ['orders'],
        store,
        middleware: [idempotency({ store })],
      });
      router.on(TEST_TYPE, async () => {
        calls.push(group);
      });
      const run = start(router);
      await waitForNoLag(log, group);
      await run.stop();
    }
    assert.deepEqual(calls, ['inventory.reservations', 'email.confirmations']);
  });
});

/** A store that answers inbox checks in batches and counts its reads. */
class BatchingStore extends MemoryStore {
  readonly batches: number[] = [];
  failNextRead = false;

  async inboxStatuses(group: string, entries: readonly InboxQuery[]): Promise<InboxStatus[]> {
    if (this.failNextRead) {
      this.failNextRead = false;
      throw new Error('the inbox read failed');
    }
    this.batches.push(entries.length);
    return Promise.all(entries.map((entry) => this.inboxStatus(group, entry.eventId, entry.fingerprint)));
  }
}

void describe('idempotency on a store that checks inboxes in batches', () => {
  async function run(store: BatchingStore, log: Awaited<ReturnType<typeof setup>>['log']) {
    const handled: string[] = [];
    const router = createRouter({
      log,
      group: GROUP,
      topics: ['orders'],
      store,
      middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 2 }), idempotency({ store })],
    });
    router.on(TEST_TYPE, async (e, ctx) => {
      await ctx.transaction((tx) => tx.put('effects', e.id, 1));
      handled.push(e.id);
    });
    const running = start(router);
    await waitForNoLag(log, GROUP);
    await running.stop();
    return handled;
  }

  void it('checks the events a router starts together in one read, and skips those already handled', async () => {
    const { log } = await setup();
    await using _log = log;
    const store = new BatchingStore(log);
    const events = Array.from({ length: 40 }, (_, i) => makeEvent(i, `key-${i}`));
    await log.appendBatch('orders', events);
    const before = events[7]!;
    await store.transaction((tx) => tx.recordHandled(GROUP, before.id, fingerprintOf(before)));

    const handled = await run(store, log);

    assert.deepEqual(
      handled.sort(),
      events
        .filter((e) => e !== before)
        .map((e) => e.id)
        .sort(),
    );
    assert.equal(
      store.batches.reduce((a, b) => a + b, 0),
      40,
      'every event was checked once',
    );
    assert.ok(Math.max(...store.batches) > 1, `reads carried one event each: ${store.batches.join(', ')}`);
    assert.ok(store.batches.length < 40, `${store.batches.length} reads for 40 events`);
  });

  void it('fails every check a failed read carried, and each event is retried and handled once', async () => {
    const { log } = await setup();
    await using _log = log;
    const store = new BatchingStore(log);
    const events = Array.from({ length: 10 }, (_, i) => makeEvent(i, `key-${i}`));
    await log.appendBatch('orders', events);
    store.failNextRead = true;

    const handled = await run(store, log);

    assert.deepEqual(handled.sort(), events.map((e) => e.id).sort());
    assert.equal(new Set(handled).size, handled.length, 'no event was handled twice');
    assert.deepEqual(store.handled(GROUP).sort(), events.map((e) => e.id).sort());
  });
});

void describe('fingerprintOf', () => {
  const stored = (i: number, overrides: Partial<StoredEvent> = {}): StoredEvent => ({
    ...makeEvent(i, 'k'),
    topic: 'orders',
    partition: 0,
    offset: i,
    timestamp: 0,
    ...overrides,
  });

  void it('gives a redelivery the fingerprint of the first delivery, wherever and whenever it was read', () => {
    assert.equal(
      fingerprintOf(stored(1)),
      fingerprintOf(stored(1, { offset: 9, partition: 3, time: '2000-01-01T00:00:00Z', source: '/x' })),
    );
  });

  void it('tells apart events that reuse an id with other data or another type', () => {
    const first = fingerprintOf(stored(1, { id: 'same' }));
    assert.notEqual(first, fingerprintOf(stored(2, { id: 'same' })));
    assert.notEqual(first, fingerprintOf(stored(1, { id: 'same', type: 'dev.herald.other.v1' })));
  });

  void it('keeps the format inbox entries were written with: SHA-256 of type, a zero byte and data, base64url', () => {
    // Inbox entries outlive upgrades: another format would make every redelivery a CONFLICT.
    const data = new TextEncoder().encode('{"orderId":"o-1","total":12.5}');
    const expected = (type: string, bytes?: Uint8Array) => {
      const digest = createHash('sha256').update(type).update('\0');
      if (bytes !== undefined) digest.update(bytes);
      return digest.digest('base64url');
    };
    assert.equal(fingerprintOf(stored(1, { data })), expected(stored(1).type, data));
    const { data: _data, ...withoutData } = stored(1);
    assert.equal(fingerprintOf(withoutData), expected(stored(1).type));
    assert.equal(fingerprintOf(stored(1, { data: new Uint8Array(0) })), expected(stored(1).type));
    assert.equal(
      fingerprintOf(stored(1, { type: 'dev.herald.bestätigt.v1', data })),
      expected('dev.herald.bestätigt.v1', data),
    );
  });
});
