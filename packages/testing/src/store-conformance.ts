// The Store conformance suite: what every Store (SQLite, Postgres) promises a service, in named
// groups runnable alone, gated with reasons where the stores differ by design.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import type { EventLog, InboxOutcome, StateRecord, Store, StoreTransaction } from '@herald/core';
import { heraldError } from './conformance-suite.ts';
import { makeEvent, readAll, sleep } from './fixtures.ts';
import { storeTimersConformance } from './store-timers-conformance.ts';

/**
 * What a store promises beyond the base contract. Each is a real difference between stores,
 * not a test knob: a test that needs what a store does not promise is skipped with the reason.
 */
export interface StoreCapabilities {
  /**
   * `tx.emit` appends to the log inside the transaction and resolves with the event's position
   * (the outbox is the log itself). False: it resolves `undefined` and a relay publishes the
   * event after the commit.
   */
  readonly emitResolvesPosition: boolean;
  /**
   * How concurrent transactions are kept apart. `serialized`: one runs at a time (a write lock),
   * so they never collide. `retried`: they run concurrently, serializable, and a collision runs
   * the loser again, up to `maxAttempts` runs, then fails it with `CONTENTION`.
   */
  readonly concurrency: 'serialized' | 'retried';
  /** `tx.emit` refuses a topic the log does not have (`UNKNOWN_TOPIC`) inside the transaction. */
  readonly checksTopicsAtEmit: boolean;
}

/** One store under test, with the log its emitted events reach. */
export interface StoreEnvironment extends AsyncDisposable {
  readonly store: Store;
  /** Where emitted events are published; the suite creates the topics it uses on it. */
  readonly log: EventLog;
  /**
   * Resolves once every event committed so far is in `log`: at once where emit appends in the
   * transaction, after the relay drained the outbox otherwise.
   */
  published(): Promise<void>;
}

/** A store implementation under test. */
export interface StoreConformanceTarget {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /**
   * A fresh, empty store and log for one test; disposing it closes both and removes what they
   * made. `maxAttempts` is the number of runs a `retried` store gives a colliding transaction.
   */
  setup(options?: { readonly maxAttempts?: number }): Promise<StoreEnvironment>;
  /** Timeout of each test, default 30 000 ms. */
  readonly testTimeoutMs?: number;
}

/** What each Store conformance test receives. */
export interface StoreFixture {
  readonly env: StoreEnvironment;
  readonly store: Store;
  readonly log: EventLog;
}

interface StoreTestOptions {
  /** Why the test cannot run on a store with these capabilities, or undefined to run it. */
  readonly skipUnless?: (capabilities: StoreCapabilities) => string | undefined;
  readonly maxAttempts?: number;
}

/** One behaviour area of the Store suite. */
export interface StoreConformanceGroup {
  readonly title: string;
  define(test: StoreTest): void;
}

/** Registers one Store conformance test. */
export type StoreTest = {
  (name: string, fn: (fixture: StoreFixture) => Promise<void>): void;
  (name: string, options: StoreTestOptions, fn: (fixture: StoreFixture) => Promise<void>): void;
};

const DEFAULT_TEST_TIMEOUT_MS = 30_000;

function storeTest(target: StoreConformanceTarget): StoreTest {
  const timeout = target.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  return (
    name: string,
    optionsOrFn: StoreTestOptions | ((fixture: StoreFixture) => Promise<void>),
    maybeFn?: (fixture: StoreFixture) => Promise<void>,
  ) => {
    const options = typeof optionsOrFn === 'function' ? {} : optionsOrFn;
    const fn = typeof optionsOrFn === 'function' ? optionsOrFn : maybeFn!;
    const skip = options.skipUnless?.(target.capabilities);
    if (skip !== undefined) {
      void it(name, { skip }, () => undefined);
      return;
    }
    void it(name, { timeout }, async () => {
      await using env = await target.setup(
        options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts },
      );
      await fn({ env, store: env.store, log: env.log });
    });
  };
}

/** The ids of a topic's events, partition by partition, each in log order. */
async function publishedIds(env: StoreEnvironment, topic: string): Promise<string[]> {
  await env.published();
  return (await readAll(env.log, topic)).map((event) => event.id);
}

