import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_TYPE, makeEvent, waitFor } from '@herald/testing';
import type { StoredEvent } from '../../src/envelope.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { PermanentFailure } from '../../src/runtime/handler.ts';
import type { HandlerContext } from '../../src/runtime/handler.ts';
import { deadLetter } from '../../src/runtime/middleware/dead-letter.ts';
import { backoffDelay, isPermanent, retry } from '../../src/runtime/middleware/retry.ts';
import { createRouter } from '../../src/runtime/router.ts';
import { HeraldError } from '../../src/errors.ts';
import { MemoryStore } from './fixtures/memory-store.ts';
import type { DeliveryKey, FailureRecord } from '../../src/runtime/store.ts';
import { committedOffset, start, waitForNoLag, waitMonotonic } from './fixtures/harness.ts';

/** A session timeout no wall-clock jump in these tests can reach. */
const LONG_SESSION_MS = 24 * 3_600_000;

void describe('retry', () => {
  void it('retries a failing handler until it succeeds, with the attempt counted by the runtime', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const seen: { attempt: number; failuresSoFar: number | undefined }[] = [];
    const router = createRouter({
      log,
      group: 'test.retry',
      topics: ['orders'],
      middleware: [retry({ maxAttempts: 5, initialDelayMs: 5 })],
    });
    router.on(TEST_TYPE, async (_event, ctx) => {
      seen.push({ attempt: ctx.attempt, failuresSoFar: ctx.failures?.attempts });
      if (ctx.attempt < 3) throw new Error('not yet');
    });
    const run = start(router);
    await waitForNoLag(log, 'test.retry');
    await run.stop();
    assert.deepEqual(seen, [
      { attempt: 1, failuresSoFar: undefined },
      { attempt: 2, failuresSoFar: 1 },
      { attempt: 3, failuresSoFar: 2 },
    ]);
  });

  void it('gives up after maxAttempts and lets the error stop the router when nothing parks the event', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const failure = new Error('always');
    let calls = 0;
    const router = createRouter({
      log,
      group: 'test.exhausted',
      topics: ['orders'],
      middleware: [retry({ maxAttempts: 4, initialDelayMs: 2 })],
    });
    router.on(TEST_TYPE, async () => {
      calls++;
      throw failure;
    });
    await assert.rejects(router.run(), (error) => error === failure);
    assert.equal(calls, 4);
    assert.equal(await committedOffset(log, 'test.exhausted', 'orders'), null);
  });

  void it('ignores attempt counts that event headers claim: retry counts come from the runtime', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append(
      'orders',
      makeEvent(0, undefined, { extensions: { dlattempts: '99', attempt: '99', retrycount: '99' } }),
    );
    const attempts: number[] = [];
    const router = createRouter({
      log,
      group: 'test.spoofed',
      topics: ['orders'],
      middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 2 })],
    });
    router.on(TEST_TYPE, async (_event, ctx) => {
      attempts.push(ctx.attempt);
      throw new Error('fails');
    });
    const run = start(router);
    await waitForNoLag(log, 'test.spoofed');
    await run.stop();
    assert.deepEqual(attempts, [1, 2, 3]);
  });

  void it('does not retry a PermanentFailure or a poison event', async () => {
    assert.equal(isPermanent(new PermanentFailure('no such customer')), true);
    assert.equal(isPermanent(new HeraldError('DECODE_FAILED', 'x')), true);
    assert.equal(isPermanent(new HeraldError('VALIDATION_FAILED', 'x')), true);
    assert.equal(isPermanent(new HeraldError('CONFLICT', 'x')), true);
    assert.equal(isPermanent(new HeraldError('TIMEOUT', 'x')), false);
    assert.equal(isPermanent(new Error('x')), false);

    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    let calls = 0;
    const router = createRouter({
      log,
      group: 'test.permanent',
      topics: ['orders'],
      middleware: [retry({ maxAttempts: 5, initialDelayMs: 2 })],
    });
    router.on(TEST_TYPE, async () => {
      calls++;
      throw new PermanentFailure('order total does not add up');
    });
    await assert.rejects(router.run(), (error) => error instanceof PermanentFailure);
    assert.equal(calls, 1);
  });

  void it('retries a write that lost to concurrent writers (CONTENTION) until it wins', async () => {
    assert.equal(isPermanent(new HeraldError('CONTENTION', 'x')), false);
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const attempts: number[] = [];
    const router = createRouter({
      log,
      group: 'test.contention',
      topics: ['orders'],
      middleware: [retry({ maxAttempts: 5, initialDelayMs: 2 })],
    });
    router.on(TEST_TYPE, async (_event, ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt < 3) {
        throw new HeraldError('CONTENTION', 'a store transaction failed 10 times', {
          details: { attempts: 10 },
        });
      }
    });
    const run = start(router);
    await waitForNoLag(log, 'test.contention');
    await run.stop();
    assert.deepEqual(attempts, [1, 2, 3]);
  });

  void it('computes exponential backoff with full jitter, capped at maxDelayMs', () => {
    const options = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { ...options, random: () => 1 })),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => backoffDelay(n, { ...options, random: () => 0 })),
      [0, 0, 0],
    );
    assert.equal(backoffDelay(3, { ...options, random: () => 0.5 }), 200);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(4, options);
      assert.ok(delay >= 0 && delay <= 800, `delay ${delay} outside [0, 800]`);
    }
  });

  void it('keeps the configured backoff while the wall clock jumps an hour forward and back (F16)', async (t) => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const realNow = Date.now.bind(Date);
    let skew = 0;
    t.mock.method(Date, 'now', () => realNow() + skew);
    const startedAt: number[] = [];
    const router = createRouter({
      log,
      group: 'test.clock',
      topics: ['orders'],
      sessionTimeoutMs: LONG_SESSION_MS,
      middleware: [retry({ maxAttempts: 4, initialDelayMs: 60, multiplier: 2, random: () => 1 })],
    });
    router.on(TEST_TYPE, async (_event, ctx) => {
      startedAt.push(performance.now());
      // Jump forward after the first failure, back (past the start) after the second.
      if (ctx.attempt === 1) skew = 3_600_000;
      if (ctx.attempt === 2) skew = -3_600_000;
      if (ctx.attempt < 4) throw new Error(`attempt ${ctx.attempt} fails`);
    });
    const run = start(router);
    await waitMonotonic(() => startedAt.length === 4, 10_000, 'four attempts');
    await waitMonotonic(
      async () => (await committedOffset(log, 'test.clock', 'orders')) === 1,
      10_000,
      'commit',
    );
    await run.stop();
    const gaps = startedAt.slice(1).map((at, i) => at - startedAt[i]!);
    [60, 120, 240].forEach((expected, i) => {
      const gap = gaps[i]!;
      assert.ok(gap >= expected - 2, `delay ${i + 1} was ${gap.toFixed(1)} ms; the backoff says ${expected}`);
      assert.ok(
        gap < expected + 1000,
        `delay ${i + 1} was ${gap.toFixed(1)} ms; the backoff says ${expected}`,
      );
    });
  });

  void it('orders by offset, not by event time or the wall clock', async (t) => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const realNow = Date.now.bind(Date);
    let skew = 0;
    t.mock.method(Date, 'now', () => realNow() + skew);
    const hour = 3_600_000;
    for (let i = 0; i < 6; i++) {
      // Each event claims to be an hour older than the one before, and the clock goes back too.
      skew = -i * hour;
      await log.append('orders', makeEvent(i, 'k', { time: new Date(realNow() - i * hour).toISOString() }));
    }
    const handled: StoredEvent[] = [];
    const router = createRouter({
      log,
      group: 'test.offset-order',
      topics: ['orders'],
      sessionTimeoutMs: LONG_SESSION_MS,
      middleware: [retry({ maxAttempts: 3, initialDelayMs: 5 })],
    });
    router.on(TEST_TYPE, async (event, ctx: HandlerContext) => {
      if (event.offset === 1 && ctx.attempt === 1) {
        skew = hour;
        throw new Error('once');
      }
      handled.push(event);
    });
    const run = start(router);
    await waitMonotonic(() => handled.length === 6, 5000, 'six events');
    await run.stop();
    assert.deepEqual(
      handled.map((e) => e.offset),
      [0, 1, 2, 3, 4, 5],
    );
  });

  void it('keeps attempt counts in the store, so a restart between attempts goes on counting', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const store = new MemoryStore();
    const attempts: number[] = [];
    const runOnce = (initialDelayMs: number) => {
      const router = createRouter({
        log,
        group: 'test.persisted',
        topics: ['orders'],
        store,
        middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs, random: () => 1 })],
      });
      router.on(TEST_TYPE, async (_event, ctx) => {
        attempts.push(ctx.attempt);
        throw new Error('downstream is down');
      });
      return start(router);
    };
    // The first run waits long between attempts: it is stopped after its first failure.
    const first = runOnce(10_000);
    await waitFor(async () => (await store.failures(key(0)))?.attempts === 1, 5000, 'first failure');
    await first.stop();
    assert.deepEqual(attempts, [1]);

    const second = runOnce(2);
    await waitForNoLag(log, 'test.persisted');
    await second.stop();
    assert.deepEqual(attempts, [1, 2, 3, 4, 5], 'the restart goes on from attempt 2');
    const [parked] = await log.read('orders.dead-letter', { partition: 0, from: 'earliest' });
    assert.equal(parked?.extensions?.['dlattempts'], '5');
  });

  void it('keeps retrying, counting attempts itself, while the store cannot record failures', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0), makeEvent(1)]);
    // The store's writes fail for a while, as while a stalled process holds the write lock.
    const store = new UnavailableFailureRecords(2);
    const attempts: number[] = [];
    const router = createRouter({
      log,
      group: 'test.store-away',
      topics: ['orders'],
      store,
      middleware: [retry({ maxAttempts: 5, initialDelayMs: 2 })],
    });
    router.on(TEST_TYPE, async (event, ctx) => {
      if (event.offset === 0) attempts.push(ctx.attempt);
      if (event.offset === 0 && ctx.attempt < 4) throw new HeraldError('TIMEOUT', 'downstream is slow');
    });
    const run = start(router);
    await waitForNoLag(log, 'test.store-away');
    await run.stop();
    assert.deepEqual(attempts, [1, 2, 3, 4], 'the attempts went on, counted without the store');
    assert.equal(store.refused, 2);
  });

  void it('gives up after maxAttempts counted by itself when the store records no failure at all', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const store = new UnavailableFailureRecords(Infinity);
    const failure = new Error('always');
    let calls = 0;
    const router = createRouter({
      log,
      group: 'test.store-gone',
      topics: ['orders'],
      store,
      middleware: [retry({ maxAttempts: 3, initialDelayMs: 2 })],
    });
    router.on(TEST_TYPE, async () => {
      calls++;
      throw failure;
    });
    await assert.rejects(router.run(), (error) => error === failure, "the handler's error, not the store's");
    assert.equal(calls, 3);
  });

  void it('commits an event whose failure record could not be cleared, and keeps going', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0), makeEvent(1), makeEvent(2)]);
    const store = new UnclearableFailureRecords();
    const handled: number[] = [];
    const router = createRouter({
      log,
      group: 'test.unclearable',
      topics: ['orders'],
      store,
      middleware: [retry({ maxAttempts: 5, initialDelayMs: 2 })],
    });
    router.on(TEST_TYPE, async (event, ctx) => {
      if (ctx.attempt < 2) throw new Error('not yet');
      handled.push(event.offset);
    });
    const run = start(router);
    await waitForNoLag(log, 'test.unclearable');
    await run.stop();
    assert.deepEqual(handled, [0, 1, 2]);
    assert.equal(store.refused, 3);
  });

  void it('forgets the failures of an event once it succeeded', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const store = new MemoryStore();
    const router = createRouter({
      log,
      group: 'test.cleared',
      topics: ['orders'],
      store,
      middleware: [retry({ maxAttempts: 5, initialDelayMs: 2 })],
    });
    router.on(TEST_TYPE, async (_event, ctx) => {
      if (ctx.attempt < 3) throw new Error('not yet');
    });
    const run = start(router);
    await waitForNoLag(log, 'test.cleared');
    await run.stop();
    assert.equal(store.failureCount, 0, 'the failure record of a handled event was left behind');
  });
});

const key = (offset: number) => ({ group: 'test.persisted', topic: 'orders', partition: 0, offset });

/** A store that refuses to record the first `count` failures, as a store whose writes fail for a while. */
class UnavailableFailureRecords extends MemoryStore {
  #left: number;
  refused = 0;

  constructor(count: number) {
    super();
    this.#left = count;
  }

  override async recordFailure(key: DeliveryKey, error: string): Promise<FailureRecord> {
    if (this.#left > 0) {
      this.#left--;
      this.refused++;
      throw new HeraldError(
        'BACKEND_UNAVAILABLE',
        "another process held the log's write lock for over 5000 ms",
      );
    }
    return super.recordFailure(key, error);
  }
}

/** A store whose failure records cannot be cleared, as while its writes fail. */
class UnclearableFailureRecords extends MemoryStore {
  refused = 0;

  override async clearFailures(_key: DeliveryKey): Promise<void> {
    this.refused++;
    throw new HeraldError(
      'BACKEND_UNAVAILABLE',
      "another process held the log's write lock for over 5000 ms",
    );
  }
}
