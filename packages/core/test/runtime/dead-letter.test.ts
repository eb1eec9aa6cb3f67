import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_TYPE, makeEvent, readAll, waitFor } from '@herald/testing';
import type { StoredEvent } from '../../src/envelope.ts';
import type { EventLog } from '../../src/event-log.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { PermanentFailure } from '../../src/runtime/handler.ts';
import type { Middleware } from '../../src/runtime/handler.ts';
import { DEAD_LETTER_ATTRIBUTES, deadLetter } from '../../src/runtime/middleware/dead-letter.ts';
import { retry } from '../../src/runtime/middleware/retry.ts';
import { createRouter } from '../../src/runtime/router.ts';
import type { Store } from '../../src/runtime/store.ts';
import { MemoryStore } from './fixtures/memory-store.ts';
import { Thing, bytes, committedOffset, start, waitForNoLag } from './fixtures/harness.ts';

class InventoryDown extends Error {
  override readonly name = 'InventoryDown';
}

/** Counts calls of the route (attempts that reached it, decoding included). */
function counting(calls: Map<string, number>): Middleware {
  return (next) => async (event, ctx) => {
    calls.set(event.id, (calls.get(event.id) ?? 0) + 1);
    await next(event, ctx);
  };
}

async function poisonScenario(store: Store | undefined) {
  const log = await openMemoryLog();
  await log.createTopic('orders', { partitions: 3 });
  const poisonData = bytes('{"i":7,"note":"caf\u00e9 \u2615"}');
  const poison = makeEvent(7, 'order-7', {
    subject: 'orders/7',
    data: poisonData,
    extensions: { tenant: 'acme' },
  });
  const [placed] = await log.appendBatch('orders', [poison]);
  const after = Array.from({ length: 6 }, (_, i) =>
    makeEvent(100 + i, i % 2 === 0 ? 'order-7' : `order-${i}`),
  );
  await log.appendBatch('orders', after);

  const calls = new Map<string, number>();
  const handled: string[] = [];
  const router = createRouter({
    log,
    group: 'billing.invoices',
    topics: ['orders'],
    ...(store === undefined ? {} : { store }),
    middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 15, random: () => 1 })],
  });
  router.on(
    TEST_TYPE,
    async (event) => {
      if (event.id === poison.id) throw new InventoryDown('inventory service answered 500');
      handled.push(event.id);
    },
    { middleware: [counting(calls)] },
  );
  const run = start(router);
  await waitForNoLag(log, 'billing.invoices');
  const parked = await waitForDeadLetters(log, 'orders.dead-letter', 1);
  await run.stop();
  return { log, poison, poisonData, placed: placed!, parked: parked[0]!, calls, handled };
}

async function waitForDeadLetters(log: EventLog, topic: string, count: number): Promise<StoredEvent[]> {
  let found: StoredEvent[] = [];
  await waitFor(
    async () => {
      const topics = (await log.listTopics()).map((t) => t.name);
      found = topics.includes(topic) ? await readAll(log, topic) : [];
      return found.length >= count;
    },
    5000,
    `${count} events in ${topic}`,
  );
  return found;
}