/** Resolves when `parties` callers have arrived; later calls pass at once. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return async () => {
    if (++arrived >= parties) open();
    await opened;
  };
}

/** Documents: kept as JSON by collection and id, read back inside and outside transactions. */
export const storeDocumentsConformance: StoreConformanceGroup = {
  title: 'documents',
  define(test) {
    test('keeps documents by collection and id, listing them by id with prefix and limit', async ({
      store,
    }) => {
      await store.transaction(async (tx) => {
        await tx.put('orders', 'o-2', { status: 'paid', lines: [{ sku: 'a', qty: 2 }] });
        await tx.put('orders', 'o-1', { status: 'placed' });
        await tx.put('orders', 'x-1', 'other');
        await tx.put('stock', 'o-1', 7);
      });
      assert.deepEqual(await store.get('orders', 'o-2'), { status: 'paid', lines: [{ sku: 'a', qty: 2 }] });
      assert.equal(await store.get('stock', 'o-1'), 7);
      assert.equal(await store.get('orders', 'missing'), undefined);
      assert.deepEqual(
        (await store.list('orders')).map((d) => d.id),
        ['o-1', 'o-2', 'x-1'],
      );
      assert.deepEqual(await store.list('orders', { prefix: 'o-' }), [
        { id: 'o-1', value: { status: 'placed' } },
        { id: 'o-2', value: { status: 'paid', lines: [{ sku: 'a', qty: 2 }] } },
      ]);
      assert.deepEqual(
        (await store.list('orders', { limit: 2 })).map((d) => d.id),
        ['o-1', 'o-2'],
      );

      const deleted = await store.transaction(async (tx) => {
        await tx.put('orders', 'o-1', { status: 'shipped' });
        assert.deepEqual(
          await tx.get('orders', 'o-1'),
          { status: 'shipped' },
          'a transaction reads its own writes',
        );
        assert.deepEqual(
          (await tx.list('orders', { prefix: 'o-' })).map((d) => d.id),
          ['o-1', 'o-2'],
        );
        return [await tx.delete('orders', 'o-2'), await tx.delete('orders', 'o-2')];
      });
      assert.deepEqual(deleted, [true, false]);
      assert.deepEqual(await store.get('orders', 'o-1'), { status: 'shipped' });
      assert.equal(await store.get('orders', 'o-2'), undefined);
    });

    test('shows outside a transaction only what it committed', async ({ store }) => {
      await store.transaction(async (tx) => {
        await tx.put('orders', 'o-1', { status: 'placed' });
        assert.equal(await store.get('orders', 'o-1'), undefined, 'not visible before the commit');
      });
      assert.deepEqual(await store.get('orders', 'o-1'), { status: 'placed' });
    });
  },
};

