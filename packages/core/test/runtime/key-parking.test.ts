// Parking on the in-memory log with the test store: the policies, what never parks, a dead
// letter among released events, and discard. The behaviour on every backend (park, redrive,
// restart, discard) is in the runtime conformance suite.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent, readAll, waitFor } from '@herald/testing';
import type { CloudEvent } from '../../src/envelope.ts';
import type { EventLog } from '../../src/event-log.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { discard } from '../../src/runtime/discard.ts';
import {
  PARKED_EVENTS_COLLECTION,
  type DeadLetterPolicy,
  parkedKeys,
} from '../../src/runtime/key-parking.ts';
import { deadLetter } from '../../src/runtime/middleware/dead-letter.ts';
import { idempotency } from '../../src/runtime/middleware/idempotency.ts';
import { retry } from '../../src/runtime/middleware/retry.ts';
import { AUDIT_COLLECTION, REDRIVE_COLLECTION, redrive } from '../../src/runtime/redrive.ts';
import { createRouter } from '../../src/runtime/router.ts';
import type { Store } from '../../src/runtime/store.ts';
import { MemoryStore } from './fixtures/memory-store.ts';
import { type Running, Thing, start, waitForNoLag } from './fixtures/harness.ts';

const GROUP = 'billing.invoices';
const DLQ = 'orders.dead-letter';

interface Fixture {
  readonly log: EventLog;
  readonly store: MemoryStore;
  /** Ids handled, in the order handled. */
  readonly handled: string[];
  /** Ids whose handler throws until healed. */
  readonly failing: Set<string>;
  run(options?: { store?: Store | null; deadLetters?: DeadLetterPolicy; group?: string }): Running;
}

async function fixture(events: readonly CloudEvent[]): Promise<Fixture & AsyncDisposable> {
  const log = await openMemoryLog();
  await log.createTopic('orders', { partitions: 1 });
  await log.appendBatch('orders', [...events]);
  const store = new MemoryStore(log);
  const handled: string[] = [];
  const failing = new Set<string>();
  return {
    log,
    store,
    handled,
    failing,
    run: (options = {}) => {
      const routerStore = options.store === null ? undefined : (options.store ?? store);
      const router = createRouter({
        log,
        group: options.group ?? GROUP,
        topics: ['orders'],
        ...(routerStore === undefined ? {} : { store: routerStore }),
        releaseCheckIntervalMs: 20,
        middleware: [
          deadLetter(),
          retry({ maxAttempts: 1 }),
          ...(routerStore === undefined ? [] : [idempotency({ store: routerStore })]),
        ],
      });
      router.on(
        Thing,
        async (_data, event) => {
          if (failing.has(event.id) && event.extensions?.['dlredrive'] === undefined) {
            throw new Error(`${event.id} cannot be handled`);
          }
          handled.push(event.id);
        },
        options.deadLetters === undefined ? {} : { deadLetters: options.deadLetters },
      );
      return start(router);
    },
    [Symbol.asyncDispose]: () => log.close(),
  };
}

const keyed = (i: number, key: string) => makeEvent(i, key);
const keyless = (i: number) => makeEvent(i);

async function deadLetterEntries(log: EventLog) {
  return (await log.listTopics()).some((t) => t.name === DLQ) ? readAll(log, DLQ) : [];
}

