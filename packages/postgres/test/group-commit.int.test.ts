// Group commit on a real Postgres: transactions started together share one Postgres transaction,
// each inside its own savepoint; one that fails is rolled back alone; the outbox keeps commit
// order; a serialization failure runs the group again; a transaction started inside a member's
// function runs alone instead of waiting for its own group.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CloudEvent, isHeraldError } from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';
import { openPostgresStore, startOutboxRelay } from '@herald/postgres';
import { readAll } from '@herald/testing';
import { postgresUnavailable, reportUnavailable, testSchema, waitFor } from './fixtures/test-postgres.ts';

const encoder = new TextEncoder();

function event(id: string): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source: '/test/group-commit',
    type: 'dev.herald.test.thing-happened.v1',
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify({ id })),
  };
}

const unavailable = await postgresUnavailable();

if (unavailable !== undefined) {
  reportUnavailable('PostgresStore group commit', unavailable);
} else {
  void describe('PostgresStore with group commit', () => {
    void it('commits transactions started together in one Postgres transaction; one that throws is rolled back alone', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
      assert.equal(db.pool.totalCount, 1, 'creating the tables took one connection');
      const outcomes = await Promise.allSettled(
        ['a', 'b', 'c', 'd'].map((id) =>
          store.transaction(async (tx) => {
            await tx.put('things', id, { id });
            await tx.emit('things', event(`event-${id}`));
            if (id === 'b') throw new Error('b refuses');
            return id;
          }),
        ),
      );
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
        ['a', 'b refuses', 'c', 'd'],
      );
      assert.deepEqual(
        (await store.list('things')).map((d) => d.id),
        ['a', 'c', 'd'],
      );
      // One connection served the four: they ran one after another in one Postgres transaction
      // (four separate transactions started at once would have taken four pooled connections).
      assert.equal(db.pool.totalCount, 1);
      // The outbox holds the committed members' events, in member order; nothing of b.
      const outbox = await db.pool.query<{ id: string }>(
        `SELECT attributes->>'id' AS id FROM "${db.schema}".herald_outbox ORDER BY id`,
      );
      assert.deepEqual(
        outbox.rows.map((r) => r.id),
        ['event-a', 'event-c', 'event-d'],
      );
    });

    void it('commits an urgent transaction while a group is running, without waiting for it', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
      let urgentDone!: () => void;
      const urgentCommitted = new Promise<void>((resolve) => (urgentDone = resolve));
      let memberRunning!: () => void;
      const running = new Promise<void>((resolve) => (memberRunning = resolve));
      const order: string[] = [];
      // The group's member holds its group open until the urgent transaction committed. The
      // bound only ends the test should the urgent one wait for the group (then it fails).
      const group = store.transaction(async (tx) => {
        await tx.put('things', 'grouped', { ok: true });
        memberRunning();
        await Promise.race([urgentCommitted, sleep(60_000, undefined, { ref: false })]);
        order.push('group finished');
      });
      await running;
      await store.transaction((tx) => tx.put('things', 'urgent', { ok: true }), { urgent: true });
      order.push('urgent committed');
      urgentDone();
      await group;
      assert.deepEqual(order, ['urgent committed', 'group finished']);
      assert.deepEqual(
        (await store.list('things')).map((d) => d.id),
        ['grouped', 'urgent'],
      );
    });

    void it('rolls back a member whose statement failed even when its function caught the error', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
      const outcomes = await Promise.allSettled([
        store.transaction((tx) => tx.put('things', 'before', { ok: true })),
        store.transaction(async (tx) => {
          await tx.put('things', 'written-then-aborted', { ok: true });
          // jsonb cannot hold U+0000: Postgres refuses the statement and aborts the transaction.
          await tx.put('things', 'bad', { text: 'nul \u0000 here' }).catch(() => undefined);
          return 'carried on';
        }),
        store.transaction((tx) => tx.put('things', 'after', { ok: true })),
      ]);
      assert.equal(outcomes[0].status, 'fulfilled');
      assert.equal(outcomes[2].status, 'fulfilled');
      assert.equal(outcomes[1].status, 'rejected');
      const reason = outcomes[1].reason as unknown;
      assert.ok(isHeraldError(reason), String(reason));
      assert.deepEqual(
        (await store.list('things')).map((d) => d.id),
        ['after', 'before'],
      );
    });

    void it('rolls back alone a member whose unsent writes Postgres refuses, first, in the middle or last', async () => {
      for (const bad of [0, 1, 2]) {
        await using db = testSchema();
        await using store = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
        const outcomes = await Promise.allSettled(
          [0, 1, 2].map((member) =>
            store.transaction(async (tx) => {
              // Reads are sent at once; writes wait for the member's next read or its end.
              assert.equal(await tx.get('things', `m${member}`), undefined);
              await tx.put('things', `m${member}`, { member });
              // jsonb cannot hold U+0000: refused when the write is sent, after the function returned.
              if (member === bad) await tx.put('things', 'bad', { text: 'nul \u0000 here' });
              await tx.emit('things', event(`event-${member}`));
              return member;
            }),
          ),
        );
        const rejected = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
        assert.deepEqual(rejected, [bad], `member ${bad} alone fails`);
        const reason = (outcomes[bad] as PromiseRejectedResult).reason as unknown;
        assert.ok(isHeraldError(reason, 'INVALID_ARGUMENT'), String(reason));
        const kept = [0, 1, 2].filter((m) => m !== bad);
        assert.deepEqual(
          (await store.list('things')).map((d) => d.id),
          kept.map((m) => `m${m}`),
        );
        const outbox = await db.pool.query<{ id: string }>(
          `SELECT attributes->>'id' AS id FROM "${db.schema}".herald_outbox ORDER BY id`,
        );
        assert.deepEqual(
          outbox.rows.map((r) => r.id),
          kept.map((m) => `event-${m}`),
        );
      }
    });

    void it('runs a group again on a serialization failure, and every member commits exactly once', async () => {
      await using db = testSchema({ max: 24 });
      // Two stores on one schema stand for two processes of one service: their groups race
      // on the same counter, so serializable isolation fails some of them, which run again.
      await using first = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
      await using second = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
      const increments = 40;
      await Promise.all(
        Array.from({ length: increments }, (_, i) =>
          (i % 2 === 0 ? first : second).transaction(async (tx) => {
            const counter = (await tx.get<{ n: number }>('counters', 'shared')) ?? { n: 0 };
            await tx.put('counters', 'shared', { n: counter.n + 1 });
            await tx.recordHandled('counting', `increment-${i}`, 'f');
          }),
        ),
      );
      assert.deepEqual(await first.get('counters', 'shared'), { n: increments });
    });

    void it('publishes what groups commit, in commit order, through the relay', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
      await using log = await openMemoryLog();
      await log.createTopic('things', { partitions: 1 });
      await using relay = startOutboxRelay({ store, log, pollIntervalMs: 60_000 });
      const ids = Array.from({ length: 30 }, (_, i) => `e-${i}`);
      await Promise.all(ids.map((id) => store.transaction((tx) => tx.emit('things', event(id)))));
      await waitFor(
        async () => (await store.outboxBacklog()) === 0 && relay.published >= ids.length,
        'the relay to publish what the groups committed',
      );
      const published = (await readAll(log, 'things')).map((e) => e.id);
      assert.deepEqual(published, ids);
    });

    void it('runs a transaction started inside a member alone instead of waiting for its own group', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
      const inner = await store.transaction(async (tx) => {
        await tx.put('things', 'outer', { ok: true });
        return store.transaction(async (nested) => {
          await nested.put('things', 'inner', { ok: true });
          return 'inner done';
        });
      });
      assert.equal(inner, 'inner done');
      assert.deepEqual(
        (await store.list('things')).map((d) => d.id),
        ['inner', 'outer'],
      );
    });

    void it('refuses a tx used after its function returned, as without group commit', async () => {
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: true });
      const kept = await store.transaction(async (tx) => tx);
      await assert.rejects(
        kept.put('things', 'late', {}),
        (error: unknown) => isHeraldError(error) && error.code === 'CLOSED',
      );
    });

    void it('rejects a bad groupCommit setting with INVALID_ARGUMENT', async () => {
      await using db = testSchema();
      await assert.rejects(
        openPostgresStore({ pool: db.pool, schema: db.schema, groupCommit: { maxTransactions: 0 } }),
        (error: unknown) => isHeraldError(error) && error.code === 'INVALID_ARGUMENT',
      );
    });
  });
}
