// The runtime suite's timer test: a handler schedules an event with its state; two schedulers
// (two processes on one store) race to fire it; the group that consumes it has one effect per
// timer, never before its time. Registered by `describeRuntimeConformance`.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  causationOf,
  createRouter,
  deadLetter,
  defineEvent,
  idempotency,
  retry,
  startTimers,
} from '@herald/core';
import type { CloudEvent, EventLog, Store } from '@herald/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { waitFor } from './fixtures.ts';

interface Target {
  readonly name: string;
  setup(): Promise<{ readonly log: EventLog; readonly store: Store } & AsyncDisposable>;
}

const orderSchema: StandardSchemaV1<unknown, { order: string }> = {
  '~standard': {
    version: 1,
    vendor: 'herald-runtime-conformance',
    validate(value: unknown) {
      const order = (value as { order?: unknown } | null)?.order;
      return typeof order === 'string'
        ? { value: { order } }
        : { issues: [{ message: 'order must be a string', path: ['order'] }] };
    },
  },
};

const Placed = defineEvent({ type: 'dev.herald.test.runtime.order-placed.v1', schema: orderSchema });
const DecisionDue = defineEvent({ type: 'dev.herald.test.runtime.decision-due.v1', schema: orderSchema });

const DELAY_MS = 400;

/** Registers the timer test of the runtime suite for `target`. */
export function timerRuntimeTests(target: Target, deadlineMs: number): void {
  void it('fires a timer a handler scheduled with its state once, at or after its time, with two schedulers racing', async () => {
    await using env = await target.setup();
    const { log, store } = env;
    await log.createTopic('orders', { partitions: 2 });
    await log.createTopic('deadlines', { partitions: 2 });
    const orders = Array.from({ length: 6 }, (_, i) => `o${i}`);
    const placedAt = new Map<string, number>();
    const placing = createRouter({
      log,
      group: 'rt.timers.placing',
      topics: ['orders'],
      store,
      middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 20 }), idempotency({ store })],
    });
    placing.on(Placed, async ({ order }, _event, ctx) => {
      await ctx.transaction(async (tx) => {
        const at = Date.now();
        await tx.put('rt.orders', order, { at });
        await tx.schedule(
          { delayMs: DELAY_MS },
          'deadlines',
          DecisionDue.create({ order }, { source: '/rt', key: order, id: `${order}/decision-due` }),
        );
        // The one order decided in time cancels its timer.
        if (order === 'o0') assert.equal(await tx.cancelSchedule(`${order}/decision-due`), true);
        placedAt.set(order, at);
      });
    });
    const due: CloudEvent[] = [];
    const firedAt = new Map<string, number>();
    const deciding = createRouter({
      log,
      group: 'rt.timers.deciding',
      topics: ['deadlines'],
      store,
      middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 20 }), idempotency({ store })],
    });
    deciding.on(DecisionDue, async ({ order }, event, ctx) => {
      await ctx.transaction(async (tx) => {
        const effects = ((await tx.get<number>('rt.timeouts', order)) ?? 0) + 1;
        await tx.put('rt.timeouts', order, effects);
      });
      firedAt.set(order, Date.now());
      due.push(event);
    });
    // Two schedulers on one store, as two processes would run them.
    const schedulers = [startTimers([store]), startTimers([store])];
    const runs = [placing.run(), deciding.run()];
    try {
      await log.appendBatch(
        'orders',
        orders.map((order) => Placed.create({ order }, { source: '/rt', key: order, id: `${order}/placed` })),
      );
      await waitFor(
        async () => {
          const effects = await Promise.all(orders.slice(1).map((o) => store.get<number>('rt.timeouts', o)));
          return effects.every((n) => n === 1);
        },
        deadlineMs,
        'every timer that was not cancelled fired',
      );
    } finally {
      for (const scheduler of schedulers) await scheduler.stop();
      await placing.stop();
      await deciding.stop();
      await Promise.all(runs);
    }
    for (const order of orders.slice(1)) {
      assert.equal(await store.get('rt.timeouts', order), 1, `${order}: one effect`);
      assert.ok(firedAt.get(order)! >= placedAt.get(order)! + DELAY_MS, `${order}: not before its time`);
    }
    assert.equal(await store.get('rt.timeouts', 'o0'), undefined, 'the cancelled timer never fired');
    const first = due.find((event) => event.id === 'o1/decision-due');
    assert.equal(first?.partitionkey, 'o1');
    assert.equal(causationOf(first), 'o1/placed', 'caused by the event whose handler scheduled it');
  });
}