void describe('key parking', () => {
  void it('lets the later events of a key through at once when the route says skip', async () => {
    await using f = await fixture([keyed(1, 'a'), keyed(2, 'a'), keyed(3, 'a')]);
    f.failing.add('event-1');
    const running = f.run({ deadLetters: 'skip' });
    await waitForNoLag(f.log, GROUP);
    await running.stop();
    assert.deepEqual(f.handled, ['event-2', 'event-3']);
    assert.deepEqual(await parkedKeys(f.store, GROUP), []);
    assert.equal((await deadLetterEntries(f.log)).length, 1);
  });

  void it('never parks keyless events, nor without a store', async () => {
    for (const store of [undefined, null] as const) {
      await using f = await fixture([keyless(1), keyless(2), keyed(3, 'a'), keyed(4, 'a')]);
      f.failing.add('event-1');
      if (store === null) f.failing.add('event-3');
      const running = f.run(store === null ? { store: null } : {});
      await waitForNoLag(f.log, GROUP);
      await running.stop();
      assert.deepEqual(
        f.handled.toSorted(),
        store === null ? ['event-2', 'event-4'] : ['event-2', 'event-3', 'event-4'],
        store === null ? 'without a store' : 'keyless',
      );
      assert.deepEqual(await parkedKeys(f.store, GROUP), []);
    }
  });

  void it('parks the key again behind a dead letter among its released events; the rest follow that one', async () => {
    await using f = await fixture([
      keyed(1, 'a'),
      keyed(2, 'a'),
      keyed(3, 'a'),
      keyed(4, 'a'),
      keyed(5, 'b'),
    ]);
    f.failing.add('event-1');
    f.failing.add('event-3');
    const running = f.run();
    await waitFor(async () => (await parkedKeys(f.store, GROUP))[0]?.count === 3, 5000, 'a parked, 3 behind');
    assert.deepEqual(f.handled, ['event-5']);

    const first = (await deadLetterEntries(f.log))[0]!;
    await redrive({ log: f.log, store: f.store, deadLetterTopic: DLQ, positions: [first] });
    await waitFor(
      async () => (await parkedKeys(f.store, GROUP))[0]?.eventId === 'event-3' && f.handled.length === 3,
      5000,
      'a parked again behind event-3',
    );
    const [again] = await parkedKeys(f.store, GROUP);
    assert.equal(again?.count, 1, 'event-4 waits behind event-3');
    assert.equal(again?.released, undefined);
    assert.deepEqual(f.handled, ['event-5', 'event-1', 'event-2']);

    const second = (await deadLetterEntries(f.log)).find((e) => e.id === 'event-3')!;
    await redrive({ log: f.log, store: f.store, deadLetterTopic: DLQ, positions: [second] });
    await waitFor(async () => (await parkedKeys(f.store, GROUP)).length === 0, 5000, 'a released');
    await running.stop();
    assert.deepEqual(f.handled, ['event-5', 'event-1', 'event-2', 'event-3', 'event-4']);
    assert.deepEqual(await f.store.list(PARKED_EVENTS_COLLECTION), [], 'nothing left parked');
  });

  void it('parks only in the group that dead-lettered: another group on the topic handles the key', async () => {
    await using f = await fixture([keyed(1, 'a'), keyed(2, 'a')]);
    f.failing.add('event-1');
    const failing = f.run();
    await waitForNoLag(f.log, GROUP);
    await failing.stop();
    f.failing.clear();
    const other = f.run({ group: 'shipping.labels' });
    await waitForNoLag(f.log, 'shipping.labels');
    await other.stop();
    assert.deepEqual(f.handled, ['event-1', 'event-2']);
    assert.equal((await parkedKeys(f.store, GROUP)).length, 1);
    assert.deepEqual(await parkedKeys(f.store, 'shipping.labels'), []);
  });

  void it('discards once: a second discard is a duplicate, a dry run records nothing, and a forced redrive still goes', async () => {
    await using f = await fixture([keyed(1, 'a'), keyed(2, 'a')]);
    f.failing.add('event-1');
    const running = f.run();
    await waitFor(async () => (await parkedKeys(f.store, GROUP))[0]?.count === 1, 5000, 'a parked');
    const [entry] = await deadLetterEntries(f.log);
    const position = { partition: entry!.partition, offset: entry!.offset };
    const options = { log: f.log, store: f.store, deadLetterTopic: DLQ, positions: [position], actor: 'ops' };

    const planned = await discard({ ...options, dryRun: true });
    assert.equal(planned.outcomes[0]?.status, 'planned');
    assert.equal(planned.outcomes[0]?.released?.key, 'a');
    assert.equal(await f.store.get(REDRIVE_COLLECTION, `${DLQ}/0/0`), undefined, 'the dry run wrote');

    const first = await discard({ ...options, reason: 'refunded by hand' });
    assert.deepEqual(first.outcomes[0]?.released, {
      group: GROUP,
      topic: 'orders',
      partition: 0,
      key: 'a',
      count: 1,
    });
    const second = await discard(options);
    assert.equal(second.outcomes[0]?.status, 'duplicate');
    assert.equal(second.outcomes[0]?.discarded?.reason, 'refunded by hand');
    const audits = await f.store.list<{ action: string }>(AUDIT_COLLECTION);
    assert.equal(audits.filter((a) => a.value.action === 'dlq.discard').length, 1, 'one audit, not two');

    await waitFor(() => f.handled.includes('event-2'), 5000, 'event-2 released');
    await assert.rejects(redrive({ ...options, positions: [position] }), { code: 'CONFLICT' });
    const forced = await redrive({ ...options, positions: [position], force: true });
    assert.equal(forced.outcomes[0]?.status, 'redriven');
    await waitFor(() => f.handled.includes('event-1'), 5000, 'the forced redrive handled');
    await running.stop();
    assert.deepEqual(f.handled, ['event-2', 'event-1']);
    assert.deepEqual(await parkedKeys(f.store, GROUP), []);
  });

  void it('refuses to discard what is not a dead-letter entry', async () => {
    await using f = await fixture([keyed(1, 'a')]);
    await f.log.createTopic(DLQ, { partitions: 1 });
    await f.log.append(DLQ, keyed(9, 'a'));
    await assert.rejects(
      discard({ log: f.log, store: f.store, deadLetterTopic: DLQ, positions: [{ partition: 0, offset: 0 }] }),
      { code: 'INVALID_ARGUMENT', message: /not a dead-letter entry/ },
    );
  });
});