void describe('deadLetter', () => {
  for (const withStore of [false, true]) {
    void it(`parks a poison event within the retry budget with its original bytes and failure metadata, and the partition moves on (F7, ${withStore ? 'attempts kept in a store' : 'no store'})`, async () => {
      const store = withStore ? new MemoryStore() : undefined;
      const { log, poison, poisonData, placed, parked, calls, handled } = await poisonScenario(store);
      await using _log = log;
      assert.equal(calls.get(poison.id), 3, 'the poison event was tried exactly maxAttempts times');
      // With a store, the poison event's key is parked: its later events wait (as positions),
      // the other keys' events are handled and the partition moves on. Without one, nothing parks.
      assert.deepEqual(
        handled.toSorted(),
        (withStore ? [101, 103, 105] : [100, 101, 102, 103, 104, 105]).map((i) => `event-${i}`),
        'events after the poison event were handled (with a store, but those of its key)',
      );

      assert.equal(parked.id, poison.id);
      assert.equal(parked.type, poison.type);
      assert.equal(parked.source, poison.source);
      assert.equal(parked.subject, 'orders/7');
      assert.equal(parked.time, poison.time);
      assert.equal(parked.partitionkey, 'order-7');
      assert.equal(parked.datacontenttype, 'application/json');
      assert.ok(
        parked.data !== undefined && Buffer.from(parked.data).equals(Buffer.from(poisonData)),
        'data bytes changed',
      );
      assert.equal(parked.partition, placed.partition, 'same key, same partition');
      assert.equal((await log.describeTopic('orders.dead-letter')).partitions, 3);

      const ext = parked.extensions ?? {};
      const A = DEAD_LETTER_ATTRIBUTES;
      assert.equal(ext['tenant'], 'acme', 'original extensions are kept');
      assert.equal(ext[A.error], 'inventory service answered 500');
      assert.equal(ext[A.code], 'InventoryDown');
      assert.equal(ext[A.attempts], '3');
      assert.equal(ext[A.group], 'billing.invoices');
      assert.equal(ext[A.topic], 'orders');
      assert.equal(ext[A.partition], String(placed.partition));
      assert.equal(ext[A.offset], String(placed.offset));
      const first = Date.parse(ext[A.firstFailure]!);
      const last = Date.parse(ext[A.lastFailure]!);
      // Two backoffs (15 and 30 ms with random() = 1) lie between the first and last failure.
      assert.ok(last - first >= 40, `first failure ${ext[A.firstFailure]}, last ${ext[A.lastFailure]}`);
      if (store !== undefined)
        assert.equal(store.failureCount, 0, 'the parked delivery left its failures behind');
    });
  }

  void it('parks undecodable and schema-invalid events at once, with the reason, and keeps going (F8)', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const garbage = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);
    await log.appendBatch('orders', [
      makeEvent(0, undefined, { data: garbage }),
      makeEvent(1, undefined, { data: bytes('{"i":"one"}') }),
      makeEvent(2),
    ]);
    const calls = new Map<string, number>();
    const handled: number[] = [];
    const router = createRouter({
      log,
      group: 'billing.invoices',
      topics: ['orders'],
      middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 50 })],
    });
    router.on(
      Thing,
      async (data) => {
        handled.push(data.i);
      },
      { middleware: [counting(calls)] },
    );
    const run = start(router);
    await waitForNoLag(log, 'billing.invoices');
    const parked = await waitForDeadLetters(log, 'orders.dead-letter', 2);
    await run.stop();
    assert.deepEqual(handled, [2]);
    assert.deepEqual([...calls.entries()].sort(), [
      ['event-0', 1],
      ['event-1', 1],
      ['event-2', 1],
    ]);
    const [undecodable, invalid] = parked;
    assert.equal(undecodable?.extensions?.['dlcode'], 'DECODE_FAILED');
    assert.equal(undecodable?.extensions?.['dlattempts'], '1');
    assert.ok(undecodable?.data !== undefined && Buffer.from(undecodable.data).equals(Buffer.from(garbage)));
    assert.equal(invalid?.extensions?.['dlcode'], 'VALIDATION_FAILED');
    assert.equal(invalid?.extensions?.['dlattempts'], '1');
    assert.match(invalid?.extensions?.['dlerror'] ?? '', /i:/);
    assert.equal(run.outcome.error, undefined);
  });

  void it('parks a PermanentFailure without retrying it', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    let calls = 0;
    const router = createRouter({
      log,
      group: 'billing.invoices',
      topics: ['orders'],
      middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 50 })],
    });
    router.on(TEST_TYPE, async () => {
      calls++;
      throw new PermanentFailure('customer account is closed');
    });
    const run = start(router);
    const [parked] = await waitForDeadLetters(log, 'orders.dead-letter', 1);
    await waitForNoLag(log, 'billing.invoices');
    await run.stop();
    assert.equal(calls, 1);
    assert.equal(parked?.extensions?.['dlcode'], 'PermanentFailure');
    assert.equal(parked?.extensions?.['dlattempts'], '1');
    assert.equal(parked?.extensions?.['dlerror'], 'customer account is closed');
  });

  void it('does not park an event interrupted by a stop: it stays uncommitted and is redelivered', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    let failures = 0;
    const first = createRouter({
      log,
      group: 'billing.invoices',
      topics: ['orders'],
      middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 10_000 })],
    });
    first.on(TEST_TYPE, async () => {
      failures++;
      throw new Error('slow downstream');
    });
    const run = start(first);
    await waitFor(() => failures === 1, 5000, 'the first failure');
    await run.stop();
    assert.equal(
      (await log.listTopics()).some((t) => t.name === 'orders.dead-letter'),
      false,
    );
    assert.equal(await committedOffset(log, 'billing.invoices', 'orders'), null);

    const redelivered: number[] = [];
    const second = createRouter({
      log,
      group: 'billing.invoices',
      topics: ['orders'],
      middleware: [deadLetter()],
    });
    second.on(TEST_TYPE, async (event) => {
      redelivered.push(event.offset);
    });
    const again = start(second);
    await waitForNoLag(log, 'billing.invoices');
    await again.stop();
    assert.deepEqual(redelivered, [0]);
  });

  void it('parks into the topic that topicFor names', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 2 });
    await log.append('orders', makeEvent(0, 'k'));
    const router = createRouter({
      log,
      group: 'billing.invoices',
      topics: ['orders'],
      middleware: [deadLetter({ topicFor: (topic) => `parked.${topic}` })],
    });
    router.on(TEST_TYPE, async () => {
      throw new Error('no');
    });
    const run = start(router);
    const [parked] = await waitForDeadLetters(log, 'parked.orders', 1);
    await run.stop();
    assert.equal(parked?.id, 'event-0');
    assert.equal(parked?.extensions?.['dlattempts'], '1');
  });
});
