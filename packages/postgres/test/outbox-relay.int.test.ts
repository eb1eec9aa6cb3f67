// The outbox relay on a real Postgres: commit order (including the gap a BIGSERIAL cursor
// falls into), rolled-back transactions, LISTEN/NOTIFY, one active relay, a log that refuses,
// graceful stop, and F10: relay processes killed with SIGKILL while writers commit.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CloudEvent,
  type EventLog,
  type HeraldError,
  type PublishMiddleware,
  createRouter,
  idempotency,
} from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';
import { openPostgresStore, startOutboxRelay } from '@herald/postgres';
import { openSqliteLog } from '@herald/sqlite';
import { readAll } from '@herald/testing';
import { startChild } from './fixtures/children.ts';
import {
  TEST_POSTGRES,
  postgresUnavailable,
  reportUnavailable,
  testSchema,
  waitFor,
} from './fixtures/test-postgres.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TYPE = 'dev.herald.test.thing-happened.v1';

function event(id: string, payload: Record<string, unknown> = {}, key?: string): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source: '/test/outbox',
    type: TYPE,
    datacontenttype: 'application/json',
    ...(key === undefined ? {} : { partitionkey: key }),
    data: encoder.encode(JSON.stringify({ id, ...payload })),
  };
}

const payloadOf = <T>(e: CloudEvent): T => JSON.parse(decoder.decode(e.data)) as T;
const idsOf = (events: readonly CloudEvent[]) => events.map((e) => e.id);
const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

