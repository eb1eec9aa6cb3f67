// The runtime's behaviours on a real backend: what a router with the standard middleware
// promises (per-key non-blocking retry, dead letters and poison, one effect per event, replay
// without effects, redrive, keys parked behind their dead letter), run the same way on every log with the store it needs. A backend's
// test file supplies a target; the suite says why it skips what a target cannot do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRouter, deadLetter, defineEvent, idempotency, retry } from '@herald/core';
import type { CloudEvent, EventLog, Store, StoredEvent } from '@herald/core';
import { deadLetterMetadataOf, discard, parkedKeys, redrive } from '@herald/core/ops';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { readAll, waitFor } from './fixtures.ts';
import { timerRuntimeTests } from './runtime-timers-conformance.ts';

/** A log and the store a service on it uses, fresh for one test. */
export interface RuntimeEnvironment extends AsyncDisposable {
  readonly log: EventLog;
  readonly store: Store;
}

/** A backend under the runtime suite. */
export interface RuntimeTarget {
  readonly name: string;
  setup(): Promise<RuntimeEnvironment>;
  /** How long a delivery, a rebalance or an outbox relay may take. Default 15 000 ms. */
  readonly deadlineMs?: number;
}

/** `{ n: integer }`, as a Standard Schema written out (the suite depends on no schema library). */
const placedSchema: StandardSchemaV1<unknown, { n: number }> = {
  '~standard': {
    version: 1,
    vendor: 'herald-runtime-conformance',
    validate(value: unknown) {
      const n = (value as { n?: unknown } | null)?.n;
      return typeof value === 'object' && value !== null && Number.isInteger(n)
        ? { value: { n: n as number } }
        : { issues: [{ message: 'n must be an integer', path: ['n'] }] };
    },
  },
};

const Placed = defineEvent({ type: 'dev.herald.test.runtime.placed.v1', schema: placedSchema });

const encoder = new TextEncoder();

function placed(id: string, key: string, n: number, data?: string): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source: '/runtime-conformance',
    type: Placed.type,
    datacontenttype: 'application/json',
    partitionkey: key,
    data: encoder.encode(data ?? JSON.stringify({ n })),
  };
}

/** Runs `router` until `done` holds, then stops it; a router that fails fails the test. */
async function runUntil(
  router: ReturnType<typeof createRouter>,
  done: () => Promise<boolean> | boolean,
  deadlineMs: number,
  what: string,
): Promise<void> {
  let failure: unknown;
  const running = router.run().catch((error: unknown) => {
    failure = error;
  });
  try {
    await waitFor(
      async () => {
        if (failure !== undefined)
          throw failure instanceof Error ? failure : new Error('the router stopped', { cause: failure });
        return done();
      },
      deadlineMs,
      what,
    );
  } finally {
    await router.stop();
    await running;
  }
}

async function lagIsZero(log: EventLog, group: string): Promise<boolean> {
  const { partitions } = await log.describeGroup(group);
  return partitions.length > 0 && partitions.every((p) => p.lag === 0);
}

/**
 * Defines the runtime suite for `target`: one `describe` with a test per behaviour.
 *
 * @example describeRuntimeConformance({ name: 'sqlite', setup: async () => { … } });
 */