/** Atomicity: a transaction's documents, inbox entries and emitted events commit together or not at all. */
export const storeAtomicityConformance: StoreConformanceGroup = {
  title: 'atomicity',
  define(test) {
    test('leaves no document, no inbox entry and no emitted event when the transaction throws, and rethrows what it threw', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('orders', { partitions: 1 });
      await store.transaction((tx) => tx.put('orders', 'o-0', { status: 'placed' }));
      const thrown = new Error('business rule says no');
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.put('orders', 'o-1', { status: 'placed' });
          await tx.put('orders', 'o-0', { status: 'cancelled' });
          assert.equal(await tx.delete('orders', 'o-0'), true);
          await tx.emit('orders', makeEvent(1, 'o-1'));
          assert.equal(await tx.recordHandled('billing.invoices', 'e-0', 'fp'), 'first');
          throw thrown;
        }),
        (error) => error === thrown,
      );
      assert.equal(await store.get('orders', 'o-1'), undefined);
      assert.deepEqual(await store.get('orders', 'o-0'), { status: 'placed' });
      assert.equal(await store.inboxStatus('billing.invoices', 'e-0', 'fp'), 'unseen');
      assert.deepEqual(await publishedIds(env, 'orders'), []);
    });

    test('commits documents, inbox entry and emitted events together', async ({ env, store, log }) => {
      await log.createTopic('orders', { partitions: 1 });
      const value = await store.transaction(async (tx) => {
        await tx.put('orders', 'o-1', { status: 'placed' });
        await tx.emit('orders', makeEvent(1, 'o-1'));
        await tx.recordHandled('billing.invoices', 'e-0', 'fp');
        return 'done';
      });
      assert.equal(value, 'done', 'the transaction resolves with what its function returned');
      assert.deepEqual(await store.get('orders', 'o-1'), { status: 'placed' });
      assert.equal(await store.inboxStatus('billing.invoices', 'e-0', 'fp'), 'duplicate');
      assert.deepEqual(await publishedIds(env, 'orders'), ['event-1']);
    });

    test('refuses with CLOSED a transaction used after its function returned, and writes nothing', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('orders', { partitions: 1 });
      let leaked: StoreTransaction | undefined;
      await store.transaction(async (tx) => {
        leaked = tx;
        await tx.put('orders', 'o-1', { status: 'placed' });
      });
      const tx = leaked!;
      const uses: [string, () => Promise<unknown>][] = [
        ['put', () => tx.put('orders', 'o-2', { status: 'placed' })],
        ['delete', () => tx.delete('orders', 'o-1')],
        ['get', () => tx.get('orders', 'o-1')],
        ['list', () => tx.list('orders')],
        ['emit', () => tx.emit('orders', makeEvent(2, 'o-2'))],
        ['recordHandled', () => tx.recordHandled('billing.invoices', 'e-9', 'fp')],
      ];
      for (const [name, use] of uses) {
        await assert.rejects(use(), (error) => isHeraldError(error) && error.code === 'CLOSED', name);
      }
      assert.deepEqual(await store.get('orders', 'o-1'), { status: 'placed' });
      assert.equal(await store.get('orders', 'o-2'), undefined);
      assert.equal(await store.inboxStatus('billing.invoices', 'e-9', 'fp'), 'unseen');
      assert.deepEqual(await publishedIds(env, 'orders'), []);
    });
  },
};

