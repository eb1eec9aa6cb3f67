import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import { z } from 'zod';
import { defineEvent } from '../src/define-event.ts';
import { isHeraldError } from '../src/errors.ts';
import type { EventLog } from '../src/event-log.ts';
import { openMemoryLog } from '../src/memory.ts';
import { type Router, createRouter } from '../src/runtime/router.ts';
import { createProducer } from '../src/runtime/producer.ts';
import { shadowRun } from '../src/shadow-run.ts';
import { MemoryStore } from './runtime/fixtures/memory-store.ts';
import { Thing, start, waitForNoLag } from './runtime/fixtures/harness.ts';

const GROUP = 'billing.totals';
const Totalled = defineEvent({
  type: 'dev.herald.testing.totalled.v1',
  schema: z.object({ i: z.number(), amount: z.number() }),
});
const Noted = defineEvent({ type: 'dev.herald.testing.noted.v1', schema: z.object({ i: z.number() }) });

interface Rule {
  /** The amount emitted for event i, or undefined to emit nothing. */
  amount(i: number): number | undefined;
  /** Whether event i is also noted. */
  note(i: number): boolean;
  /** Whether event i counts into its key's sum. */
  counts(i: number): boolean;
}

const RUNNING: Rule = { amount: (i) => i * 2, note: () => false, counts: () => true };

/** The group's handlers under a rule: sums per key in `sums`, one `totalled` per event, a mail effect. */
function register(router: Router, log: EventLog, rule: Rule, mailed: string[]): void {
  const events = createProducer({ sink: log, source: '/billing' });
  router.on(Thing, async ({ i }, event, ctx) => {
    await ctx.effect('mail', () => void mailed.push(event.id));
    await ctx.transaction(async (tx) => {
      const key = event.partitionkey ?? '';
      if (rule.counts(i)) {
        const sum = (await tx.get<{ sum: number }>('sums', key))?.sum ?? 0;
        await tx.put('sums', key, { sum: sum + i });
      }
      const amount = rule.amount(i);
      if (amount !== undefined)
        await events.within(tx).publish('totals', Totalled, { i, amount }, { key, id: `totalled-${i}` });
      if (rule.note(i)) await events.within(tx).publish('totals', Noted, { i }, { key, id: `noted-${i}` });
    });
  });
}

/** `orders` (2 partitions, odd and even events) with events 1–6 keyed k0–k2, handled by the running version. */
async function history() {
  const log = await openMemoryLog();
  await log.createTopic('orders', { partitions: 2 });
  await log.createTopic('totals', { partitions: 1 });
  const store = new MemoryStore(log);
  for (let i = 1; i <= 6; i++) await log.append('orders', makeEvent(i, `k${i % 3}`), { partition: i % 2 });
  const mailed: string[] = [];
  const router = createRouter({ log, group: GROUP, topics: ['orders'], store, effects: 'perform' });
  register(router, log, RUNNING, mailed);
  const running = start(router);
  await waitForNoLag(log, GROUP);
  await running.stop();
  assert.equal(mailed.length, 6);
  return { log, store, mailed };
}

async function endOffsets(log: EventLog): Promise<string> {
  const ends: string[] = [];
  for (const topic of await log.listTopics()) {
    const { partitionInfo } = await log.describeTopic(topic.name);
    for (const p of partitionInfo) ends.push(`${topic.name}/${p.partition}:${p.earliest}-${p.latest}`);
  }
  return ends.sort().join(' ');
}

