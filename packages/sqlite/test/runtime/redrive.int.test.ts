// Fault F9: a dead-letter redrive requested twice at once is one logical redrive with one effect;
// redrives are counted per entry and capped; every redrive is audited. On the embedded log the
// redrive is one store transaction in the log's own file, so concurrent requests — from two
// processes (the real `herald` CLI) or two calls in one process — are serialised by SQLite's
// write lock and the second one finds the first one's record.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { readAll, waitFor } from '@herald/testing';
import { createRouter, deadLetter, idempotency, isHeraldError, retry } from '@herald/core';
import { AUDIT_COLLECTION, REDRIVE_COLLECTION, redrive } from '@herald/core/ops';
import type { StoredEvent } from '@herald/core';
import type { RedriveAuditEntry, RedriveRecord } from '@herald/core/ops';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { SqliteLog, SqliteStore } from '@herald/sqlite';
import { ORDER_PLACED, order, seedOrders, tempDatabase } from './fixtures/orders.ts';

const GROUP = 'billing.invoices';
const DLQ = 'orders.dead-letter';
const POISON = 'order-0';
const HERALD = fileURLToPath(new URL('../../../cli/bin/herald.js', import.meta.url));

/** Runs the real `herald` command against the database at `path`. */
async function herald(path: string, args: readonly string[]) {
  const child = spawn(process.execPath, [HERALD, ...args], {
    env: { ...process.env, HERALD_LOG: `sqlite:${path}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

interface Service {
  readonly log: SqliteLog;
  readonly store: SqliteStore;
  /** The poison event as it was parked in the dead-letter topic. */
  readonly entry: StoredEvent;
  /** Invoices written by the handler (its one effect), by event id. */
  invoices(id: string): Promise<number>;
  /** Waits until the group has handled everything appended so far. */
  drained(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Orders 0–5 in two partitions and a router (deadLetter + retry + idempotency) whose handler
 * rejects order-0 until it is fixed; returns once order-0 sits in the dead-letter topic and the
 * handler has been fixed. The router keeps running, as the service would.
 */
async function serviceWithPoisonParked(path: string): Promise<Service> {
  await seedOrders(path, { total: 6, partitions: 2, keys: 3 });
  const log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  const store = await openSqliteStore(log);
  let fixed = false;
  const router = createRouter({
    log,
    group: GROUP,
    topics: ['orders'],
    store,
    middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 10 }), idempotency({ store })],
  });
  router.on(ORDER_PLACED, async (event, ctx) => {
    if (event.id === POISON && !fixed) throw new Error('the tax service rejects this order');
    await ctx.transaction(async (tx) => {
      await tx.put('invoices', event.id, ((await tx.get<number>('invoices', event.id)) ?? 0) + 1);
    });
  });
  const running = router.run();
  const drained = () =>
    waitFor(
      async () => {
        const { partitions } = await log.describeGroup(GROUP);
        return partitions.length === 2 && partitions.every((p) => p.lag === 0);
      },
      15_000,
      'the group to handle every event',
    );
  let parked: StoredEvent[] = [];
  await waitFor(
    async () => {
      const topics = (await log.listTopics()).map((t) => t.name);
      parked = topics.includes(DLQ) ? await readAll(log, DLQ) : [];
      return parked.length > 0;
    },
    15_000,
    'the poison event to be parked',
  );
  await drained();
  fixed = true;
  assert.deepEqual(
    parked.map((e) => e.id),
    [POISON],
  );
  return {
    log,
    store,
    entry: parked[0]!,
    invoices: async (id) => (await store.get<number>('invoices', id)) ?? 0,
    drained,
    stop: async () => {
      await router.stop();
      await running;
      await log.close();
    },
  };
}

async function redriven(log: SqliteLog): Promise<StoredEvent[]> {
  return (await readAll(log, 'orders')).filter((e) => e.extensions?.['dlredrive'] !== undefined);
}

async function auditOf(store: SqliteStore): Promise<RedriveAuditEntry[]> {
  return (await store.list<RedriveAuditEntry>(AUDIT_COLLECTION)).map((d) => d.value);
}

void describe('dead-letter redrive on the embedded log (F9)', { timeout: 60_000 }, () => {
  void it('makes two herald processes redriving at once one redrive with one effect, then caps and audits further ones', async () => {
    using db = tempDatabase();
    const service = await serviceWithPoisonParked(db.path);
    try {
      const { log, store, entry } = service;
      const position = `${entry.partition}:${entry.offset}`;
      const [a, b] = await Promise.all([
        herald(db.path, ['dlq', 'redrive', DLQ, position, '--actor', 'alice']),
        herald(db.path, ['dlq', 'redrive', DLQ, position, '--actor', 'bob']),
      ]);
      assert.equal(a.status, 0, a.stderr);
      assert.equal(b.status, 0, b.stderr);
      const lines = [a.stdout, b.stdout].sort();
      assert.match(
        lines[0]!,
        /^already redriven orders\.dead-letter \d+:\d+ \(order-0\) .*\(redrive 1 of at most 3\)/,
      );
      assert.match(
        lines[1]!,
        /^redriven orders\.dead-letter \d+:\d+ \(order-0\) to orders partition \d+ offset \d+ \(redrive 1 of at most 3\)\n$/,
      );

      await waitFor(
        async () => (await service.invoices(POISON)) === 1,
        15_000,
        'the redriven order to be invoiced',
      );
      await service.drained();
      const copies = await redriven(log);
      assert.equal(copies.length, 1, 'two events were re-appended');
      assert.equal(copies[0]?.id, POISON);
      assert.equal(copies[0]?.extensions?.['dlredrive'], '1');
      assert.ok(
        Buffer.from(copies[0].data!).equals(Buffer.from(order(0, 3).data!)),
        'the data bytes changed',
      );
      const record = await store.get<RedriveRecord>(
        REDRIVE_COLLECTION,
        `${DLQ}/${position.replace(':', '/')}`,
      );
      assert.equal(record?.count, 1);
      const audit = await auditOf(store);
      assert.equal(audit.length, 1);
      assert.deepEqual(
        [audit[0]?.outcome, audit[0]?.count, audit[0]?.eventId, audit[0]?.topic],
        ['redriven', 1, POISON, 'orders'],
      );
      // The claimed name, then the OS identity of whoever ran the command.
      assert.match(audit[0]!.actor, /^(alice|bob) \(.+@.+\)$/);

      // Redriving again is deliberate (--again) and counted; the consumer's inbox gives no second effect.
      for (const n of [2, 3]) {
        const again = await herald(db.path, ['dlq', 'redrive', DLQ, position, '--again', '--actor', 'carol']);
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stdout, new RegExp(`\\(redrive ${n} of at most 3\\)\\n$`));
      }
      const beyond = await herald(db.path, ['dlq', 'redrive', DLQ, position, '--again', '--actor', 'dave']);
      assert.equal(beyond.status, 1);
      assert.match(
        beyond.stderr,
        /^herald: cannot redrive orders\.dead-letter \d+:\d+ \(event order-0\): it reached the redrive cap \(3 of 3\)/,
      );
      await waitFor(async () => (await redriven(log)).length === 3, 5_000, 'three redriven copies');
      await service.drained();
      assert.equal(await service.invoices(POISON), 1, 'a redriven duplicate had a second effect');
      assert.deepEqual(
        (await redriven(log)).map((e) => e.extensions?.['dlredrive']),
        ['1', '2', '3'],
      );
      assert.equal(
        (await store.get<RedriveRecord>(REDRIVE_COLLECTION, `${DLQ}/${position.replace(':', '/')}`))?.count,
        3,
      );
      assert.deepEqual(
        (await auditOf(store)).map((x) => [
          x.outcome,
          x.count,
          /^(alice|bob) /.test(x.actor) ? 'a|b' : x.actor.split(' ')[0],
        ]),
        [
          ['redriven', 1, 'a|b'],
          ['redriven', 2, 'carol'],
          ['redriven', 3, 'carol'],
          ['refused', 3, 'dave'],
        ],
      );
      for (let i = 1; i < 6; i++) assert.equal(await service.invoices(`order-${i}`), 1, `order-${i}`);
    } finally {
      await service.stop();
    }
  });

  void it('makes two redrive calls at once in one process one redrive with one effect, and refuses past the cap', async () => {
    using db = tempDatabase();
    const service = await serviceWithPoisonParked(db.path);
    try {
      const { log, store, entry } = service;
      const request = {
        log,
        store,
        deadLetterTopic: DLQ,
        positions: [{ partition: entry.partition, offset: entry.offset }],
        maxRedrives: 2,
        actor: 'ops',
      };
      const results = await Promise.all([redrive(request), redrive(request)]);
      assert.deepEqual(results.map((r) => r.outcomes[0]?.status).sort(), ['duplicate', 'redriven']);
      assert.deepEqual(
        results.map((r) => r.outcomes[0]?.count),
        [1, 1],
      );
      await waitFor(
        async () => (await service.invoices(POISON)) === 1,
        15_000,
        'the redriven order to be invoiced',
      );
      await service.drained();
      assert.equal((await redriven(log)).length, 1);
      assert.equal(
        (await store.get<RedriveRecord>(REDRIVE_COLLECTION, `${DLQ}/${entry.partition}/${entry.offset}`))
          ?.count,
        1,
      );
      assert.equal((await auditOf(store)).length, 1);

      const again = {
        ...request,
        positions: [{ partition: entry.partition, offset: entry.offset, expectedCount: 1 }],
      };
      const both = await Promise.all([redrive(again), redrive(again)]);
      assert.deepEqual(both.map((r) => r.outcomes[0]?.status).sort(), ['duplicate', 'redriven']);
      const capped = {
        ...request,
        positions: [{ partition: entry.partition, offset: entry.offset, expectedCount: 2 }],
      };
      const refusals = await Promise.allSettled([redrive(capped), redrive(capped)]);
      for (const refusal of refusals) {
        assert.equal(refusal.status, 'rejected');
        assert.ok(isHeraldError(refusal.reason, 'CONFLICT'), String(refusal.reason));
        assert.match(refusal.reason.message, /reached the redrive cap \(2 of 2\)/);
      }
      await service.drained();
      assert.equal((await redriven(log)).length, 2);
      assert.equal(await service.invoices(POISON), 1);
      assert.deepEqual(
        (await auditOf(store)).map((x) => [x.outcome, x.count]),
        [
          ['redriven', 1],
          ['redriven', 2],
          ['refused', 2],
          ['refused', 2],
        ],
      );
    } finally {
      await service.stop();
    }
  });
});