/** The inbox: each event has its effect once per group. */
export const storeInboxConformance: StoreConformanceGroup = {
  title: 'inbox',
  define(test) {
    test('records inbox outcomes: first, then duplicate for the same payload, conflict for another', async ({
      store,
    }) => {
      assert.equal(await store.inboxStatus('g.one', 'e-1', 'fp-a'), 'unseen');
      const outcomes = await store.transaction(async (tx) => [
        await tx.recordHandled('g.one', 'e-1', 'fp-a'),
        await tx.recordHandled('g.one', 'e-1', 'fp-a'),
        await tx.recordHandled('g.one', 'e-1', 'fp-b'),
        await tx.recordHandled('g.two', 'e-1', 'fp-b'),
      ]);
      assert.deepEqual(outcomes, ['first', 'duplicate', 'conflict', 'first']);
      assert.equal(await store.inboxStatus('g.one', 'e-1', 'fp-a'), 'duplicate');
      assert.equal(await store.inboxStatus('g.one', 'e-1', 'fp-b'), 'conflict');
      assert.equal(await store.inboxStatus('g.two', 'e-2', 'fp-b'), 'unseen');
      assert.equal(await store.transaction((tx) => tx.recordHandled('g.one', 'e-1', 'fp-a')), 'duplicate');
    });

    test("gives exactly one 'first' when eight transactions record the same event at once", async ({
      store,
    }) => {
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.transaction(async (tx) => {
            const outcome = await tx.recordHandled('race.group', 'e-race', 'fp');
            await sleep(5);
            await tx.put('effects', `attempt-${i}`, outcome);
            return outcome;
          }),
        ),
      );
      const count = (o: InboxOutcome) => outcomes.filter((x) => x === o).length;
      assert.equal(count('first'), 1, `outcomes: ${outcomes.join(', ')}`);
      assert.equal(count('duplicate'), 7);
      const effects = await store.list<InboxOutcome>('effects');
      assert.equal(effects.filter((e) => e.value === 'first').length, 1);
    });

    test('answers the inbox status of many events in one call as it answers each alone, when it offers inboxStatuses', async ({
      store,
    }) => {
      if (store.inboxStatuses === undefined) return;
      await store.transaction(async (tx) => {
        await tx.recordHandled('g.batch', 'e-1', 'fp-a');
        await tx.recordHandled('g.batch', 'e-2', 'fp-b');
        await tx.recordHandled('g.other', 'e-3', 'fp-c');
        for (let i = 0; i < 1_200; i += 3) await tx.recordHandled('g.batch', `many-${i}`, 'fp');
      });
      const queries = [
        { eventId: 'e-1', fingerprint: 'fp-a' },
        { eventId: 'e-2', fingerprint: 'fp-other' },
        { eventId: 'e-3', fingerprint: 'fp-c' },
        { eventId: 'e-1', fingerprint: 'fp-a' },
        { eventId: 'never', fingerprint: 'fp' },
      ];
      assert.deepEqual(await store.inboxStatuses('g.batch', queries), [
        'duplicate',
        'conflict',
        'unseen',
        'duplicate',
        'unseen',
      ]);
      assert.deepEqual(await store.inboxStatuses('g.batch', []), []);
      const many = Array.from({ length: 1_200 }, (_, i) => ({ eventId: `many-${i}`, fingerprint: 'fp' }));
      const statuses = await store.inboxStatuses('g.batch', many);
      assert.equal(statuses.length, many.length);
      for (const [i, status] of statuses.entries()) {
        assert.equal(status, await store.inboxStatus('g.batch', `many-${i}`, 'fp'), `many-${i}`);
      }
      assert.equal(statuses.filter((status) => status === 'duplicate').length, 400);
    });

    test('exports every document and inbox entry in key order, page by page, and imports them back unchanged, when it offers exportState and importState', async ({
      store,
    }) => {
      if (store.exportState === undefined || store.importState === undefined) return;
      const exportAll = async (pageSize?: number): Promise<StateRecord[]> => {
        const records: StateRecord[] = [];
        for await (const page of store.exportState!(pageSize)) {
          assert.ok(page.length > 0 && page.length <= (pageSize ?? 500), `page of ${page.length}`);
          records.push(...page);
        }
        return records;
      };
      await store.transaction(async (tx) => {
        await tx.put('b.things', 'x', { n: 1, nested: { text: 'é' } });
        await tx.put('a.things', 'k2', [1, 2]);
        await tx.put('a.things', 'k1', 'text');
        await tx.recordHandled('g.two', 'e-2', 'fp-2');
        await tx.recordHandled('g.one', 'e-1', 'fp-1');
      });
      const imported: StateRecord[] = [
        { kind: 'document', collection: 'c.moved', id: 'm1', value: { moved: true } },
        {
          kind: 'inbox',
          group: 'g.moved',
          eventId: 'e-m',
          fingerprint: 'fp-m',
          handledAt: 1_700_000_000_123,
        },
      ];
      await store.importState(imported);
      // Importing again changes nothing: a migration that stopped half-way is simply run again.
      await store.importState(imported);
      const records = await exportAll(2);
      const documents = records.filter((r) => r.kind === 'document');
      const inbox = records.filter((r) => r.kind === 'inbox');
      assert.deepEqual(
        documents.map((r) => [r.collection, r.id, r.value]),
        [
          ['a.things', 'k1', 'text'],
          ['a.things', 'k2', [1, 2]],
          ['b.things', 'x', { n: 1, nested: { text: 'é' } }],
          ['c.moved', 'm1', { moved: true }],
        ],
      );
      assert.deepEqual(
        inbox.map((r) => [r.group, r.eventId, r.fingerprint]),
        [
          ['g.moved', 'e-m', 'fp-m'],
          ['g.one', 'e-1', 'fp-1'],
          ['g.two', 'e-2', 'fp-2'],
        ],
      );
      assert.equal(inbox[0]?.handledAt, 1_700_000_000_123, 'the handling time crosses over to the ms');
      assert.equal(records.indexOf(inbox[0]), documents.length, 'documents first, then the inbox');
      assert.equal(
        await store.inboxStatus('g.moved', 'e-m', 'fp-m'),
        'duplicate',
        'an imported entry dedupes',
      );
      assert.deepEqual(await store.get('c.moved', 'm1'), { moved: true });
      // An entry already there is kept (the first handling stays the record); a document is replaced.
      await store.importState([
        { kind: 'inbox', group: 'g.one', eventId: 'e-1', fingerprint: 'fp-other', handledAt: 1 },
        { kind: 'document', collection: 'a.things', id: 'k1', value: 'replaced' },
      ]);
      assert.equal(await store.inboxStatus('g.one', 'e-1', 'fp-1'), 'duplicate');
      assert.equal(await store.get('a.things', 'k1'), 'replaced');
      assert.deepEqual((await exportAll()).length, records.length);
    });

    test('refuses a bad state record before importing any of the batch', async ({ store }) => {
      if (store.importState === undefined) return;
      await assert.rejects(
        store.importState([
          { kind: 'document', collection: 'ok.collection', id: 'fine', value: 1 },
          { kind: 'inbox', group: 'g', eventId: '', fingerprint: 'fp', handledAt: 1 },
        ]),
        (error) => heraldError('INVALID_ARGUMENT')(error) && /state record 1/.test((error as Error).message),
      );
      assert.equal(await store.get('ok.collection', 'fine'), undefined, 'nothing of the batch was stored');
    });

    test('reads the inbox entries of many events with their fingerprint and handling time, in handling order, when it offers inboxEntries', async ({
      store,
    }) => {
      if (store.inboxEntries === undefined) return;
      await store.transaction(async (tx) => {
        await tx.recordHandled('g.entries', 'e-1', 'fp-a');
        await tx.recordHandled('g.other', 'e-3', 'fp-c');
      });
      // A later transaction: its entry is never recorded as handled before the first one's.
      await store.transaction(async (tx) => {
        await tx.recordHandled('g.entries', 'e-2', 'fp-b');
        for (let i = 0; i < 1_200; i += 3) await tx.recordHandled('g.entries', `many-${i}`, 'fp');
      });
      const entries = await store.inboxEntries('g.entries', ['e-1', 'e-2', 'e-3', 'e-1', 'never']);
      assert.equal(entries.length, 5);
      const [first, second, otherGroup, again, never] = entries;
      assert.equal(first?.fingerprint, 'fp-a');
      assert.equal(second?.fingerprint, 'fp-b');
      assert.equal(otherGroup, undefined, "another group's entry is not this group's");
      assert.deepEqual(again, first);
      assert.equal(never, undefined);
      assert.ok(Number.isInteger(first.handledAt), `handledAt ${first.handledAt} is whole ms`);
      // The store's clock, as ms since the epoch: within a day of this process's clock.
      assert.ok(Math.abs(first.handledAt - Date.now()) < 86_400_000, `handledAt ${first.handledAt}`);
      assert.ok(second.handledAt >= first.handledAt, `${second.handledAt} >= ${first.handledAt}`);
      assert.deepEqual(await store.inboxEntries('g.entries', []), []);
      const many = Array.from({ length: 1_200 }, (_, i) => `many-${i}`);
      const found = await store.inboxEntries('g.entries', many);
      assert.equal(found.length, many.length);
      for (const [i, entry] of found.entries()) assert.equal(entry !== undefined, i % 3 === 0, `many-${i}`);
    });

    test('forgets the inbox entries handled before a time, oldest first and at most `limit` a call, when it offers pruneInbox', async ({
      store,
    }) => {
      if (store.pruneInbox === undefined) return;
      const handle = (id: string) => store.transaction((tx) => tx.recordHandled('g.retained', id, 'fp'));
      for (const id of ['old-1', 'old-2', 'old-3']) {
        await handle(id);
        await sleep(5);
      }
      await sleep(25);
      const cutoff = Date.now();
      await sleep(25);
      await handle('new-1');
      const status = async () =>
        Promise.all(
          ['old-1', 'old-2', 'old-3', 'new-1'].map((id) => store.inboxStatus('g.retained', id, 'fp')),
        );

      assert.equal(await store.pruneInbox(cutoff, 2), 2);
      assert.deepEqual(await status(), ['unseen', 'unseen', 'duplicate', 'duplicate']);
      assert.equal(await store.pruneInbox(cutoff, 2), 1);
      assert.equal(await store.pruneInbox(cutoff, 2), 0);
      assert.deepEqual(await status(), ['unseen', 'unseen', 'unseen', 'duplicate']);
      // A forgotten event is handled as new again.
      assert.equal(await handle('old-1'), 'first');
    });
  },
};

