import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAll, waitFor } from '@herald/testing';
import { createRouter, deadLetter, idempotency, retry } from '@herald/core';
import type { CloudEvent, EventLog, Store } from '@herald/core';
import { parkedKeys } from '@herald/core/ops';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { spawnHerald, tempDatabase } from './spawn-herald.ts';

// Parked keys through `herald groups <group>` and `herald dlq discard`, as real processes on a
// real SQLite file whose router dead-lettered an event and parked its key.

const DLQ = 'orders.dead-letter';
const GROUP = 'billing.invoices';
const TYPE = 'dev.herald.orders.order-placed.v1';
const encoder = new TextEncoder();

const order = (n: number, key: string): CloudEvent => ({
  specversion: '1.0',
  id: `order-${n}`,
  source: '/checkout',
  type: TYPE,
  partitionkey: key,
  datacontenttype: 'application/json',
  data: encoder.encode(JSON.stringify({ order: n })),
});

/** Runs the group until `done`: order-1 always fails, the rest are handled (their ids in `handled`). */
async function runGroup(
  path: string,
  handled: string[],
  done: (log: EventLog, store: Store) => Promise<boolean>,
): Promise<void> {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  const store = await openSqliteStore(log);
  const router = createRouter({
    log,
    group: GROUP,
    topics: ['orders'],
    store,
    releaseCheckIntervalMs: 50,
    middleware: [deadLetter(), retry({ maxAttempts: 1 }), idempotency({ store })],
  });
  router.on(TYPE, async (event) => {
    if (event.id === 'order-1') throw new Error('the tax service rejects order-1');
    handled.push(event.id);
  });
  const run = router.run();
  try {
    await waitFor(async () => (await done(log, store)) && (await committedAll(log)), 20_000, 'the group');
  } finally {
    await router.stop();
    await run;
  }
}

async function committedAll(log: EventLog): Promise<boolean> {
  const { partitions } = await log.describeGroup(GROUP);
  return partitions.length > 0 && partitions.every((p) => p.lag === 0);
}

async function ok(args: readonly string[], url: string): Promise<string> {
  const result = await spawnHerald(args, url);
  assert.equal(result.status, 0, `herald ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

describe('parked keys through herald (real process, SQLite file)', { timeout: 600_000 }, () => {
  it('shows a parked key in herald groups, discards its dead letter once, and the group then handles what waited', async () => {
    using db = tempDatabase();
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch('orders', [
        order(1, 'customer-7'),
        order(2, 'customer-7'),
        order(3, 'customer-8'),
      ]);
    }
    const handled: string[] = [];
    await runGroup(
      db.path,
      handled,
      async (_log, store) => handled.includes('order-3') && (await parkedKeys(store, GROUP))[0]?.count === 1,
    );
    assert.deepEqual(handled, ['order-3'], 'order-2 waits behind order-1');

    const described = await ok(['groups', GROUP], db.url);
    assert.match(described, /\nparked keys: 1, 1 event waiting\n/);
    assert.match(described, /\norders +0 +customer-7 +1 +order-1 at orders\.dead-letter 0:0 +\S+ +parked\n?/);
    const json = JSON.parse(await ok(['groups', GROUP, '--json'], db.url)) as {
      parked: { key: string; count: number }[];
    };
    assert.deepEqual(
      json.parked.map((k) => [k.key, k.count]),
      [['customer-7', 1]],
    );

    assert.match(
      await ok(['dlq', 'discard', DLQ, '0:0', '--dry-run'], db.url),
      /^would discard orders\.dead-letter 0:0 \(order-1\); key customer-7 of group billing\.invoices would be released/,
    );
    assert.match(
      await ok(
        ['dlq', 'discard', DLQ, '0:0', '--reason', 'refunded by hand', '--actor', 'alice@ops'],
        db.url,
      ),
      /^discarded orders\.dead-letter 0:0 \(order-1\); key customer-7 of group billing\.invoices released, 1 parked event to handle in order\n$/,
    );
    assert.match(
      await ok(['dlq', 'discard', DLQ, '0:0'], db.url),
      /^already discarded orders\.dead-letter 0:0 \(order-1\) at \S+ by alice@ops\b.*\n$/,
    );
    assert.match(await ok(['dlq', 'list', DLQ], db.url), /\n0:0 +order-1 .* 0 \(discarded\) /);
    assert.match(
      await ok(['dlq', 'show', DLQ, '0:0'], db.url),
      /\ndiscarded: \S+ by alice@ops\b.*: refunded by hand\n/,
    );
    const refused = await spawnHerald(['dlq', 'redrive', DLQ, '0:0'], db.url);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /discarded.*--force redrives a discarded entry/);

    await runGroup(
      db.path,
      handled,
      async (_log, store) => handled.includes('order-2') && (await parkedKeys(store, GROUP)).length === 0,
    );
    assert.deepEqual(handled, ['order-3', 'order-2']);
    assert.match(await ok(['groups', GROUP], db.url), /\nno parked keys\n$/);
    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    assert.deepEqual(await parkedKeys(await openSqliteStore(log), GROUP), []);
    assert.equal((await readAll(log, DLQ)).length, 1);
  });

  it('refuses to discard without a store', async () => {
    const result = await spawnHerald(['dlq', 'discard', DLQ, '0:0'], 'memory:parking-cli');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /has no store: a discard must be recorded/);
  });
});
