import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_TYPE, makeEvent, sleep, waitFor } from '@herald/testing';
import type { StoredEvent } from '../../src/envelope.ts';
import { HeraldError, isHeraldError } from '../../src/errors.ts';
import type { EventLog, PartitionOffset, SubscribeOptions, Subscription } from '../../src/event-log.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { createRouter } from '../../src/runtime/router.ts';
import { retry } from '../../src/runtime/middleware/retry.ts';
import { committedOffset, gate, start, waitForNoLag } from './fixtures/harness.ts';
import { MemoryStore } from './fixtures/memory-store.ts';
import type { StoreTransaction } from '../../src/runtime/store.ts';

const OTHER_TYPE = 'dev.herald.testing.other-thing-happened.v1';

void describe('Router', () => {
  void it('handles the events of one key one at a time in offset order, and different keys concurrently', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 2 });
    const keys = ['k0', 'k1', 'k2', 'k3'];
    const events = [];
    for (let i = 0; i < 40; i++) events.push(makeEvent(i, keys[i % keys.length]));
    await log.appendBatch('orders', events);

    const handled = new Map<string, number[]>();
    const runningPerKey = new Map<string, number>();
    let running = 0;
    let peak = 0;
    let overlapWithinKey = false;
    const router = createRouter({ log, group: 'test.order', topics: ['orders'] });
    router.on(TEST_TYPE, async (event) => {
      const key = event.partitionkey!;
      const mine = (runningPerKey.get(key) ?? 0) + 1;
      runningPerKey.set(key, mine);
      if (mine > 1) overlapWithinKey = true;
      peak = Math.max(peak, ++running);
      await sleep(3);
      running--;
      runningPerKey.set(key, mine - 1);
      handled.set(key, [...(handled.get(key) ?? []), event.offset]);
    });
    const run = start(router);
    await waitFor(() => [...handled.values()].flat().length === 40, 10_000, '40 events handled');
    await run.stop();

    assert.equal(overlapWithinKey, false, 'two events of one key ran at the same time');
    for (const [key, seen] of handled) {
      assert.deepEqual(
        seen,
        seen.toSorted((a, b) => a - b),
        `events of ${key} were handled out of offset order`,
      );
      assert.equal(seen.length, 10);
    }
    assert.ok(peak >= 2, `different keys never ran concurrently (peak ${peak})`);
  });

  void it('keeps other keys of the same partition moving while one key retries, and applies the retried key in offset order (F6)', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    // The stuck key's events come first: later events of other keys must not wait behind them.
    await log.appendBatch('orders', [
      makeEvent(0, 'stuck'),
      makeEvent(1, 'stuck'),
      makeEvent(2, 'stuck'),
      ...Array.from({ length: 20 }, (_, i) => makeEvent(10 + i, `other-${i % 4}`)),
    ]);
    const failFirst = 3;
    const effects: { key: string; offset: number; at: number }[] = [];
    const attemptsOfFirst: number[] = [];
    let lastAttemptStartedAt = Infinity;
    const router = createRouter({
      log,
      group: 'test.retrying-key',
      topics: ['orders'],
      middleware: [retry({ maxAttempts: 5, initialDelayMs: 40, random: () => 1 })],
    });
    router.on(TEST_TYPE, async (event, ctx) => {
      if (event.offset === 0) {
        attemptsOfFirst.push(ctx.attempt);
        if (ctx.attempt <= failFirst) throw new Error(`attempt ${ctx.attempt} fails`);
        lastAttemptStartedAt = performance.now();
      }
      await sleep(1);
      effects.push({ key: event.partitionkey!, offset: event.offset, at: performance.now() });
    });
    const run = start(router);
    await waitFor(() => effects.length === 23, 10_000, 'every event handled');
    await waitForNoLag(log, 'test.retrying-key');
    await run.stop();

    assert.deepEqual(attemptsOfFirst, [1, 2, 3, 4]);
    assert.deepEqual(
      effects.filter((e) => e.key === 'stuck').map((e) => e.offset),
      [0, 1, 2],
      "the retried key's effects apply in offset order",
    );
    const others = effects.filter((e) => e.key !== 'stuck');
    assert.equal(others.length, 20);
    for (const other of others) {
      assert.ok(
        other.at < lastAttemptStartedAt,
        `event ${other.offset} of ${other.key} waited for the retrying key's last attempt`,
      );
    }
  });

  void it('never runs more than maxInFlight events at once', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 2 });
    await log.appendBatch(
      'orders',
      Array.from({ length: 200 }, (_, i) => makeEvent(i, `key-${i % 50}`)),
    );
    let running = 0;
    let peak = 0;
    let handled = 0;
    const router = createRouter({ log, group: 'test.bounded', topics: ['orders'], maxInFlight: 4 });
    router.on(TEST_TYPE, async () => {
      peak = Math.max(peak, ++running);
      await sleep(2);
      running--;
      handled++;
    });
    const run = start(router);
    await waitFor(() => handled === 200, 15_000, '200 events handled');
    await run.stop();
    assert.ok(peak <= 4, `${peak} handlers ran at once; maxInFlight is 4`);
    assert.ok(peak >= 2, `the bound was never approached (peak ${peak}); the test proves nothing`);
  });

  void it('skips and commits events that no route handles', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [
      makeEvent(0),
      makeEvent(1, undefined, { type: OTHER_TYPE }),
      makeEvent(2, undefined, { type: OTHER_TYPE }),
    ]);
    const seen: number[] = [];
    const router = createRouter({ log, group: 'test.unrouted', topics: ['orders'] });
    router.on(TEST_TYPE, async (event) => {
      seen.push(event.offset);
    });
    const run = start(router);
    await waitFor(
      async () => (await committedOffset(log, 'test.unrouted', 'orders')) === 3,
      5000,
      'commit 3',
    );
    await run.stop();
    assert.deepEqual(seen, [0]);
  });

  void it("fails on an event no route handles when unrouted is 'fail', committing nothing past it", async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [
      makeEvent(0),
      makeEvent(1, undefined, { type: OTHER_TYPE }),
      makeEvent(2),
    ]);
    const router = createRouter({ log, group: 'test.strict', topics: ['orders'], unrouted: 'fail' });
    router.on(TEST_TYPE, async () => {});
    await assert.rejects(router.run(), (error) => isHeraldError(error, 'UNSUPPORTED'));
    assert.equal(await committedOffset(log, 'test.strict', 'orders'), 1);
  });

  void it('stops on a handler error that no middleware handles, commits nothing past it, and redelivers it after a restart', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch(
      'orders',
      Array.from({ length: 5 }, (_, i) => makeEvent(i)),
    );
    const failure = new Error('the database is down');
    const first: number[] = [];
    const router = createRouter({ log, group: 'test.failing', topics: ['orders'] });
    router.on(TEST_TYPE, async (event) => {
      if (event.offset === 2) throw failure;
      first.push(event.offset);
    });
    await assert.rejects(router.run(), (error) => error === failure);
    assert.deepEqual(first, [0, 1]);
    assert.equal(await committedOffset(log, 'test.failing', 'orders'), 2, 'committed past the failed event');

    const second: number[] = [];
    const restarted = createRouter({ log, group: 'test.failing', topics: ['orders'] });
    restarted.on(TEST_TYPE, async (event) => {
      second.push(event.offset);
    });
    const run = start(restarted);
    await waitForNoLag(log, 'test.failing');
    await run.stop();
    assert.deepEqual(second, [2, 3, 4], 'the restart begins with the failed event');
  });

  void it('commits a partition only up to its oldest unfinished event', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [
      makeEvent(0, 'slow'),
      ...Array.from({ length: 5 }, (_, i) => makeEvent(i + 1, 'fast')),
    ]);
    const slow = gate();
    let fastDone = 0;
    const router = createRouter({ log, group: 'test.watermark', topics: ['orders'], commitIntervalMs: 10 });
    router.on(TEST_TYPE, async (event) => {
      if (event.partitionkey === 'slow') await slow.opened;
      else fastDone++;
    });
    const run = start(router);
    await waitFor(() => fastDone === 5, 5000, 'the fast key to finish');
    await sleep(100);
    assert.equal(
      await committedOffset(log, 'test.watermark', 'orders'),
      null,
      'offsets 1-5 are done but 0 is not: nothing may be committed',
    );
    slow.open();
    await waitFor(
      async () => (await committedOffset(log, 'test.watermark', 'orders')) === 6,
      5000,
      'commit 6',
    );
    await run.stop();
  });

  void it('keeps running when a periodic commit fails (the log away for a while) and commits on a later tick', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0, 'a'), makeEvent(1, 'b')]);
    let failing = 3;
    const flaky = withMethods<EventLog>(log, {
      subscribe: async (options: SubscribeOptions) => {
        const subscription = await log.subscribe(options);
        return withMethods<Subscription>(subscription, {
          commit: async (positions: StoredEvent | readonly PartitionOffset[]) => {
            if (failing-- > 0) throw new HeraldError('BACKEND_UNAVAILABLE', 'the log is away');
            await subscription.commit(positions);
          },
        });
      },
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const router = createRouter({
        log: flaky,
        group: 'test.flaky-commit',
        topics: ['orders'],
        commitIntervalMs: 10,
      });
      let handled = 0;
      router.on(TEST_TYPE, async () => {
        handled++;
      });
      const run = start(router);
      await waitFor(
        async () => (await committedOffset(log, 'test.flaky-commit', 'orders')) === 2,
        5000,
        'a commit after the failed ones',
      );
      assert.equal(handled, 2);
      assert.ok(failing < 0, 'the first commits failed');
      assert.equal(run.outcome.settled, false, 'the router kept running');
      await run.stop();
      assert.deepEqual(unhandled, [], 'no failed commit was left unhandled');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  void it("commits as often as its log's capabilities say when no commitIntervalMs is given", async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0, 'a'), makeEvent(1, 'b')]);
    const every = (commitIntervalMs: number) =>
      withMethods<EventLog>(log, { capabilities: { ...log.capabilities, commitIntervalMs } });
    const quick = createRouter({ log: every(10), group: 'test.quick', topics: ['orders'] });
    const slow = createRouter({ log: every(60_000), group: 'test.slow', topics: ['orders'] });
    let slowHandled = 0;
    quick.on(TEST_TYPE, async () => undefined);
    slow.on(TEST_TYPE, async () => void slowHandled++);
    const runs = [start(quick), start(slow)];
    await waitFor(
      async () => (await committedOffset(log, 'test.quick', 'orders')) === 2,
      5000,
      'the quick group to commit',
    );
    await waitFor(() => slowHandled === 2, 5000, 'the slow group to handle both');
    // Well past the 100 ms a router would otherwise use.
    await sleep(300);
    assert.equal(
      await committedOffset(log, 'test.slow', 'orders'),
      null,
      'not committed before its interval',
    );
    for (const run of runs) await run.stop();
    assert.equal(await committedOffset(log, 'test.slow', 'orders'), 2, 'committed when it stops');
  });

  void it('on stop, finishes work in flight, commits it and leaves the group', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0), makeEvent(1)]);
    const inFlight = gate();
    const release = gate();
    const handled: number[] = [];
    let sawAbort = false;
    const router = createRouter({ log, group: 'test.stop', topics: ['orders'], commitIntervalMs: 60_000 });
    router.on(TEST_TYPE, async (event, ctx) => {
      inFlight.open();
      await release.opened;
      sawAbort = ctx.signal.aborted;
      handled.push(event.offset);
    });
    const run = start(router);
    await inFlight.opened;
    let stopped = false;
    const stopping = run.stop().then(() => (stopped = true));
    await sleep(50);
    assert.equal(stopped, false, 'stop() returned while a handler was still running');
    release.open();
    await stopping;
    assert.deepEqual(handled, [0], 'an event was started after stop()');
    assert.equal(sawAbort, true, "the handler's signal tells it the router is stopping");
    assert.equal(await committedOffset(log, 'test.stop', 'orders'), 1, 'the finished event was committed');
    assert.deepEqual((await log.describeGroup('test.stop')).members, []);
  });

  void it('installs no process-wide signal handlers, and stops when the signal given to run is aborted', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const listeners = () => [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const before = listeners();
    const router = createRouter({ log, group: 'test.signals', topics: ['orders'] });
    router.on(TEST_TYPE, async () => {});
    const stop = new AbortController();
    const run = start(router, { signal: stop.signal });
    await waitForNoLag(log, 'test.signals');
    assert.deepEqual(listeners(), before, 'the router added a signal handler');
    stop.abort();
    await run.done;
    assert.deepEqual((await log.describeGroup('test.signals')).members, []);
  });

  void it('resolves run() when stopped while it is still joining its group, handling nothing and committing nothing', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    // A SIGTERM that arrives while the process is starting: stop() before subscribe() resolved.
    const router = createRouter({ log, group: 'test.early-stop', topics: ['orders'] });
    let handled = 0;
    router.on(TEST_TYPE, async () => {
      handled++;
    });
    const running = router.run();
    await router.stop();
    await running;
    assert.equal(handled, 0);
    const group = await log.describeGroup('test.early-stop');
    assert.deepEqual(group.members, [], 'the router left the group');
    assert.equal(group.partitions.find((p) => p.topic === 'orders')?.committed ?? null, null);
  });

  void it("waits, without stopping, while the store cannot keep a new partition's backfill boundary for a moment", async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    // Its first three transactions fail, as while another process holds the write lock.
    const store = new UnavailableAtFirst(3);
    const handled: number[] = [];
    const router = createRouter({ log, group: 'test.boundary-away', topics: ['orders'], store });
    router.on(TEST_TYPE, async (event) => {
      handled.push(event.offset);
    });
    const run = start(router);
    await waitForNoLag(log, 'test.boundary-away');
    await run.stop();
    assert.deepEqual(handled, [0]);
    assert.equal(store.refused, 3);
    assert.ok(
      (await store.list('herald.backfill')).length === 1,
      'the boundary was kept once the store was back',
    );
  });

  void it('stops cleanly while it waits for the store to keep a backfill boundary', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const store = new UnavailableAtFirst(Infinity);
    let handled = 0;
    const router = createRouter({ log, group: 'test.boundary-gone', topics: ['orders'], store });
    router.on(TEST_TYPE, async () => {
      handled++;
    });
    const running = router.run();
    await waitFor(() => store.refused >= 2, 5000, 'two refused transactions');
    await router.stop();
    await running;
    assert.equal(handled, 0);
    assert.equal(await committedOffset(log, 'test.boundary-gone', 'orders'), null);
  });

  void it('suppresses declared effects for history older than the group, and performs them for events appended after it joined', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0), makeEvent(1)]);
    const fired: number[] = [];
    const replaying: boolean[] = [];
    const router = createRouter({ log, group: 'test.backfill', topics: ['orders'] });
    router.on(TEST_TYPE, async (event, ctx) => {
      replaying.push(ctx.replaying);
      const key = await ctx.effect('email', (idempotencyKey) => {
        fired.push(event.offset);
        return idempotencyKey;
      });
      if (!ctx.replaying) assert.equal(key, `test.backfill/${event.id}/email`);
    });
    const run = start(router);
    await waitFor(
      async () => (await committedOffset(log, 'test.backfill', 'orders')) === 2,
      5000,
      'backfill',
    );
    await log.append('orders', makeEvent(2));
    await waitFor(
      async () => (await committedOffset(log, 'test.backfill', 'orders')) === 3,
      5000,
      'live event',
    );
    await run.stop();
    assert.deepEqual(replaying, [true, true, false]);
    assert.deepEqual(fired, [2]);
  });

  void it('performs the effects of events appended after the group joined, even before it read its first event', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const fired: number[] = [];
    let handled = 0;
    const router = createRouter({ log, group: 'test.live', topics: ['orders'] });
    router.on(TEST_TYPE, async (event, ctx) => {
      await ctx.effect('email', () => fired.push(event.offset));
      handled++;
    });
    const run = start(router);
    await waitFor(
      async () => (await log.describeGroup('test.live')).members.some((m) => m.partitions.length === 1),
      5000,
      'the router to own the partition',
    );
    await log.appendBatch(
      'orders',
      Array.from({ length: 20 }, (_, i) => makeEvent(i)),
    );
    await waitFor(() => handled === 20, 5000, '20 events handled');
    await run.stop();
    assert.equal(fired.length, 20, 'events published after the group went live are not backfill');
  });

  void it('refuses a maxInFlight below 1 and a router without topics', () => {
    const log = {} as never;
    assert.throws(
      () => createRouter({ log, group: 'g', topics: ['t'], maxInFlight: 0 }),
      (e) => isHeraldError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => createRouter({ log, group: 'g', topics: [] }),
      (e) => isHeraldError(e, 'INVALID_ARGUMENT'),
    );
  });
});

/** `target` with some methods replaced; every other member is `target`'s own (private fields work). */
function withMethods<T extends object>(target: T, replaced: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(object, property) {
      if (Object.hasOwn(replaced, property)) return replaced[property as keyof T];
      const value: unknown = Reflect.get(object, property, object);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

/** A store whose first `count` transactions fail as an unavailable store's do. */
class UnavailableAtFirst extends MemoryStore {
  #left: number;
  refused = 0;

  constructor(count: number) {
    super();
    this.#left = count;
  }

  override transaction<T>(fn: (tx: StoreTransaction) => Promise<T> | T): Promise<T> {
    if (this.#left > 0) {
      this.#left--;
      this.refused++;
      return Promise.reject(
        new HeraldError('BACKEND_UNAVAILABLE', "another process held the log's write lock for over 5000 ms"),
      );
    }
    return super.transaction(fn);
  }
}