/** The outbox: emitted events reach the log, once each, in commit order. */
export const storeOutboxConformance: StoreConformanceGroup = {
  title: 'emitted events',
  define(test) {
    test('publishes emitted events to the log in commit order, keyed events to their key’s partition', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('orders', { partitions: 1 });
      await log.createTopic('payments', { partitions: 4 });
      for (let i = 0; i < 5; i++) {
        await store.transaction(async (tx) => {
          await tx.emit('orders', makeEvent(2 * i));
          await tx.emit('orders', makeEvent(2 * i + 1));
          await tx.emit('payments', makeEvent(100 + i, 'order-7'));
        });
      }
      await store.transaction((tx) => tx.emit('payments', makeEvent(200), { partition: 3 }));
      assert.deepEqual(
        await publishedIds(env, 'orders'),
        Array.from({ length: 10 }, (_, i) => `event-${i}`),
      );
      const payments = await readAll(log, 'payments');
      const keyed = payments.filter((e) => e.partitionkey === 'order-7');
      assert.deepEqual(
        keyed.map((e) => e.id),
        ['event-100', 'event-101', 'event-102', 'event-103', 'event-104'],
      );
      assert.equal(new Set(keyed.map((e) => e.partition)).size, 1, 'one key, one partition');
      assert.deepEqual(
        payments.filter((e) => e.id === 'event-200').map((e) => e.partition),
        [3],
      );
    });

    test('publishes the emitted event as given: attributes and data', async ({ env, store, log }) => {
      await log.createTopic('orders', { partitions: 1 });
      const original = makeEvent(1, 'order-1', { subject: 'orders/1', extensions: { tenant: 'acme' } });
      await store.transaction((tx) => tx.emit('orders', original));
      await env.published();
      const [stored] = await log.read('orders', { partition: 0, from: 'earliest' });
      assert.equal(stored?.id, original.id);
      assert.equal(stored.subject, 'orders/1');
      assert.equal(stored.partitionkey, 'order-1');
      assert.deepEqual(stored.extensions, { tenant: 'acme' });
      assert.deepEqual([...stored.data!], [...original.data!]);
    });

    test(
      'resolves emit with the position the event got in the log',
      {
        skipUnless: (c) =>
          c.emitResolvesPosition
            ? undefined
            : 'emit resolves undefined on this store: a relay publishes after the commit, so the position is not known in the transaction',
      },
      async ({ store, log }) => {
        await log.createTopic('orders', { partitions: 2 });
        const result = await store.transaction((tx) => tx.emit('orders', makeEvent(1), { partition: 1 }));
        assert.ok(result !== undefined);
        assert.deepEqual([result.topic, result.partition, result.offset], ['orders', 1, 0]);
        const [stored] = await log.read('orders', { partition: 1, from: { offset: result.offset } });
        assert.equal(stored?.id, 'event-1');
      },
    );

    test(
      'resolves emit with undefined: the event has no position until the relay publishes it',
      {
        skipUnless: (c) =>
          c.emitResolvesPosition
            ? 'emit appends inside the transaction on this store and knows the position'
            : undefined,
      },
      async ({ store, log }) => {
        await log.createTopic('orders', { partitions: 1 });
        assert.equal(await store.transaction((tx) => tx.emit('orders', makeEvent(1))), undefined);
      },
    );
  },
};