describe('shadowRun', () => {
  it('reports per emitted type what is the same, different, new and missing, and writes nothing', async () => {
    const { log, store, mailed } = await history();
    const before = { ends: await endOffsets(log), sums: await store.list('sums'), commits: store.commits };
    const shadowMailed: string[] = [];
    const rule: Rule = {
      amount: (i) => (i === 2 ? undefined : i > 4 ? i * 3 : i * 2),
      note: (i) => i === 3,
      counts: () => true,
    };
    const report = await shadowRun({
      log,
      group: GROUP,
      topics: ['orders'],
      state: store,
      startFrom: 'empty',
      handlers: (router, shadow) => register(router, shadow.log, rule, shadowMailed),
    });

    assert.deepEqual(report.handled, { [Thing.type]: 6 });
    assert.deepEqual(report.effects, { mail: 6 });
    assert.deepEqual(shadowMailed, [], 'no declared effect fired');
    assert.deepEqual(report.failures, []);
    assert.deepEqual(report.outputs, ['totals']);
    const totalled = report.events.find((d) => d.type === Totalled.type);
    assert.deepEqual(
      totalled && {
        same: totalled.same,
        different: totalled.different,
        new: totalled.new,
        missing: totalled.missing,
      },
      { same: 3, different: 2, new: 0, missing: 1 },
    );
    assert.deepEqual(
      totalled?.samples.different
        .map((s) => [s.running?.data, s.shadow?.data])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [
        [
          { i: 5, amount: 10 },
          { i: 5, amount: 15 },
        ],
        [
          { i: 6, amount: 12 },
          { i: 6, amount: 18 },
        ],
      ],
    );
    assert.deepEqual(
      totalled?.samples.missing.map((s) => s.running?.data),
      [{ i: 2, amount: 4 }],
    );
    const noted = report.events.find((d) => d.type === Noted.type);
    assert.deepEqual(noted && [noted.same, noted.different, noted.new, noted.missing], [0, 0, 1, 0]);
    assert.deepEqual(report.state, [
      { collection: 'sums', same: 3, different: 0, new: 0, removed: 0, samples: [] },
    ]);

    assert.equal(await endOffsets(log), before.ends, 'the log has not moved');
    assert.deepEqual(await store.list('sums'), before.sums, 'the store has not changed');
    assert.equal(store.commits, before.commits, 'no transaction committed in the real store');
    assert.equal(mailed.length, 6);
    await log.close();
  });

  it('compares the documents it wrote with the running store’s current ones', async () => {
    const { log, store } = await history();
    const report = await shadowRun({
      log,
      group: GROUP,
      topics: ['orders'],
      state: store,
      startFrom: 'empty',
      handlers: (router, shadow) => register(router, shadow.log, { ...RUNNING, counts: (i) => i !== 2 }, []),
    });
    // k2 holds events 2 and 5: the running sum is 7, the shadow's 5.
    assert.deepEqual(report.state, [
      {
        collection: 'sums',
        same: 2,
        different: 1,
        new: 0,
        removed: 0,
        samples: [{ id: 'k2', current: { sum: 7 }, shadow: { sum: 5 } }],
      },
    ]);
    await log.close();
  });

  it('reads the running state under its own writes by default, leaving the store as it was', async () => {
    const { log, store } = await history();
    const sums = await store.list('sums');
    const report = await shadowRun({
      log,
      group: GROUP,
      topics: ['orders'],
      state: store,
      handlers: (router, shadow) => register(router, shadow.log, RUNNING, []),
    });
    // The shadow adds the window to the current sums: every sum is counted twice.
    assert.deepEqual(
      report.state?.[0]?.samples.map((s) => [s.id, s.current, s.shadow]),
      [
        ['k0', { sum: 9 }, { sum: 18 }],
        ['k1', { sum: 5 }, { sum: 10 }],
        ['k2', { sum: 7 }, { sum: 14 }],
      ],
    );
    assert.deepEqual(await store.list('sums'), sums);
    await log.close();
  });

  it('handles only the window between from and to', async () => {
    const { log, store } = await history();
    const byOffset = await shadowRun({
      log,
      group: GROUP,
      topics: ['orders'],
      state: store,
      from: { offset: 1 },
      to: { offset: 2 },
      handlers: (router, shadow) => register(router, shadow.log, RUNNING, []),
    });
    assert.deepEqual(
      byOffset.window.map((w) => [w.partition, w.from, w.to, w.events]),
      [
        [0, 1, 2, 1],
        [1, 1, 2, 1],
      ],
    );
    const totalled = byOffset.events.find((d) => d.type === Totalled.type);
    assert.equal(totalled?.same, 2);

    const all = (await log.read('orders', { partition: 0, from: 'earliest' })).concat(
      await log.read('orders', { partition: 1, from: 'earliest' }),
    );
    const cut = Math.max(...all.map((e) => e.timestamp)) + 1;
    const beforeCut = await shadowRun({
      log,
      group: GROUP,
      topics: ['orders'],
      to: { timestamp: cut },
      handlers: (router, shadow) => register(router, shadow.log, RUNNING, []),
    });
    assert.equal(beforeCut.handled[Thing.type], 6);
    const afterCut = await shadowRun({
      log,
      group: GROUP,
      topics: ['orders'],
      from: { timestamp: cut },
      handlers: (router, shadow) => register(router, shadow.log, RUNNING, []),
    });
    assert.deepEqual(afterCut.handled, {});
    assert.equal(afterCut.state, undefined, 'no state to compare with');
    await log.close();
  });

  it('records a handler failure and goes on with the next event', async () => {
    const { log, store } = await history();
    const report = await shadowRun({
      log,
      group: GROUP,
      topics: ['orders'],
      state: store,
      startFrom: 'empty',
      handlers: (router, shadow) => {
        const events = createProducer({ sink: shadow.log, source: '/billing' });
        router.on(Thing, async ({ i }, event) => {
          if (i === 4) throw new Error('no rule for 4');
          // Straight to the log, outside any transaction: recorded with its causation all the same.
          await events.publish(
            'totals',
            Totalled,
            { i, amount: i * 2 },
            {
              key: event.partitionkey ?? '',
              id: `totalled-${i}`,
            },
          );
        });
      },
    });
    assert.deepEqual(
      report.failures.map((f) => [f.eventId, f.error]),
      [['event-4', 'no rule for 4']],
    );
    const totalled = report.events.find((d) => d.type === Totalled.type);
    assert.deepEqual(totalled && [totalled.same, totalled.missing], [5, 1]);
    await log.close();
  });

  it('refuses a run without handlers or with a router of another group', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await assert.rejects(shadowRun({ log, group: GROUP, topics: ['orders'] }), (error) =>
      isHeraldError(error, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(
      shadowRun({
        log,
        group: GROUP,
        topics: ['orders'],
        router: (shadow) => createRouter({ log: shadow.log, group: 'other.group', topics: ['orders'] }),
      }),
      (error) => isHeraldError(error, 'INVALID_ARGUMENT'),
    );
  });
});
