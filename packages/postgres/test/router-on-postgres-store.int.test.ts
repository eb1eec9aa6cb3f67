// The runtime's Router with PostgresStore as its store, end to end: an orders service emits
// through its outbox, a billing consumer handles the events with retry and idempotency on
// Postgres (attempt counts, inbox, state and emitted events in one transaction), and its own
// outbox relays what it emits. Duplicates re-appended to the log have no second effect.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRouter, defineEvent, idempotency, isHeraldError, retry } from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';
import { openPostgresStore, startOutboxRelay } from '@herald/postgres';
import { readAll } from '@herald/testing';
import { z } from 'zod';
import { postgresUnavailable, reportUnavailable, testSchema, waitFor } from './fixtures/test-postgres.ts';

const OrderPlaced = defineEvent({
  type: 'dev.herald.test.order-placed.v1',
  schema: z.object({ orderId: z.string(), amount: z.number().int().positive() }),
});
const InvoiceCreated = defineEvent({
  type: 'dev.herald.test.invoice-created.v1',
  schema: z.object({ invoiceId: z.string(), orderId: z.string(), amount: z.number().int() }),
});

const ORDERS = 24;
const amountOf = (i: number) => 10 + i;

const unavailable = await postgresUnavailable();
if (unavailable !== undefined) {
  reportUnavailable('Router on PostgresStore', unavailable);
} else {
  void describe('Router on PostgresStore', () => {
    void it('handles each event once through retries, serialization conflicts and duplicates, and relays what it emits', async () => {
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 3 });
      await log.createTopic('invoices', { partitions: 3 });

      // The orders service: its state and its events commit together; its relay publishes them.
      await using ordersDb = testSchema();
      await using orders = await openPostgresStore({ pool: ordersDb.pool, schema: ordersDb.schema });
      await using _ordersRelay = startOutboxRelay({ store: orders, log, pollIntervalMs: 20 });

      // The billing service: consumes orders, keeps invoices and a running total, emits invoices.
      await using billingDb = testSchema();
      await using billing = await openPostgresStore({ pool: billingDb.pool, schema: billingDb.schema });
      await using _billingRelay = startOutboxRelay({ store: billing, log, pollIntervalMs: 20 });
      const router = createRouter({
        log,
        group: 'billing.invoices',
        topics: ['orders'],
        store: billing,
        maxInFlight: 8,
        middleware: [retry({ maxAttempts: 3, initialDelayMs: 5 }), idempotency({ store: billing })],
      });
      const attempts = new Map<string, number[]>();
      // A transaction that lost to concurrent ones more often than the store runs it again fails
      // with CONTENTION, and retry() runs the handler once more: on a busy machine that is an
      // expected extra attempt, counted here so that any other extra attempt still fails the test.
      const contended = new Map<string, number>();
      const countContention = async (orderId: string, work: Promise<void>): Promise<void> => {
        try {
          await work;
        } catch (error) {
          if (isHeraldError(error) && error.code === 'CONTENTION') {
            contended.set(orderId, (contended.get(orderId) ?? 0) + 1);
          }
          throw error;
        }
      };
      router.on(OrderPlaced, async (order, event, ctx) => {
        attempts.set(order.orderId, [...(attempts.get(order.orderId) ?? []), ctx.attempt]);
        if (order.amount % 4 === 0 && ctx.attempt === 1) throw new Error('the payment service timed out');
        await countContention(
          order.orderId,
          ctx.transaction(async (tx) => {
            // Every handler updates the same total: concurrent keys collide, and the store runs
            // the losers again. The inbox entry must be part of the run that commits.
            const total = (await tx.get<number>('totals', 'all')) ?? 0;
            await tx.put('totals', 'all', total + order.amount);
            const invoiceId = `invoice-${order.orderId}`;
            await tx.put('invoices', invoiceId, { orderId: order.orderId, amount: order.amount });
            await tx.emit(
              'invoices',
              InvoiceCreated.create(
                { invoiceId, orderId: order.orderId, amount: order.amount },
                { source: '/test/billing', key: order.orderId },
              ),
            );
          }),
        );
        assert.equal(event.topic, 'orders');
      });
      const running = router.run();

      for (let i = 0; i < ORDERS; i++) {
        const orderId = `order-${i}`;
        await orders.transaction(async (tx) => {
          await tx.put('orders', orderId, { status: 'placed' });
          await tx.emit(
            'orders',
            OrderPlaced.create({ orderId, amount: amountOf(i) }, { source: '/test/orders', key: orderId }),
          );
        });
      }
      const expectedTotal = Array.from({ length: ORDERS }, (_, i) => amountOf(i)).reduce((a, b) => a + b);
      await waitFor(
        async () => (await billing.list('invoices')).length === ORDERS,
        'billing to invoice every order',
      );
      await waitFor(async () => {
        const { partitions } = await log.describeGroup('billing.invoices');
        return partitions.length > 0 && partitions.every((p) => p.lag === 0);
      }, 'the group to commit every order');

      // The same events again (a producer retry, a relay re-publishing after a crash).
      const placed = await readAll(log, 'orders');
      assert.equal(placed.length, ORDERS);
      for (const event of placed) await log.append('orders', event);
      await waitFor(async () => {
        const { partitions } = await log.describeGroup('billing.invoices');
        return partitions.reduce((sum, p) => sum + (p.committed ?? 0), 0) === 2 * ORDERS;
      }, 'the group to read the duplicates');
      await waitFor(async () => (await billing.outboxBacklog()) === 0, 'billing to relay its invoices');
      await router.stop();
      await running;

      assert.equal(
        await billing.get('totals', 'all'),
        expectedTotal,
        'an order was counted twice or not at all',
      );
      const invoices = await readAll(log, 'invoices');
      assert.equal(invoices.length, ORDERS);
      assert.equal(new Set(invoices.map((e) => InvoiceCreated.decode(e.data).orderId)).size, ORDERS);
      for (const event of placed) {
        const handled = attempts.get(OrderPlaced.decode(event.data).orderId);
        const { orderId, amount } = OrderPlaced.decode(event.data);
        const expected = (amount % 4 === 0 ? 2 : 1) + (contended.get(orderId) ?? 0);
        // The duplicates never reached the handler; a failed first attempt was retried once, and
        // so was each attempt that lost to concurrent transactions.
        assert.deepEqual(
          handled,
          Array.from({ length: expected }, (_, i) => i + 1),
          `attempts of ${event.id}`,
        );
        assert.equal(
          await billing.failures({
            group: 'billing.invoices',
            topic: 'orders',
            partition: event.partition,
            offset: event.offset,
          }),
          undefined,
          'attempt records are cleared once an event is handled',
        );
      }
    });
  });
}