/** Concurrency: what concurrent transactions on one store may and may not do. */
export const storeConcurrencyConformance: StoreConformanceGroup = {
  title: 'concurrency',
  define(test) {
    test('never loses an update when transactions read-modify-write the same document at once', async ({
      store,
    }) => {
      await store.transaction((tx) => tx.put('counters', 'c', 0));
      await Promise.all(
        Array.from({ length: 8 }, () =>
          store.transaction(async (tx) => {
            const value = (await tx.get<number>('counters', 'c')) ?? 0;
            await sleep(5);
            await tx.put('counters', 'c', value + 1);
          }),
        ),
      );
      assert.equal(await store.get('counters', 'c'), 8);
    });

    test(
      'gives up with CONTENTION once a colliding transaction used its attempts, committing nothing of it',
      {
        maxAttempts: 1,
        skipUnless: (c) =>
          c.concurrency === 'retried'
            ? undefined
            : 'transactions run one at a time on this store: they never collide, so none fails with CONTENTION',
      },
      async ({ env, store, log }) => {
        await log.createTopic('counted', { partitions: 1 });
        await store.transaction((tx) => tx.put('counters', 'c', 0));
        const bothRead = barrier(2);
        const increment = () =>
          store.transaction(async (tx) => {
            const value = (await tx.get<number>('counters', 'c')) ?? 0;
            await bothRead();
            await tx.put('counters', 'c', value + 1);
            await tx.emit('counted', makeEvent(value));
          });
        const results = await Promise.allSettled([increment(), increment()]);
        const rejected = results.filter((r) => r.status === 'rejected');
        assert.equal(rejected.length, 1, 'exactly one of two colliding transactions fails');
        const error: unknown = rejected[0]?.reason;
        assert.ok(isHeraldError(error, 'CONTENTION'), String(error));
        assert.equal(await store.get('counters', 'c'), 1);
        assert.deepEqual(await publishedIds(env, 'counted'), ['event-0']);
      },
    );
  },
};

