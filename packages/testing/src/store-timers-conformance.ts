// The Store conformance group for durable timers (`tx.schedule`, `tx.cancelSchedule`,
// `fireDueTimers`, `startTimers`): what every store promises about a scheduled event.
import assert from 'node:assert/strict';
import { fireDueTimers, pendingTimers, startTimers } from '@herald/core';
import { heraldError } from './conformance-suite.ts';
import { makeEvent, readAll, waitFor } from './fixtures.ts';
import type { StoreConformanceGroup, StoreEnvironment } from './store-conformance.ts';

async function publishedIds(env: StoreEnvironment, topic: string): Promise<string[]> {
  await env.published();
  return (await readAll(env.log, topic)).map((event) => event.id);
}

/** A due time far enough ahead that nothing fires it unasked during a test. */
const LATER = () => Date.now() + 60 * 60 * 1000;

/** Timers: scheduled atomically with the transaction, emitted once at or after their time. */
export const storeTimersConformance: StoreConformanceGroup = {
  title: 'timers',
  define(test) {
    test('keeps a timer only if its transaction commits, and fires it at its time, not before, once', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('reminders', { partitions: 1 });
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.put('orders', 'o-0', { status: 'placed' });
          await tx.schedule(1_000, 'reminders', makeEvent(0, 'o-0'));
          throw new Error('rolled back');
        }),
      );
      const event = makeEvent(1, 'o-1', { subject: 'orders/1', extensions: { tenant: 'acme' } });
      const id = await store.transaction(async (tx) => {
        await tx.put('orders', 'o-1', { status: 'placed' });
        return tx.schedule(new Date(5_000), 'reminders', event);
      });
      assert.equal(id, 'event-1', "a timer's id is its event's id");
      assert.deepEqual(
        (await pendingTimers(store)).map((t) => [t.id, t.dueAt]),
        [['event-1', 5_000]],
        'the rolled-back timer is not there',
      );
      assert.deepEqual(await fireDueTimers(store, { now: 4_999 }), {
        fired: 0,
        failed: 0,
        nextDueAt: 5_000,
        lateByMs: 0,
        more: false,
      });
      assert.deepEqual(await publishedIds(env, 'reminders'), [], 'not before its time');
      const round = await fireDueTimers(store, { now: 5_250 });
      assert.equal(round.fired, 1);
      assert.equal(round.lateByMs, 250);
      assert.equal((await fireDueTimers(store, { now: 9_000 })).fired, 0, 'fired once');
      await env.published();
      const [fired, ...rest] = await readAll(log, 'reminders');
      assert.deepEqual(rest, []);
      assert.equal(fired?.id, 'event-1');
      assert.equal(fired?.subject, 'orders/1');
      assert.equal(fired?.partitionkey, 'o-1');
      assert.deepEqual(fired?.extensions, { tenant: 'acme' });
      assert.deepEqual(fired?.data, event.data);
      assert.deepEqual(await pendingTimers(store), []);
    });

    test('fires due timers in due order, in batches, leaving later ones pending', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('reminders', { partitions: 1 });
      await store.transaction(async (tx) => {
        for (const [i, at] of [
          [1, 300],
          [2, 100],
          [3, 200],
          [4, 900],
        ] as const)
          await tx.schedule(at, 'reminders', makeEvent(i));
      });
      const first = await fireDueTimers(store, { now: 500, limit: 2 });
      assert.equal(first.fired, 2);
      assert.equal(first.more, true, 'a full batch of due timers: more may be due');
      const second = await fireDueTimers(store, { now: 500, limit: 2 });
      assert.deepEqual([second.fired, second.more, second.nextDueAt], [1, false, 900]);
      assert.deepEqual(await publishedIds(env, 'reminders'), ['event-2', 'event-3', 'event-1']);
      assert.deepEqual(
        (await pendingTimers(store)).map((t) => t.id),
        ['event-4'],
      );
    });

    test('cancels a pending timer in a transaction, which then never fires; a rolled-back cancel keeps it', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('reminders', { partitions: 1 });
      await store.transaction(async (tx) => {
        await tx.schedule(100, 'reminders', makeEvent(1));
        await tx.schedule(100, 'reminders', makeEvent(2));
      });
      await assert.rejects(
        store.transaction(async (tx) => {
          assert.equal(await tx.cancelSchedule('event-2'), true);
          throw new Error('rolled back');
        }),
      );
      const cancelled = await store.transaction(async (tx) => [
        await tx.cancelSchedule('event-1'),
        await tx.cancelSchedule('event-1'),
        await tx.cancelSchedule('never-scheduled'),
      ]);
      assert.deepEqual(cancelled, [true, false, false]);
      assert.equal((await fireDueTimers(store, { now: 1_000 })).fired, 1);
      assert.deepEqual(await publishedIds(env, 'reminders'), ['event-2']);
      assert.equal(
        await store.transaction((tx) => tx.cancelSchedule('event-2')),
        false,
        'a fired timer is no longer pending',
      );
    });

    test('moves a timer scheduled again under its id to the new time', async ({ env, store, log }) => {
      await log.createTopic('reminders', { partitions: 1 });
      await store.transaction((tx) => tx.schedule(100, 'reminders', makeEvent(1)));
      await store.transaction((tx) => tx.schedule(LATER(), 'reminders', makeEvent(1)));
      assert.equal((await fireDueTimers(store, { now: 1_000 })).fired, 0);
      assert.equal((await pendingTimers(store)).length, 1);
      await store.transaction((tx) => tx.schedule(200, 'reminders', makeEvent(1)));
      assert.equal((await fireDueTimers(store, { now: 1_000 })).fired, 1);
      assert.deepEqual(await publishedIds(env, 'reminders'), ['event-1']);
      assert.deepEqual(await pendingTimers(store), []);
    });

    test('emits each timer once when several schedulers fire the same timers at once', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('reminders', { partitions: 2 });
      await store.transaction(async (tx) => {
        for (let i = 0; i < 30; i++) await tx.schedule(100 + i, 'reminders', makeEvent(i, `k${i % 5}`));
      });
      const rounds = await Promise.all(
        Array.from({ length: 4 }, () => fireDueTimers(store, { now: 10_000, limit: 100 })),
      );
      assert.equal(
        rounds.reduce((sum, r) => sum + r.fired, 0),
        30,
        `fired: ${rounds.map((r) => r.fired).join(', ')}`,
      );
      const ids = await publishedIds(env, 'reminders');
      assert.equal(ids.length, 30);
      assert.equal(new Set(ids).size, 30);
    });

    test(
      'moves a timer whose event cannot be emitted aside with the error, and fires the others',
      {
        skipUnless: (c) =>
          c.checksTopicsAtEmit
            ? undefined
            : 'this store never asks the log about topics at emit; its relay meets the unknown topic',
      },
      async ({ env, store, log }) => {
        await log.createTopic('reminders', { partitions: 1 });
        await store.transaction(async (tx) => {
          await tx.schedule(100, 'nowhere', makeEvent(1));
          await tx.schedule(200, 'reminders', makeEvent(2));
        });
        const round = await fireDueTimers(store, { now: 1_000 });
        assert.deepEqual([round.fired, round.failed], [1, 1]);
        assert.deepEqual(await publishedIds(env, 'reminders'), ['event-2']);
        const [failed] = await store.list<{ topic: string; error: string }>('herald.timers-failed');
        assert.equal(failed?.id, 'event-1');
        assert.equal(failed?.value.topic, 'nowhere');
        assert.match(failed?.value.error ?? '', /nowhere/);
        assert.deepEqual(await pendingTimers(store), []);
      },
    );

    test('refuses a timer with a bad topic, envelope or due time', async ({ store }) => {
      await assert.rejects(
        store.transaction((tx) => tx.schedule(100, 'no spaces', makeEvent(1))),
        heraldError('INVALID_ARGUMENT'),
      );
      await assert.rejects(
        store.transaction((tx) => tx.schedule(100, 'reminders', { ...makeEvent(1), id: '' })),
        heraldError('INVALID_ENVELOPE'),
      );
      await assert.rejects(
        store.transaction((tx) => tx.schedule(Number.NaN, 'reminders', makeEvent(1))),
        heraldError('INVALID_ARGUMENT'),
      );
      assert.deepEqual(await pendingTimers(store), []);
    });

    test('startTimers fires a timer scheduled in this process at its time, without waiting for its poll', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('reminders', { partitions: 1 });
      const timers = startTimers([store], { pollIntervalMs: 10 * 60 * 1000 });
      try {
        // The scheduler's first round found nothing and sleeps for ten minutes, unless woken.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const dueAt = Date.now() + 300;
        await store.transaction((tx) => tx.schedule(dueAt, 'reminders', makeEvent(1)));
        await waitFor(async () => (await pendingTimers(store)).length === 0, 10_000, 'the timer to fire');
        assert.deepEqual(await publishedIds(env, 'reminders'), ['event-1']);
      } finally {
        await timers.stop();
      }
    });
  },
};
