import assert from 'node:assert/strict';
import { hostname, userInfo } from 'node:os';
import { describe, it } from 'node:test';
import { readAll, waitFor } from '@herald/testing';
import { createRouter, deadLetter, idempotency, retry } from '@herald/core';
import { AUDIT_COLLECTION } from '@herald/core/ops';
import type { CloudEvent, StoredEvent } from '@herald/core';
import type { RedriveAuditEntry, RedriveResult } from '@herald/core/ops';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { spawnHerald, tempDatabase } from './spawn-herald.ts';

// `herald dlq` as a real process on a real SQLite file, whose dead letters were parked by a
// real router (deadLetter + retry + idempotency).

const DLQ = 'orders.dead-letter';
const TYPE = 'dev.herald.orders.order-placed.v1';
const encoder = new TextEncoder();

const keyed: CloudEvent = {
  specversion: '1.0',
  id: 'order-1',
  source: '/checkout',
  type: TYPE,
  subject: 'orders/1',
  partitionkey: 'customer-2', // partition 0 of 2
  datacontenttype: 'application/json',
  data: encoder.encode('{"order":1,"note":"caf\u00e9"}'),
  extensions: { tenant: 'acme' },
};
const keyless: CloudEvent = {
  specversion: '1.0',
  id: 'order-2',
  source: '/checkout',
  type: TYPE,
  datacontenttype: 'application/octet-stream',
  data: new Uint8Array([0xff, 0x00, 0x7f]),
};

/** Parks `keyed` and `keyless` (appended to partition 1) through a router whose handler rejects them. */
async function parkPoison(path: string): Promise<void> {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  const store = await openSqliteStore(log);
  await log.createTopic('orders', { partitions: 2 });
  await log.append('orders', keyed);
  await log.append('orders', keyless, { partition: 1 });
  const router = createRouter({
    log,
    group: 'billing.invoices',
    topics: ['orders'],
    store,
    middleware: [deadLetter(), retry({ maxAttempts: 2, initialDelayMs: 5 }), idempotency({ store })],
  });
  router.on(TYPE, async (event) => {
    throw new Error(`the tax service rejects ${event.id}`);
  });
  const run = router.run();
  await waitFor(
    async () =>
      (await log.listTopics()).some((t) => t.name === DLQ) && (await readAll(log, DLQ)).length === 2,
    10_000,
    'two dead letters',
  );
  await router.stop();
  await run;
}

async function entries(path: string): Promise<StoredEvent[]> {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  return await readAll(log, DLQ);
}

/** Events of `orders` that were redriven (they carry `dlredrive`). */
async function redriven(path: string): Promise<StoredEvent[]> {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  return (await readAll(log, 'orders')).filter((e) => e.extensions?.['dlredrive'] !== undefined);
}

async function audit(path: string): Promise<RedriveAuditEntry[]> {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  const store = await openSqliteStore(log);
  return (await store.list<RedriveAuditEntry>(AUDIT_COLLECTION)).map((d) => d.value);
}

async function ok(args: readonly string[], url: string): Promise<string> {
  const result = await spawnHerald(args, url);
  assert.equal(result.status, 0, `herald ${args.join(' ')} failed: ${result.stderr}`);
  assert.equal(result.stderr, '');
  return result.stdout;
}

const positionOf = (all: readonly StoredEvent[], id: string): string => {
  const entry = all.find((e) => e.id === id);
  assert.ok(entry !== undefined, `no dead letter for ${id}`);
  return `${entry.partition}:${entry.offset}`;
};