/** Failure records: the attempts of one delivery, kept across crashes. */
export const storeFailuresConformance: StoreConformanceGroup = {
  title: 'failure records',
  define(test) {
    test('counts failed attempts per delivery and clears them on request', async ({ store }) => {
      const key = { group: 'billing.invoices', topic: 'orders', partition: 2, offset: 41 };
      const other = { ...key, offset: 42 };
      assert.equal(await store.failures(key), undefined);
      const first = await store.recordFailure(key, 'boom 1');
      assert.equal(first.attempts, 1);
      assert.equal(first.lastError, 'boom 1');
      assert.equal(first.firstFailureAt, first.lastFailureAt);
      await sleep(5);
      const second = await store.recordFailure(key, 'boom 2');
      assert.equal(second.attempts, 2);
      assert.equal(second.firstFailureAt, first.firstFailureAt);
      assert.ok(second.lastFailureAt > first.lastFailureAt);
      assert.equal(second.lastError, 'boom 2');
      assert.deepEqual(await store.failures(key), second);
      await store.recordFailure(other, 'elsewhere');
      await store.clearFailures(key);
      assert.equal(await store.failures(key), undefined);
      assert.equal((await store.failures(other))?.attempts, 1);
    });

    test('reports the latest offset with a failure record per group and partition, when it offers latestFailure', async ({
      store,
    }) => {
      if (store.latestFailure === undefined) return;
      const at = (offset: number, partition = 1, group = 'billing.invoices') => ({
        group,
        topic: 'orders',
        partition,
        offset,
      });
      assert.equal(await store.latestFailure('billing.invoices', 'orders', 1), undefined);
      await store.recordFailure(at(7), 'a');
      await store.recordFailure(at(1_000_000_000_123), 'b');
      await store.recordFailure(at(9_999_999_999_999, 2), 'another partition');
      await store.recordFailure(at(9_999_999_999_999, 1, 'mailer'), 'another group');
      assert.equal(await store.latestFailure('billing.invoices', 'orders', 1), 1_000_000_000_123);
      await store.clearFailures(at(1_000_000_000_123));
      assert.equal(await store.latestFailure('billing.invoices', 'orders', 1), 7);
    });

    test('keeps at most 2000 characters of an error', async ({ store }) => {
      const key = { group: 'g', topic: 'orders', partition: 0, offset: 0 };
      const record = await store.recordFailure(key, 'x'.repeat(5000));
      assert.equal(record.lastError.length, 2000);
    });
  },
};