const unavailable = await postgresUnavailable();
if (unavailable !== undefined) {
  reportUnavailable('startOutboxRelay', unavailable);
} else {
  void describe('startOutboxRelay', () => {
    void it('publishes in commit order while writers race on the same rows, and nothing of a retried attempt', async (t) => {
      await using db = testSchema();
      // Six writers on one hot row: some transactions lose many times in a row under load.
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema, maxAttempts: 100 });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      await using _relay = startOutboxRelay({ store, log, pollIntervalMs: 50, batchSize: 7 });
      await store.transaction((tx) => tx.put('meta', 'seq', 0));
      let attempts = 0;
      const committed: string[] = [];
      const writer = async () => {
        for (let i = 0; i < 20; i++) {
          committed.push(
            await store.transaction(async (tx) => {
              // Every attempt emits an event of its own; only the attempt that commits may appear.
              const attempt = ++attempts;
              const seq = ((await tx.get<number>('meta', 'seq')) ?? 0) + 1;
              const id = `seq-${seq}-attempt-${attempt}`;
              await tx.emit('orders', event(id, { seq }));
              await sleep(randomBetween(0, 3));
              await tx.put('meta', 'seq', seq);
              return id;
            }),
          );
        }
      };
      await Promise.all(Array.from({ length: 6 }, writer));
      await waitFor(async () => (await store.outboxBacklog()) === 0, 'the outbox to drain');
      const published = await readAll(log, 'orders');
      // Each attempt that committed read the value the previous committed one wrote: `seq` is the
      // commit order, and the log must hold 1, 2, 3, … with nothing missing and nothing extra.
      assert.deepEqual(
        published.map((e) => payloadOf<{ seq: number }>(e).seq),
        Array.from({ length: 120 }, (_, i) => i + 1),
      );
      assert.deepEqual(new Set(idsOf(published)), new Set(committed));
      t.diagnostic(`${attempts} attempts for 120 commits`);
    });

    void it('publishes independent concurrent transactions in the order they committed', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      await using _relay = startOutboxRelay({ store, log, pollIntervalMs: 50, batchSize: 5 });
      // A logical clock: `ready` when a transaction's function returned (its commit starts after),
      // `done` when its commit was acknowledged. done(a) < ready(b) proves a committed before b.
      let clock = 0;
      const marks: { id: string; ready: number; done: number }[] = [];
      await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          await sleep(randomBetween(0, 20));
          const id = `tx-${i}`;
          let ready = 0;
          await store.transaction(async (tx) => {
            await tx.emit('orders', event(id));
            await tx.put('docs', id, i);
            await sleep(randomBetween(0, 30));
            ready = ++clock;
          });
          marks.push({ id, ready, done: ++clock });
        }),
      );
      await waitFor(async () => (await store.outboxBacklog()) === 0, 'the outbox to drain');
      const position = new Map(idsOf(await readAll(log, 'orders')).map((id, index) => [id, index]));
      assert.equal(position.size, 60);
      let ordered = 0;
      for (const a of marks) {
        for (const b of marks) {
          if (a.done < b.ready) {
            ordered++;
            assert.ok(position.get(a.id)! < position.get(b.id)!, `${a.id} committed before ${b.id}`);
          }
        }
      }
      assert.ok(ordered > 0);
    });

    void it('publishes a slow early transaction after a later one that committed first, skipping neither (the gap case)', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      /** Begins a transaction that emits `id` and commits only when told to. */
      const slowTransaction = async (id: string) => {
        const emitted = Promise.withResolvers<void>();
        const release = Promise.withResolvers<void>();
        const committed = store.transaction(async (tx) => {
          await tx.emit('orders', event(id));
          emitted.resolve();
          await release.promise;
        });
        await emitted.promise;
        return { commit: () => (release.resolve(), committed) };
      };
      const published = async () => idsOf(await readAll(log, 'orders'));

      // Both commit, later one first, before any relay looks: ids taken at emit would publish
      // them in emit order instead of commit order.
      const early = await slowTransaction('slow-early-0');
      await store.transaction((tx) => tx.emit('orders', event('fast-late-0')));
      await early.commit();

      // With the relay running, the later transaction is published while the early one is still
      // open. With ids taken at emit, the early row would have the lower id but become visible
      // last: a relay reading "id > last published" would have moved past it for good.
      await using _relay = startOutboxRelay({ store, log, pollIntervalMs: 20 });
      for (let round = 1; round <= 3; round++) {
        const slow = await slowTransaction(`slow-early-${round}`);
        await store.transaction((tx) => tx.emit('orders', event(`fast-late-${round}`)));
        await waitFor(
          async () => (await published()).includes(`fast-late-${round}`),
          'the later transaction to be published',
        );
        await slow.commit();
        await waitFor(
          async () => (await published()).includes(`slow-early-${round}`),
          'the early transaction to be published after it committed',
        );
      }
      assert.deepEqual(await published(), [
        'fast-late-0',
        'slow-early-0',
        'fast-late-1',
        'slow-early-1',
        'fast-late-2',
        'slow-early-2',
        'fast-late-3',
        'slow-early-3',
      ]);
    });

    void it('never publishes events of transactions that rolled back', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 3 });
      await using _relay = startOutboxRelay({ store, log, pollIntervalMs: 20 });
      const committed: string[] = [];
      for (let i = 0; i < 30; i++) {
        const id = `e-${i}`;
        const outcome = store.transaction(async (tx) => {
          await tx.emit('orders', event(id, {}, `key-${i % 4}`));
          if (i % 3 === 1) throw new Error('the business rule said no');
          // jsonb refuses U+0000: Postgres aborts the transaction even though the error is caught.
          if (i % 3 === 2 && i % 2 === 0) await tx.put('docs', id, 'a\u0000b').catch(() => undefined);
        });
        if (
          await outcome.then(
            () => true,
            () => false,
          )
        )
          committed.push(id);
      }
      assert.ok(committed.length > 0 && committed.length < 30);
      await waitFor(async () => (await store.outboxBacklog()) === 0, 'the outbox to drain');
      assert.deepEqual(idsOf(await readAll(log, 'orders')).sort(), committed.sort());
    });

    void it('publishes each event to the partition it was emitted for, or by its key', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 4 });
      await log.createTopic('audit', { partitions: 1 });
      await using _relay = startOutboxRelay({ store, log, pollIntervalMs: 20 });
      await store.transaction(async (tx) => {
        await tx.emit('orders', event('pinned'), { partition: 2 });
        await tx.emit('orders', event('keyed', {}, 'customer-7'));
        await tx.emit('audit', event('audited'));
      });
      await waitFor(async () => (await store.outboxBacklog()) === 0, 'the outbox to drain');
      const orders = await readAll(log, 'orders');
      assert.equal(orders.find((e) => e.id === 'pinned')?.partition, 2);
      const direct = await log.append('orders', event('direct', {}, 'customer-7'));
      assert.equal(orders.find((e) => e.id === 'keyed')?.partition, direct.partition);
      assert.deepEqual(idsOf(await readAll(log, 'audit')), ['audited']);
    });

    void it('passes every append through its publish middleware, which is given the log, and keeps the partition of each event', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 4 });
      const seen: { topic: string; ids: string[]; log: EventLog | undefined }[] = [];
      const watching: PublishMiddleware = (next, sink) => async (topic, events) => {
        seen.push({ topic, ids: events.map((e) => e.id), log: sink });
        return next(topic, events);
      };
      await using _relay = startOutboxRelay({ store, log, pollIntervalMs: 20, middleware: [watching] });
      await store.transaction((tx) => tx.emit('orders', event('pinned'), { partition: 3 }));
      await waitFor(async () => (await store.outboxBacklog()) === 0, 'the outbox to drain');
      await store.transaction(async (tx) => {
        await tx.emit('orders', event('a', {}, 'k'));
        await tx.emit('orders', event('b', {}, 'k'));
      });
      await waitFor(async () => (await store.outboxBacklog()) === 0, 'the outbox to drain');
      assert.deepEqual(
        seen.map(({ topic, ids }) => ({ topic, ids })),
        [
          { topic: 'orders', ids: ['pinned'] },
          { topic: 'orders', ids: ['a', 'b'] },
        ],
      );
      assert.ok(
        seen.every((s) => s.log === log),
        'the middleware is given the log',
      );
      assert.equal((await readAll(log, 'orders')).find((e) => e.id === 'pinned')?.partition, 3);
    });

    void it('wakes on commit through LISTEN/NOTIFY instead of waiting for the next poll', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      await using relay = startOutboxRelay({ store, log, pollIntervalMs: 600_000 });
      await waitFor(() => relay.state === 'leading', 'the relay to lead');
      for (let i = 0; i < 3; i++) {
        // Well after the relay found the outbox empty and went to sleep for ten minutes.
        await sleep(300);
        await store.transaction((tx) => tx.emit('orders', event(`woken-${i}`)));
        await waitFor(async () => (await readAll(log, 'orders')).length === i + 1, `event ${i}`, 10_000);
      }
    });

    void it('publishes what commits while it publishes, without polling, every event once', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      // Each append takes a while: commits land while the relay publishes, between its read and
      // its next wait. Only their notifications can wake it (the poll is ten minutes away).
      const slow: PublishMiddleware = (next) => async (topic, events) => {
        await sleep(15);
        return next(topic, events);
      };
      await using relay = startOutboxRelay({ store, log, pollIntervalMs: 600_000, middleware: [slow] });
      await waitFor(() => relay.state === 'leading', 'the relay to lead');
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        ids.push(`during-${i}`);
        await store.transaction((tx) => tx.emit('orders', event(`during-${i}`)));
        if (i % 3 === 0) await sleep(7);
      }
      const published = async () => (await readAll(log, 'orders')).length;
      await waitFor(async () => (await published()) >= ids.length, 'every event', 10_000, published);
      assert.deepEqual(idsOf(await readAll(log, 'orders')), ids);
    });

    void it('lets one relay publish at a time; a standby takes over when it stops', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      const first = startOutboxRelay({ store, log, pollIntervalMs: 20 });
      await waitFor(() => first.state === 'leading', 'the first relay to lead');
      await using second = startOutboxRelay({ store, log, pollIntervalMs: 20 });
      for (let i = 0; i < 20; i++) await store.transaction((tx) => tx.emit('orders', event(`a-${i}`)));
      await waitFor(() => first.published === 20, 'the first relay to publish');
      assert.equal(second.state, 'standby');
      assert.equal(second.published, 0);
      await first.stop();
      assert.equal(first.state, 'stopped');
      for (let i = 0; i < 20; i++) await store.transaction((tx) => tx.emit('orders', event(`b-${i}`)));
      await waitFor(() => second.published === 20, 'the standby to take over and publish');
      assert.deepEqual(idsOf(await readAll(log, 'orders')), [
        ...Array.from({ length: 20 }, (_, i) => `a-${i}`),
        ...Array.from({ length: 20 }, (_, i) => `b-${i}`),
      ]);
    });

    void it('keeps an event the log refuses at the head of the outbox and publishes it, in order, once accepted', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      const errors: HeraldError[] = [];
      await using relay = startOutboxRelay({
        store,
        log,
        pollIntervalMs: 20,
        onError: (error) => errors.push(error),
      });
      await store.transaction(async (tx) => {
        await tx.emit('orders', event('before'));
        await tx.emit('invoices', event('refused-at-first'));
        await tx.emit('orders', event('after'));
      });
      await waitFor(() => errors.length >= 2, 'the relay to report the refusal and retry');
      assert.equal(errors[0]?.code, 'UNKNOWN_TOPIC');
      assert.deepEqual(idsOf(await readAll(log, 'orders')), ['before']);
      assert.equal(await store.outboxBacklog(), 2);
      await log.createTopic('invoices', { partitions: 1 });
      await waitFor(async () => (await store.outboxBacklog()) === 0, 'the outbox to drain');
      assert.deepEqual(idsOf(await readAll(log, 'invoices')), ['refused-at-first']);
      assert.deepEqual(idsOf(await readAll(log, 'orders')), ['before', 'after']);
      assert.equal(relay.published, 3);
    });

    void it('reconnects when Postgres ends its session, and publishes what was committed meanwhile', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      const errors: HeraldError[] = [];
      await using relay = startOutboxRelay({
        store,
        log,
        pollIntervalMs: 20,
        onError: (error) => errors.push(error),
      });
      await waitFor(() => relay.state === 'leading', 'the relay to lead');
      for (let i = 0; i < 5; i++) await store.transaction((tx) => tx.emit('orders', event(`before-${i}`)));
      await waitFor(() => relay.published === 5, 'the first events');
      // The session holding the relay lock (a session-level advisory lock on a 64-bit key).
      const { rows } = await db.pool.query<{ pid: number }>(
        `SELECT l.pid FROM pg_locks l, (SELECT hashtextextended($1, 0) AS k) h
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
           AND l.classid::bigint = (h.k >> 32) & 4294967295 AND l.objid::bigint = h.k & 4294967295`,
        [`herald.outbox.relay:${db.schema}`],
      );
      assert.equal(rows.length, 1, 'exactly one session holds the relay lock');
      await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      for (let i = 0; i < 5; i++) await store.transaction((tx) => tx.emit('orders', event(`after-${i}`)));
      await waitFor(() => relay.published === 10, 'the relay to come back and publish');
      assert.ok(
        errors.some((e) => e.code === 'BACKEND_UNAVAILABLE'),
        errors.map((e) => e.message).join('; '),
      );
      assert.deepEqual(idsOf(await readAll(log, 'orders')), [
        ...Array.from({ length: 5 }, (_, i) => `before-${i}`),
        ...Array.from({ length: 5 }, (_, i) => `after-${i}`),
      ]);
    });

    void it('stops gracefully on its signal, leaving later commits in the outbox for the next relay', async () => {
      await using db = testSchema();
      await using log = await openMemoryLog();
      await log.createTopic('orders', { partitions: 1 });
      const controller = new AbortController();
      // Given a pool and a schema instead of a store: it creates the tables itself.
      const relay = startOutboxRelay({ pool: db.pool, schema: db.schema, log, signal: controller.signal });
      await waitFor(() => relay.state === 'leading', 'the relay to lead');
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await store.transaction((tx) => tx.emit('orders', event('published')));
      await waitFor(() => relay.published === 1, 'the first event to be published');
      controller.abort();
      await relay.stop();
      assert.equal(relay.state, 'stopped');
      await store.transaction((tx) => tx.emit('orders', event('waits')));
      await sleep(100);
      assert.equal(await store.outboxBacklog(), 1);
      assert.deepEqual(idsOf(await readAll(log, 'orders')), ['published']);
      // The stopped relay released its lock: the next one leads at once and publishes the rest.
      await using next = startOutboxRelay({ store, log, pollIntervalMs: 20 });
      await waitFor(() => next.published === 1, 'the next relay to publish');
      assert.deepEqual(idsOf(await readAll(log, 'orders')), ['published', 'waits']);
    });

    void it(
      'publishes every committed event and none rolled back while relay processes are killed with SIGKILL (F10)',
      { timeout: 90_000 },
      async (t) => {
        const KILLS = 12;
        const dir = mkdtempSync(join(tmpdir(), 'herald-postgres-f10-'));
        t.after(() => rmSync(dir, { recursive: true, force: true }));
        const path = join(dir, 'herald.db');
        {
          await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
          await log.createTopic('orders', { partitions: 3 });
        }
        await using db = testSchema();
        await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });

        // Writers commit (and roll back) all along while relays come and go. Per key, `seq`
        // counts the commits, so the log's per-key order can be checked against commit order.
        const committed = new Set<string>();
        const rolledBack = new Set<string>();
        let writing = true;
        const writer = async (w: number) => {
          for (let i = 0; writing; i++) {
            const key = `customer-${(w * 7 + i) % 5}`;
            const id = `w${w}-${i}`;
            const rollBack = i % 5 === 3;
            try {
              await store.transaction(async (tx) => {
                const seq = ((await tx.get<number>('seq', key)) ?? 0) + 1;
                await tx.put('seq', key, seq);
                await tx.emit('orders', event(id, { key, seq }, key));
                if (rollBack) throw new Error('rolled back on purpose');
              });
              committed.add(id);
            } catch (error) {
              if (!rollBack) throw error;
              rolledBack.add(id);
            }
            await sleep(randomBetween(1, 6));
          }
        };
        const writers = Promise.all([0, 1, 2].map(writer));

        let kills = 0;
        try {
          while (kills < KILLS) {
            const child = startChild('relay-process.ts', [TEST_POSTGRES, db.schema, path, '4', '40']);
            await child.waitForLine('leading');
            await sleep(randomBetween(10, 400));
            child.kill('SIGKILL');
            const { signal } = await child.exited;
            assert.equal(
              signal,
              'SIGKILL',
              `the relay died before it was killed: ${child.lines.join(' | ')}`,
            );
            kills++;
          }
        } finally {
          writing = false;
          await writers;
        }
        assert.ok(rolledBack.size > 0);

        // A last relay drains what the killed ones left.
        await using log = await openSqliteLog({ path, retentionIntervalMs: 0, integrityCheck: 'full' });
        {
          await using _relay = startOutboxRelay({ store, log, pollIntervalMs: 20 });
          await waitFor(
            async () => (await store.outboxBacklog()) === 0,
            'the last relay to drain the outbox',
          );
        }

        const published = await readAll(log, 'orders');
        const firstCopies = new Map<string, CloudEvent>();
        for (const e of published) {
          const seen = firstCopies.get(e.id);
          if (seen === undefined) firstCopies.set(e.id, e);
          // A re-publication after a kill is the same event: same id, same payload.
          else assert.deepEqual(seen.data, e.data, `${e.id} re-published with another payload`);
        }
        assert.deepEqual(new Set(firstCopies.keys()), committed, 'published ids differ from committed ids');
        for (const id of rolledBack) assert.ok(!firstCopies.has(id), `${id} was rolled back but published`);
        // Per key, first copies appear in commit order: seq 1, 2, 3, … with no gap.
        const seqs = new Map<string, number[]>();
        for (const e of firstCopies.values()) {
          const { key, seq } = payloadOf<{ key: string; seq: number }>(e);
          seqs.set(key, [...(seqs.get(key) ?? []), seq]);
        }
        for (const [key, list] of seqs) {
          assert.deepEqual(
            list,
            Array.from({ length: list.length }, (_, i) => i + 1),
            `order of ${key}`,
          );
        }

        // Downstream, a consumer's inbox makes duplicates one effect each.
        await using consumerDb = testSchema();
        await using consumerStore = await openPostgresStore({
          pool: consumerDb.pool,
          schema: consumerDb.schema,
        });
        const router = createRouter({
          log,
          group: 'f10.effects',
          topics: ['orders'],
          store: consumerStore,
          middleware: [idempotency({ store: consumerStore })],
        });
        let deliveries = 0;
        router.on(TYPE, async (e, ctx) => {
          deliveries++;
          await ctx.transaction(async (tx) => {
            await tx.put('effects', e.id, ((await tx.get<number>('effects', e.id)) ?? 0) + 1);
          });
        });
        const running = router.run();
        try {
          await waitFor(
            async () => (await consumerStore.list('effects')).length === committed.size,
            'the consumer to apply every event',
            15_000,
            () => deliveries,
          );
          await waitFor(
            async () => {
              const { partitions } = await log.describeGroup('f10.effects');
              return partitions.length === 3 && partitions.every((p) => p.lag === 0);
            },
            'the consumer to read every copy',
            15_000,
            async () => {
              const { partitions } = await log.describeGroup('f10.effects');
              return partitions.reduce((sum, p) => sum + (p.committed ?? 0), 0);
            },
          );
        } finally {
          // Stopped before its store closes, so that a failed wait is reported as itself.
          await router.stop();
        }
        await running;
        const effects = await consumerStore.list<number>('effects');
        assert.deepEqual(
          effects.filter((e) => e.value !== 1),
          [],
          'events whose effect applied more than once',
        );
        assert.equal(deliveries, committed.size, 'duplicate copies reached the handler');
        t.diagnostic(
          `${kills} kills; ${committed.size} committed, ${rolledBack.size} rolled back; ` +
            `${published.length - firstCopies.size} re-published copies`,
        );
      },
    );
  });
}