export function describeRuntimeConformance(target: RuntimeTarget): void {
  const deadlineMs = target.deadlineMs ?? 15_000;
  void describe(`runtime on ${target.name}`, { timeout: deadlineMs * 6 }, () => {
    void it('retries a failing event without holding back other keys, and keeps its own key in order (F6)', async () => {
      await using env = await target.setup();
      const { log, store } = env;
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch('orders', [
        placed('a1', 'A', 1),
        placed('b1', 'B', 1),
        placed('a2', 'A', 2),
        placed('b2', 'B', 2),
        placed('b3', 'B', 3),
      ]);
      const handled: string[] = [];
      const router = createRouter({
        log,
        group: 'rt.retry',
        topics: ['orders'],
        store,
        middleware: [deadLetter(), retry({ maxAttempts: 5, initialDelayMs: 300 }), idempotency({ store })],
      });
      router.on(Placed, async (_data, event, ctx) => {
        if (event.id === 'a1' && ctx.attempt < 3) throw new Error(`a1 fails attempt ${ctx.attempt}`);
        await ctx.transaction((tx) => tx.put('rt.handled', event.id, ctx.attempt));
        handled.push(event.id);
      });
      await runUntil(router, () => handled.length === 5, deadlineMs, 'every event handled');
      assert.ok(handled.indexOf('a1') < handled.indexOf('a2'), `key A in order: ${handled.join(', ')}`);
      assert.deepEqual(
        handled.filter((id) => id.startsWith('b')),
        ['b1', 'b2', 'b3'],
      );
      assert.ok(
        handled.indexOf('b3') < handled.indexOf('a1'),
        `key B did not wait for A's retries: ${handled.join(', ')}`,
      );
      assert.equal(await store.get('rt.handled', 'a1'), 3, 'a1 succeeded on its third attempt');
    });

    void it('parks a poison event after maxAttempts and an undecodable one at once, each with why, and goes on (F7, F8)', async () => {
      await using env = await target.setup();
      const { log, store } = env;
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch('orders', [
        placed('poison', 'P', 1),
        placed('garbled', 'G', 0, '{"n":"not a number"}'),
        placed('fine', 'F', 3),
      ]);
      const attempts = new Map<string, number>();
      const router = createRouter({
        log,
        group: 'rt.poison',
        topics: ['orders'],
        store,
        middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 20 }), idempotency({ store })],
      });
      router.on(Placed, async (_data, event, ctx) => {
        attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1);
        if (event.id === 'poison') throw new Error('this order can never be handled');
        await ctx.transaction((tx) => tx.put('rt.handled', event.id, true));
      });
      const parked = async () => {
        if (!(await log.listTopics()).some((t) => t.name === 'orders.dead-letter')) return [];
        return readAll(log, 'orders.dead-letter');
      };
      await runUntil(
        router,
        async () => (await parked()).length === 2 && (await store.get('rt.handled', 'fine')) === true,
        deadlineMs,
        'two dead letters and the fine event handled',
      );
      const byId = new Map((await parked()).map((e) => [e.id, deadLetterMetadataOf(e)]));
      assert.equal(byId.get('poison')?.attempts, 3);
      assert.equal(byId.get('poison')?.group, 'rt.poison');
      assert.match(byId.get('poison')?.error ?? '', /can never be handled/);
      assert.equal(attempts.get('poison'), 3);
      assert.equal(attempts.get('garbled'), undefined, 'the handler never saw the undecodable event');
      assert.ok(byId.get('garbled')?.code !== undefined && byId.get('garbled')!.attempts! <= 1);
    });

    void it('gives an event appended twice, same id and payload, one effect (F3)', async () => {
      await using env = await target.setup();
      const { log, store } = env;
      await log.createTopic('orders', { partitions: 1 });
      const once = placed('twice', 'K', 1);
      await log.append('orders', once);
      await log.append('orders', placed('other', 'K', 2));
      await log.append('orders', once);
      let calls = 0;
      const router = createRouter({
        log,
        group: 'rt.idempotent',
        topics: ['orders'],
        store,
        middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 20 }), idempotency({ store })],
      });
      router.on(Placed, async (_data, event, ctx) => {
        calls++;
        await ctx.transaction(async (tx) => {
          await tx.put('rt.effects', event.id, ((await tx.get<number>('rt.effects', event.id)) ?? 0) + 1);
        });
      });
      await runUntil(router, () => lagIsZero(log, 'rt.idempotent'), deadlineMs, 'the group caught up');
      assert.equal(await store.get('rt.effects', 'twice'), 1);
      assert.equal(await store.get('rt.effects', 'other'), 1);
      assert.equal(calls, 2, 'the second copy never reached the handler');
    });

    void it('replays from the beginning rebuilding the same state without firing effects again (F12)', async (t) => {
      await using env = await target.setup();
      const { log, store } = env;
      if (log.resetGroup === undefined) {
        t.skip(`${target.name} cannot move a group back (no resetGroup)`);
        return;
      }
      await log.createTopic('orders', { partitions: 2 });
      const fired: string[] = [];
      const replaying: boolean[] = [];
      const build = () => {
        const router = createRouter({ log, group: 'rt.replay', topics: ['orders'], store });
        router.on(Placed, async (data, event, ctx) => {
          replaying.push(ctx.replaying);
          await ctx.transaction(async (tx) => {
            const total = (await tx.get<number>('rt.totals', event.partitionkey!)) ?? 0;
            // A replay starts from nothing again: the first event of a key resets it.
            await tx.put('rt.totals', event.partitionkey!, data.n < 3 ? data.n : total + data.n);
          });
          await ctx.effect('mail', async () => void fired.push(event.id));
        });
        return router;
      };
      // The live run: events appended once the group is live (history from before a group
      // existed is a backfill, whose effects are suppressed too).
      let appended = false;
      await runUntil(
        build(),
        async () => {
          if (!appended) {
            if ((await log.describeGroup('rt.replay')).members.length === 0) return false;
            await log.appendBatch(
              'orders',
              Array.from({ length: 10 }, (_, i) => placed(`r${i}`, `k${i % 3}`, i)),
            );
            appended = true;
          }
          return fired.length === 10 && lagIsZero(log, 'rt.replay');
        },
        deadlineMs,
        'the live run',
      );
      const live = await store.list<number>('rt.totals');
      assert.equal(fired.length, 10);
      await log.resetGroup('rt.replay', { to: 'earliest' });
      replaying.length = 0;
      await runUntil(build(), () => lagIsZero(log, 'rt.replay'), deadlineMs, 'the replay');
      assert.equal(replaying.length, 10);
      assert.ok(replaying.every(Boolean), 'every replayed event was marked as a replay');
      assert.equal(fired.length, 10, 'no effect fired again');
      assert.deepEqual(await store.list<number>('rt.totals'), live);
    });

    void it('redrives a dead letter back to its topic, where it is handled once (F9)', async () => {
      await using env = await target.setup();
      const { log, store } = env;
      await log.createTopic('orders', { partitions: 1 });
      await log.append('orders', placed('late', 'L', 1));
      let healed = false;
      const handled: StoredEvent[] = [];
      const build = () => {
        const router = createRouter({
          log,
          group: 'rt.redrive',
          topics: ['orders'],
          store,
          middleware: [deadLetter(), retry({ maxAttempts: 2, initialDelayMs: 20 }), idempotency({ store })],
        });
        router.on(Placed, async (_data, event, ctx) => {
          if (!healed) throw new Error('the payment service is down');
          await ctx.transaction((tx) => tx.put('rt.handled', event.id, true));
          handled.push(event);
        });
        return router;
      };
      await runUntil(
        build(),
        async () =>
          (await log.listTopics()).some((t) => t.name === 'orders.dead-letter') &&
          (await readAll(log, 'orders.dead-letter')).length === 1 &&
          (await lagIsZero(log, 'rt.redrive')),
        deadlineMs,
        'the event dead-lettered',
      );
      healed = true;
      const result = await redrive({ log, store, deadLetterTopic: 'orders.dead-letter', positions: 'all' });
      assert.equal(
        result.outcomes.filter((o) => o.status === 'redriven').length,
        1,
        JSON.stringify(result.outcomes),
      );
      await runUntil(
        build(),
        () => handled.length === 1 && lagIsZero(log, 'rt.redrive'),
        deadlineMs,
        'the redriven event handled',
      );
      assert.equal(handled[0]?.id, 'late');
      assert.equal(await store.get('rt.handled', 'late'), true);
      // Redriving everything again finds nothing left to redrive.
      const again = await redrive({ log, store, deadLetterTopic: 'orders.dead-letter', positions: 'all' });
      assert.equal(again.outcomes.filter((o) => o.status === 'redriven').length, 0);
    });
    void it('parks the key of a dead letter while other keys flow, and handles its parked events in order once the redriven dead letter is handled', async () => {
      await using env = await target.setup();
      const { log, store } = env;
      const group = 'rt.park';
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch('orders', [
        placed('a1', 'A', 1),
        placed('a2', 'A', 2),
        placed('b1', 'B', 1),
        placed('a3', 'A', 3),
        placed('b2', 'B', 2),
      ]);
      const fixture = parkingRouter(log, store, group);
      let step: 'parked' | 'redriven' = 'parked';
      await runUntil(
        fixture.router,
        async () => {
          if (step === 'parked') {
            const [key] = await parkedKeys(store, group);
            if (key?.count !== 2 || fixture.handled.length < 2 || !(await lagIsZero(log, group)))
              return false;
            assert.deepEqual(fixture.handled, ['b1', 'b2'], 'only key B was handled while A is parked');
            assert.equal(key.key, 'A');
            assert.equal(key.eventId, 'a1');
            fixture.healed = true;
            await redriveAll(log, store);
            await log.append('orders', placed('a4', 'A', 4));
            step = 'redriven';
            return false;
          }
          return fixture.handled.length === 6 && (await parkedKeys(store, group)).length === 0;
        },
        deadlineMs,
        'key A parked, then released by the redrive',
      );
      assert.deepEqual(
        fixture.handled.filter((id) => id.startsWith('a')),
        ['a1', 'a2', 'a3', 'a4'],
        'the redriven dead letter first, then the parked events in their order, then the later one',
      );
      assert.equal(fixture.redriven.get('a1'), true, 'a1 was handled as the redriven event');
    });

    void it('keeps a key parked across a restart, parks what arrives for it meanwhile, and releases it all in order after the redrive (F4)', async () => {
      await using env = await target.setup();
      const { log, store } = env;
      const group = 'rt.park-restart';
      await log.createTopic('orders', { partitions: 2 });
      await log.appendBatch('orders', [placed('a1', 'A', 1), placed('a2', 'A', 2), placed('b1', 'B', 1)]);
      const first = parkingRouter(log, store, group);
      await runUntil(
        first.router,
        async () =>
          (await parkedKeys(store, group))[0]?.count === 1 &&
          first.handled.includes('b1') &&
          lagIsZero(log, group),
        deadlineMs,
        'key A parked by the first router',
      );
      // A new router instance claims the partitions: it must see key A parked before it handles A.
      await log.appendBatch('orders', [placed('a3', 'A', 3), placed('b2', 'B', 2)]);
      const second = parkingRouter(log, store, group);
      second.healed = true;
      let redriven = false;
      await runUntil(
        second.router,
        async () => {
          if (!redriven) {
            if (!second.handled.includes('b2') || !(await lagIsZero(log, group))) return false;
            const [key] = await parkedKeys(store, group);
            assert.equal(key?.count, 2, 'a3 was parked behind a2 by the new router');
            assert.deepEqual(second.handled, ['b2']);
            await redriveAll(log, store);
            redriven = true;
            return false;
          }
          return second.handled.length === 4 && (await parkedKeys(store, group)).length === 0;
        },
        deadlineMs,
        'key A released by the new router after the redrive',
      );
      assert.deepEqual(
        second.handled.filter((id) => id.startsWith('a')),
        ['a1', 'a2', 'a3'],
      );
    });

    void it('releases a parked key when its dead letter is discarded, audits it, and refuses to redrive the discarded entry', async () => {
      await using env = await target.setup();
      const { log, store } = env;
      const group = 'rt.park-discard';
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch('orders', [placed('a1', 'A', 1), placed('a2', 'A', 2), placed('a3', 'A', 3)]);
      const fixture = parkingRouter(log, store, group);
      let discarded = false;
      await runUntil(
        fixture.router,
        async () => {
          if (!discarded) {
            if ((await parkedKeys(store, group))[0]?.count !== 2 || !(await lagIsZero(log, group)))
              return false;
            const [entry] = await readAll(log, 'orders.dead-letter');
            const result = await discard({
              log,
              store,
              deadLetterTopic: 'orders.dead-letter',
              positions: [{ partition: entry!.partition, offset: entry!.offset }],
              actor: 'ops@test',
              reason: 'cancelled by hand',
            });
            assert.equal(result.outcomes[0]?.status, 'discarded');
            assert.equal(result.outcomes[0]?.released?.count, 2);
            discarded = true;
            return false;
          }
          return fixture.handled.length === 2 && (await parkedKeys(store, group)).length === 0;
        },
        deadlineMs,
        'key A released by the discard',
      );
      assert.deepEqual(fixture.handled, ['a2', 'a3'], 'the parked events in order; the discarded one never');
      const audit = await store.list<{ action: string; actor: string }>('herald.audit');
      assert.ok(audit.some((d) => d.value.action === 'dlq.discard' && d.value.actor === 'ops@test'));
      const all = await redrive({ log, store, deadLetterTopic: 'orders.dead-letter', positions: 'all' });
      assert.deepEqual([all.outcomes.length, all.skipped], [0, 1], 'redriving everything passes over it');
      const [entry] = await readAll(log, 'orders.dead-letter');
      await assert.rejects(
        redrive({
          log,
          store,
          deadLetterTopic: 'orders.dead-letter',
          positions: [{ partition: entry!.partition, offset: entry!.offset }],
        }),
        { code: 'CONFLICT', message: /discarded/ },
      );
    });

    void it('releases a key discarded while no member ran as soon as a new member owns its partition, with no new event to wake it', async () => {
      await using env = await target.setup();
      const { log, store } = env;
      const group = 'rt.park-idle';
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch('orders', [placed('a1', 'A', 1), placed('a2', 'A', 2), placed('a3', 'A', 3)]);
      const first = parkingRouter(log, store, group);
      await runUntil(
        first.router,
        async () => (await parkedKeys(store, group))[0]?.count === 2 && lagIsZero(log, group),
        deadlineMs,
        'key A parked',
      );
      const [entry] = await readAll(log, 'orders.dead-letter');
      await discard({
        log,
        store,
        deadLetterTopic: 'orders.dead-letter',
        positions: [{ partition: entry!.partition, offset: entry!.offset }],
      });
      const second = parkingRouter(log, store, group);
      await runUntil(
        second.router,
        async () => second.handled.length === 2 && (await parkedKeys(store, group)).length === 0,
        deadlineMs,
        'key A released by the new member',
      );
      assert.deepEqual(second.handled, ['a2', 'a3']);
    });

    timerRuntimeTests(target, deadlineMs);
  });
}

/** A router whose handler fails `a1` until `healed`, recording what it handled, in order. */
function parkingRouter(log: EventLog, store: Store, group: string) {
  const fixture = {
    healed: false,
    handled: [] as string[],
    /** Per event id, whether it was handled as a redriven event. */
    redriven: new Map<string, boolean>(),
    router: createRouter({
      log,
      group,
      topics: ['orders'],
      store,
      middleware: [deadLetter(), retry({ maxAttempts: 2, initialDelayMs: 20 }), idempotency({ store })],
    }),
  };
  fixture.router.on(Placed, async (_data, event, ctx) => {
    if (event.id === 'a1' && !fixture.healed) throw new Error('the payment service is down');
    await ctx.transaction((tx) => tx.put('rt.handled', event.id, true));
    fixture.handled.push(event.id);
    fixture.redriven.set(event.id, event.extensions?.['dlredrive'] !== undefined);
  });
  return fixture;
}

async function redriveAll(log: EventLog, store: Store): Promise<void> {
  const result = await redrive({ log, store, deadLetterTopic: 'orders.dead-letter', positions: 'all' });
  assert.equal(
    result.outcomes.filter((o) => o.status === 'redriven').length,
    1,
    JSON.stringify(result.outcomes),
  );
}