/** Bad input: refused with a Herald error, and nothing of the transaction committed. */
export const storeBadInputConformance: StoreConformanceGroup = {
  title: 'bad input',
  define(test) {
    test('refuses an invalid collection name with INVALID_ARGUMENT, inside and outside transactions', async ({
      store,
    }) => {
      for (const collection of ['', 'bad/collection', 'has space', 'x'.repeat(129)]) {
        await assert.rejects(store.get(collection, 'x'), heraldError('INVALID_ARGUMENT'), collection);
        await assert.rejects(store.list(collection), heraldError('INVALID_ARGUMENT'), collection);
        for (const use of [
          (tx: StoreTransaction) => tx.put(collection, 'x', 1),
          (tx: StoreTransaction) => tx.get(collection, 'x'),
          (tx: StoreTransaction) => tx.delete(collection, 'x'),
          (tx: StoreTransaction) => tx.list(collection),
        ]) {
          await assert.rejects(store.transaction(use), heraldError('INVALID_ARGUMENT'), collection);
        }
      }
    });

    test('refuses a document that is not JSON with INVALID_ARGUMENT and commits nothing', async ({
      store,
    }) => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.put('orders', 'o-1', { status: 'placed' });
          await tx.put('orders', 'o-2', undefined);
        }),
        heraldError('INVALID_ARGUMENT'),
      );
      assert.equal(await store.get('orders', 'o-1'), undefined);
    });

    test('refuses an invalid event or partition at emit, and publishes nothing of the transaction', async ({
      env,
      store,
      log,
    }) => {
      await log.createTopic('orders', { partitions: 2 });
      const attempts: {
        what: string;
        code: 'INVALID_ENVELOPE' | 'INVALID_ARGUMENT';
        run: (tx: StoreTransaction) => Promise<unknown>;
      }[] = [
        {
          what: 'empty id',
          code: 'INVALID_ENVELOPE',
          run: (tx) => tx.emit('orders', { ...makeEvent(2), id: '' }),
        },
        {
          what: 'bad time',
          code: 'INVALID_ENVELOPE',
          run: (tx) => tx.emit('orders', makeEvent(3, undefined, { time: 'yesterday' })),
        },
        {
          what: 'negative partition',
          code: 'INVALID_ARGUMENT',
          run: (tx) => tx.emit('orders', makeEvent(4), { partition: -1 }),
        },
      ];
      for (const { what, code, run } of attempts) {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.put('orders', 'o-1', { status: 'placed' });
            await tx.emit('orders', makeEvent(1));
            await run(tx);
          }),
          heraldError(code),
          what,
        );
      }
      assert.equal(await store.get('orders', 'o-1'), undefined);
      assert.deepEqual(await publishedIds(env, 'orders'), []);
    });

    test(
      'refuses to emit to a topic the log does not have, with UNKNOWN_TOPIC',
      {
        skipUnless: (c) =>
          c.checksTopicsAtEmit
            ? undefined
            : 'this store writes emitted events to its own outbox and never asks the log about topics; the relay meets an unknown topic',
      },
      async ({ store }) => {
        await assert.rejects(
          store.transaction((tx) => tx.emit('nowhere', makeEvent(1))),
          heraldError('UNKNOWN_TOPIC'),
        );
      },
    );
  },
};

/** Every group of the Store conformance suite, in the order the whole suite runs them. */
export const storeConformanceGroups: readonly StoreConformanceGroup[] = [
  storeDocumentsConformance,
  storeAtomicityConformance,
  storeInboxConformance,
  storeOutboxConformance,
  storeConcurrencyConformance,
  storeFailuresConformance,
  storeBadInputConformance,
  storeTimersConformance,
];

/**
 * Registers the Store conformance suite (or only `groups`) for one store, with node:test.
 * Every store (SQLite, Postgres) runs the same tests; where stores differ by design (see
 * {@link StoreCapabilities}) a test is skipped with the reason.
 *
 * @example
 * describeStoreConformance({
 *   name: 'sqlite',
 *   capabilities: { emitResolvesPosition: true, concurrency: 'serialized', checksTopicsAtEmit: true },
 *   async setup() {
 *     const log = await openSqliteLog({ path: join(mkdtempSync(join(tmpdir(), 'store-')), 'log.db') });
 *     const store = await openSqliteStore(log);
 *     return { store, log, published: async () => {}, [Symbol.asyncDispose]: () => log.close() };
 *   },
 * });
 */
export function describeStoreConformance(
  target: StoreConformanceTarget,
  groups: readonly StoreConformanceGroup[] = storeConformanceGroups,
): void {
  const test = storeTest(target);
  void describe(`Store conformance: ${target.name}`, () => {
    for (const group of groups) void describe(group.title, () => group.define(test));
  });
}
