import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { openMemoryLog } from '../../src/memory.ts';
import type { CloudEvent } from '../../src/envelope.ts';
import { HeraldError } from '../../src/errors.ts';
import type { Store } from '../../src/runtime/store.ts';
import { dueTimeOf, fireDueTimers, pendingTimers, startTimers } from '../../src/runtime/timers.ts';
import { timerMetrics } from '../../src/timer-metrics.ts';
import { MemoryStore } from './fixtures/memory-store.ts';

const reminder = (i: number): CloudEvent => ({
  specversion: '1.0',
  id: `reminder-${i}`,
  source: '/timers-test',
  type: 'dev.herald.test.reminder.v1',
  data: new TextEncoder().encode(`{"i":${i}}`),
});

async function waitUntil(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

void describe('durable timers', () => {
  void it('turns a due time into whole ms, rounded up, and refuses one before 1970 or not a number', () => {
    assert.equal(dueTimeOf(1_000.2), 1_001);
    assert.equal(dueTimeOf(new Date(5_000)), 5_000);
    assert.equal(dueTimeOf({ delayMs: 250 }, 10_000), 10_250);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, { delayMs: Number.NaN }]) {
      assert.throws(
        () => dueTimeOf(bad),
        (error) => error instanceof HeraldError && error.code === 'INVALID_ARGUMENT',
      );
    }
  });

  void it('stops at once while it sleeps until a far-away timer', async () => {
    const log = await openMemoryLog();
    await log.createTopic('reminders', { partitions: 1 });
    const store = new MemoryStore(log);
    await store.transaction((tx) => tx.schedule(Date.now() + 3_600_000, 'reminders', reminder(1)));
    const timers = startTimers([store]);
    await timers.fire();
    const started = performance.now();
    await timers.stop();
    assert.ok(performance.now() - started < 60_000, 'stop did not wait for the timer, due in an hour');
    assert.equal((await pendingTimers(store)).length, 1);
    await log.close();
  });

  void it('reports a failed round and tries again, firing once the store answers', async () => {
    const log = await openMemoryLog();
    await log.createTopic('reminders', { partitions: 1 });
    const memory = new MemoryStore(log);
    await memory.transaction((tx) => tx.schedule(0, 'reminders', reminder(1)));
    let failing = 2;
    const flaky: Store = new Proxy(memory, {
      get(target, property) {
        if (property === 'list' && failing > 0) {
          return () => {
            failing--;
            return Promise.reject(new HeraldError('BACKEND_UNAVAILABLE', 'the store is away'));
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const errors: unknown[] = [];
    const timers = startTimers([flaky], { onError: (error) => errors.push(error) });
    try {
      await waitUntil('the timer to fire', async () => (await pendingTimers(memory)).length === 0);
    } finally {
      await timers.stop();
    }
    assert.equal(errors.length, 2);
    assert.equal((await log.read('reminders', { partition: 0, from: 'earliest' })).length, 1);
    await log.close();
  });

  void it('counts fired timers and reads how overdue the earliest pending one is at each scrape', async () => {
    const log = await openMemoryLog();
    await log.createTopic('reminders', { partitions: 1 });
    const store = new MemoryStore(log);
    const registry = new Registry();
    const measured = timerMetrics(registry, [{ name: 'orders', store }], { now: () => 70_000 });
    await store.transaction(async (tx) => {
      await tx.schedule(10_000, 'reminders', reminder(1));
      await tx.schedule(20_000, 'reminders', reminder(2));
    });
    const overdue = async () =>
      (await registry.getSingleMetric('herald_timers_overdue_seconds')!.get()).values;
    assert.deepEqual(
      (await overdue()).map((v) => [v.labels['store'], v.value]),
      [['orders', 60]],
    );
    measured.onFired(await fireDueTimers(store, { now: 15_000 }), store);
    assert.deepEqual(
      (await overdue()).map((v) => v.value),
      [50],
    );
    const fired = await registry.getSingleMetric('herald_timers_fired_total')!.get();
    assert.deepEqual(
      fired.values.map((v) => [v.labels['store'], v.value]),
      [['orders', 1]],
    );
    await log.close();
  });
});