// The timeout guards against a hang, not against a slow machine: every step is a `herald`
// process that exits by itself, and a busy CI host may take minutes for all of them.
describe('herald dlq (real process, SQLite file)', { timeout: 600_000 }, () => {
  it('lists dead-letter topics and the entries of one with their failure', async () => {
    using db = tempDatabase();
    await parkPoison(db.path);
    assert.match(
      await ok(['dlq', 'list'], db.url),
      /^TOPIC +ENTRIES +REDRIVEN\norders\.dead-letter +2 +0\n$/,
    );
    assert.deepEqual(JSON.parse(await ok(['dlq', 'list', '--json'], db.url)), [
      { topic: DLQ, entries: 2, redriven: 0 },
    ]);
    const rows = JSON.parse(await ok(['dlq', 'list', DLQ, '--json'], db.url)) as Record<string, unknown>[];
    assert.deepEqual(
      rows.map((r) => [r['id'], r['type'], r['code'], r['attempts'], r['error'], r['redrives']]).sort(),
      [
        ['order-1', TYPE, 'Error', 2, 'the tax service rejects order-1', 0],
        ['order-2', TYPE, 'Error', 2, 'the tax service rejects order-2', 0],
      ],
    );
    const table = await ok(['dlq', 'list', DLQ], db.url);
    assert.match(table, /^POSITION +ID +TYPE +DLCODE +ATTEMPTS +REDRIVES +ERROR\n/);
    assert.match(
      table,
      /\n\d+:\d+ +order-1 +dev\.herald\.orders\.order-placed\.v1 +Error +2 +0 +the tax service rejects order-1\n/,
    );
  });

  it('shows an entry with its attributes, failure and data, as text and as JSON', async () => {
    using db = tempDatabase();
    await parkPoison(db.path);
    const all = await entries(db.path);
    const text = await ok(['dlq', 'show', DLQ, positionOf(all, 'order-1')], db.url);
    assert.match(text, /\nsubject +orders\/1\n/);
    assert.match(text, /\npartitionkey +customer-2\n/);
    assert.match(text, /\ntenant +acme\n/);
    assert.match(text, /\nfailed in +group billing\.invoices, orders \d:0\n/);
    assert.match(text, /\ndlattempts +2\n/);
    assert.match(text, /\ndlerror:\n {2}the tax service rejects order-1\n/);
    assert.match(text, /\nredrives: none\n/);
    assert.match(
      text,
      /\ndata \(\d+ bytes of application\/json, JSON\):\n {2}\{\n {4}"order": 1,\n {4}"note": "café"\n {2}\}\n$/,
    );

    const binary = await ok(['dlq', 'show', DLQ, positionOf(all, 'order-2')], db.url);
    assert.match(binary, /\ndata \(3 bytes of application\/octet-stream, base64\):\n {2}\/wB\/\n$/);

    const json = JSON.parse(await ok(['dlq', 'show', DLQ, positionOf(all, 'order-2'), '--json'], db.url)) as {
      event: Record<string, unknown>;
      deadLetter: Record<string, unknown>;
      redrive: { count: number };
    };
    assert.equal(json.event['id'], 'order-2');
    assert.equal(json.event['data_base64'], '/wB/');
    assert.equal(json.event['dlcode'], 'Error');
    assert.deepEqual(
      [json.deadLetter['topic'], json.deadLetter['partition'], json.deadLetter['group']],
      ['orders', 1, 'billing.invoices'],
    );
    assert.equal(json.redrive.count, 0);
  });

  it('redrives an entry once however often asked, again only with --again, up to the cap, and audits it', async () => {
    using db = tempDatabase();
    await parkPoison(db.path);
    const position = positionOf(await entries(db.path), 'order-1');
    const redrive = (...args: string[]) => spawnHerald(['dlq', 'redrive', DLQ, position, ...args], db.url);
    const os = `${userInfo().username}@${hostname()}`;

    const plan = await redrive('--dry-run');
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(
      plan.stdout,
      /^would redrive orders\.dead-letter \d:0 \(order-1\) to orders \(redrive 1 of at most 3\)\n$/,
    );
    assert.deepEqual(await redriven(db.path), [], 'a dry run appended');

    const first = JSON.parse((await redrive('--actor', 'alice', '--json')).stdout) as RedriveResult;
    assert.deepEqual(
      first.outcomes.map((o) => [o.status, o.count, o.topic]),
      [['redriven', 1, 'orders']],
    );
    const [again] = await redriven(db.path);
    assert.ok(again !== undefined);
    assert.deepEqual(first.outcomes[0]?.appended, {
      topic: 'orders',
      partition: again.partition,
      offset: again.offset,
    });
    assert.equal(again.id, keyed.id);
    assert.equal(again.subject, keyed.subject);
    assert.equal(again.partitionkey, keyed.partitionkey);
    assert.deepEqual(again.extensions, { tenant: 'acme', dlredrive: '1' });
    assert.ok(Buffer.from(again.data!).equals(Buffer.from(keyed.data!)), 'the data bytes changed');

    const repeated = await redrive();
    assert.equal(repeated.status, 0, repeated.stderr);
    assert.match(
      repeated.stdout,
      /^already redriven .* by the same request before \(redrive 1 of at most 3\)/,
    );
    assert.equal((await redriven(db.path)).length, 1, 'the repeated request appended again');

    const second = await redrive('--again', '--actor', 'bob');
    assert.match(second.stdout, /^redriven .* \(redrive 2 of at most 3\)\n$/);
    const capped = await redrive('--again', '--max-redrives', '2', '--actor', 'carol');
    assert.equal(capped.status, 1);
    assert.match(
      capped.stdout,
      /^refused orders\.dead-letter \d:0 \(order-1\): it reached the redrive cap \(2 of 2\)\n$/,
    );
    assert.match(
      capped.stderr,
      /^herald: cannot redrive orders\.dead-letter \d:0 \(event order-1\): it reached the redrive cap \(2 of 2\) \(--max-redrives raises the cap\)\n$/,
    );
    assert.deepEqual(
      (await redriven(db.path)).map((e) => e.extensions?.['dlredrive']),
      ['1', '2'],
    );
    assert.match(await ok(['dlq', 'list', DLQ], db.url), /\n\d:0 +order-1 .* 2 +the tax service/);
    assert.match(
      await ok(['dlq', 'show', DLQ, position], db.url),
      /\nredrives: 2\n {2}#1 .* by alice \(.*\) +to orders \d:\d+\n {2}#2 .* by bob \(/,
    );
    assert.deepEqual(
      (await audit(db.path)).map((a) => [a.action, a.outcome, a.count, a.maxRedrives, a.actor, a.eventId]),
      [
        ['dlq.redrive', 'redriven', 1, 3, `alice (${os})`, 'order-1'],
        ['dlq.redrive', 'redriven', 2, 3, `bob (${os})`, 'order-1'],
        ['dlq.redrive', 'refused', 2, 2, `carol (${os})`, 'order-1'],
      ],
    );

    // Raising the cap above the default is confirmed, and audited with the cap and who raised it.
    const unconfirmed = await redrive('--again', '--max-redrives', '5');
    assert.equal(unconfirmed.status, 2, unconfirmed.stderr);
    assert.match(unconfirmed.stderr, /raise the redrive cap .* from 3 to 5 needs confirming: add --yes/);
    assert.equal((await redriven(db.path)).length, 2, 'an unconfirmed raise redrove');
    const raised = await spawnHerald(
      ['dlq', 'redrive', DLQ, position, '--again', '--max-redrives', '5', '--yes'],
      db.url,
      {
        HERALD_ACTOR: 'dana@example.com',
      },
    );
    assert.equal(raised.status, 0, raised.stderr);
    const last = (await audit(db.path)).at(-1)!;
    assert.deepEqual(
      [last.outcome, last.count, last.maxRedrives, last.actor],
      ['redriven', 3, 5, `dana@example.com (${os})`],
    );
  });

  it('redrives with --all every entry never redriven, a keyless one into its original partition', async () => {
    using db = tempDatabase();
    await parkPoison(db.path);
    const all = await entries(db.path);
    await ok(['dlq', 'redrive', DLQ, positionOf(all, 'order-1')], db.url);
    const unconfirmed = await spawnHerald(['dlq', 'redrive', DLQ, '--all'], db.url);
    assert.equal(unconfirmed.status, 2, 'a bulk redrive without --yes and no terminal to ask');
    assert.match(unconfirmed.stderr, /needs confirming: add --yes/);
    assert.deepEqual(
      (await redriven(db.path)).map((e) => e.id),
      ['order-1'],
      'an unconfirmed bulk redrive redrove something',
    );
    const rest = await ok(['dlq', 'redrive', DLQ, '--all', '--yes'], db.url);
    assert.match(
      rest,
      /^redriven orders\.dead-letter 1:\d+ \(order-2\) to orders partition 1 offset \d+ \(redrive 1 of at most 3\)\n$/,
    );
    assert.deepEqual((await redriven(db.path)).map((e) => e.id).sort(), ['order-1', 'order-2']);
    assert.deepEqual((await redriven(db.path)).find((e) => e.id === 'order-2')?.extensions, {
      dlredrive: '1',
    });
    assert.equal(
      await ok(['dlq', 'redrive', DLQ, '--all', '--yes'], db.url),
      'nothing to redrive in orders.dead-letter: its 2 entries were redriven before (redrive one once more with <partition>:<offset> --again)\n',
    );
    assert.deepEqual(JSON.parse(await ok(['dlq', 'list', '--json'], db.url)), [
      { topic: DLQ, entries: 2, redriven: 2 },
    ]);
  });

  it('reports an unknown topic, a missing entry or a wrong position on one line', async () => {
    using db = tempDatabase();
    await parkPoison(db.path);
    const unknown = await spawnHerald(['dlq', 'redrive', 'nope.dead-letter', '0:0'], db.url);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /^herald: [^\n]*"nope\.dead-letter"[^\n]*\n$/);
    const missing = await spawnHerald(['dlq', 'redrive', DLQ, '0:0', '0:99'], db.url);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, 'herald: orders.dead-letter has no entry at 0:99\n');
    assert.deepEqual(await redriven(db.path), [], 'a failed request redrove the valid position');
    const wrong = await spawnHerald(['dlq', 'show', DLQ, 'first'], db.url);
    assert.deepEqual(wrong, {
      status: 2,
      stdout: '',
      stderr: `herald: expected <partition>:<offset> such as 0:42, got "first" (see 'herald dlq show --help')\n`,
    });
  });
});
