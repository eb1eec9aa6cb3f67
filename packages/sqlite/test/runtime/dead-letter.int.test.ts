// Faults F7 (a poison event that always throws) and F8 (undecodable or schema-invalid data) on
// the embedded log with SqliteStore: attempt counts live in the store, so a process killed
// between attempts goes on counting after the restart, and the poison event is parked within
// its retry budget with its original bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAll, waitFor } from '@herald/testing';
import { z } from 'zod';
import { createRouter, deadLetter, defineEvent, retry } from '@herald/core';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { linesOf, startChild } from './fixtures/children.ts';
import { ORDER_PLACED, order, seedOrders, tempDatabase } from './fixtures/orders.ts';

void describe('dead letters on the embedded log', { timeout: 60_000 }, () => {
  void it('parks a poison event after exactly maxAttempts attempts, counting on across a SIGKILL between attempts (F7)', async () => {
    using db = tempDatabase();
    await seedOrders(db.path, { total: 5, partitions: 1, keys: 1 });
    const options = JSON.stringify({ maxAttempts: 4, initialDelayMs: 150 });

    // The first process fails attempts 1 and 2, and is killed while waiting for attempt 3.
    const first = startChild('poison-consumer.ts', [db.path, options]);
    await first.waitFor((line) => line === 'attempt 2 order-0');
    await new Promise((resolve) => setTimeout(resolve, 60));
    first.signal('SIGKILL');
    await first.exited;
    assert.deepEqual(
      linesOf(first, 'attempt').filter((l) => l.endsWith('order-0')),
      ['1 order-0', '2 order-0'],
    );

    const second = startChild('poison-consumer.ts', [db.path, options]);
    assert.equal((await second.exited).code, 0, second.lines.slice(-3).join(' | '));
    assert.deepEqual(
      linesOf(second, 'attempt').filter((l) => l.endsWith('order-0')),
      ['3 order-0', '4 order-0'],
      'the restart did not go on counting where the killed process stopped',
    );
    assert.deepEqual(
      linesOf(second, 'attempt').filter((l) => !l.endsWith('order-0')),
      ['1 order-1', '1 order-2', '1 order-3', '1 order-4'],
      'the partition did not move on past the poison event',
    );

    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const [original] = await log.read('orders', { partition: 0, from: { offset: 0 }, limit: 1 });
    const parked = await readAll(log, 'orders.dead-letter');
    assert.equal(parked.length, 1);
    const [dead] = parked;
    assert.equal(dead?.id, 'order-0');
    assert.equal(dead?.partitionkey, original?.partitionkey);
    assert.equal(dead?.type, ORDER_PLACED);
    assert.ok(
      Buffer.from(dead.data!).equals(Buffer.from(original!.data!)),
      'the parked data is not byte-equal',
    );
    const ext = dead?.extensions ?? {};
    assert.equal(ext['dlattempts'], '4');
    assert.equal(ext['dlerror'], 'the tax service rejects this order');
    assert.equal(ext['dlcode'], 'Error');
    assert.equal(ext['dlgroup'], 'billing.invoices');
    assert.equal(ext['dltopic'], 'orders');
    assert.equal(ext['dlpartition'], '0');
    assert.equal(ext['dloffset'], '0');
    assert.ok(
      Date.parse(ext['dllastfailure']!) - Date.parse(ext['dlfirstfailure']!) >= 150 + 300,
      'the first failure time was not kept across the restart',
    );
    const group = await log.describeGroup('billing.invoices');
    assert.equal(group.partitions[0]?.committed, 5);
    const store = await openSqliteStore(log);
    assert.equal(
      await store.failures({ group: 'billing.invoices', topic: 'orders', partition: 0, offset: 0 }),
      undefined,
      'the parked delivery left its failure record behind',
    );
  });

  void it('parks undecodable and schema-invalid events with zero retries and a reason, and keeps going (F8)', async () => {
    using db = tempDatabase();
    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    await log.createTopic('orders', { partitions: 2 });
    const garbage = new Uint8Array([0xc3, 0x28, 0xa0, 0xa1]);
    await log.appendBatch('orders', [
      { ...order(0, 1), data: garbage },
      { ...order(1, 1), data: new TextEncoder().encode('{"i":1,"qty":"lots"}') },
      order(2, 1),
    ]);
    const OrderPlaced = defineEvent({
      type: ORDER_PLACED,
      schema: z.object({ i: z.number(), qty: z.number() }),
    });
    const attempts: string[] = [];
    const handled: number[] = [];
    const router = createRouter({
      log,
      group: 'billing.invoices',
      topics: ['orders'],
      store,
      middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 100 })],
    });
    router.on(
      OrderPlaced,
      async (data) => {
        handled.push(data.i);
      },
      {
        middleware: [
          (next) => async (event, ctx) => {
            attempts.push(event.id);
            await next(event, ctx);
          },
        ],
        // The orders share one key: the valid one goes through after the dead letters.
        deadLetters: 'skip',
      },
    );
    const run = router.run();
    await waitFor(
      async () => {
        const { partitions } = await log.describeGroup('billing.invoices');
        return partitions.length > 0 && partitions.every((p) => p.lag === 0);
      },
      10_000,
      'the group to commit everything',
    );
    await router.stop();
    await run;
    assert.deepEqual(handled, [2]);
    assert.deepEqual(attempts.toSorted(), ['order-0', 'order-1', 'order-2'], 'a poison event was retried');
    const parked = await readAll(log, 'orders.dead-letter');
    const byId = new Map(parked.map((e) => [e.id, e]));
    assert.equal(byId.get('order-0')?.extensions?.['dlcode'], 'DECODE_FAILED');
    assert.equal(byId.get('order-0')?.extensions?.['dlattempts'], '1');
    assert.ok(Buffer.from(byId.get('order-0')!.data!).equals(Buffer.from(garbage)));
    assert.equal(byId.get('order-1')?.extensions?.['dlcode'], 'VALIDATION_FAILED');
    assert.equal(byId.get('order-1')?.extensions?.['dlattempts'], '1');
    assert.match(byId.get('order-1')?.extensions?.['dlerror'] ?? '', /qty/);
    assert.equal(parked.length, 2);
  });
});
