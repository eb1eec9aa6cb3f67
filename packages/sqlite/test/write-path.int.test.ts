// The embedded log's write and read paths under load: one transaction and one WAL sync for
// everything queued together, checkpoints on their own thread, and in-process groups sharing
// each new event instead of reading it back once per group; the write lock shared with other
// processes, waited for without blocking the event loop.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { type CloudEvent, isHeraldError, type StoredEvent } from '@herald/core';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { startFixture } from './fixtures/children.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-write-path-'));
  dirs.push(dir);
  return join(dir, 'log.db');
}

const encoder = new TextEncoder();
const event = (id: string, bytes = 16): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test',
  type: 'dev.herald.test.happened.v1',
  partitionkey: id,
  data: encoder.encode(JSON.stringify({ id, pad: 'x'.repeat(bytes) })),
});

/**
 * Another process that takes the file's write lock (BEGIN IMMEDIATE) and holds it until
 * `release()`; resolves once it holds it.
 */
async function holdWriteLock(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const { DatabaseSync } = require('node:sqlite');
    const db = new DatabaseSync(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    console.log('locked');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', () => resolve());
    void exited.then(() => reject(new Error('the lock holder exited before it took the lock')));
  });
  return {
    async release() {
      child.stdin.write('release\n');
      await exited;
    },
  };
}

describe('the embedded log write path', () => {
  it('commits appends queued together in shared transactions, each made durable by at most one WAL sync', async () => {
    await using log = await openSqliteLog({ path: tempPath() });
    await log.createTopic('t', { partitions: 4 });
    const before = log.stats();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append('t', event(`e${i}`))));
    const after = log.stats();
    assert.equal(results.length, 200);
    // One transaction on a quiet machine; a transaction stops taking appends after a few ms, so a
    // busy one may need a few. Never one per append.
    const transactions = after.transactions - before.transactions;
    assert.ok(transactions >= 1 && transactions <= 20, `${transactions} transactions for 200 appends`);
    assert.ok(after.syncs - before.syncs <= transactions, 'at most one sync per transaction');
    const stored = (
      await Promise.all(
        [0, 1, 2, 3].map((partition) => log.read('t', { partition, from: 'earliest', limit: 500 })),
      )
    ).flat();
    assert.equal(stored.length, 200);
  });

  it('runs an urgent store transaction ahead of a backlog of queued ones, in a transaction that commits early', async () => {
    await using log = await openSqliteLog({ path: tempPath(), synchronous: 'normal' });
    const store = await openSqliteStore(log);
    const ran: string[] = [];
    // Each handler-like transaction takes ~0.2 ms: the backlog needs many transactions.
    const busy = (name: string) => async () => {
      const until = performance.now() + 0.2;
      while (performance.now() < until);
      ran.push(name);
    };
    const backlog = Array.from({ length: 300 }, (_, i) => store.transaction(busy(`queued-${i}`)));
    let ranBeforeUrgentAcknowledged = -1;
    const urgent = store
      .transaction(busy('urgent'), { urgent: true })
      .then(() => (ranBeforeUrgentAcknowledged = ran.length));
    await Promise.all([...backlog, urgent]);
    assert.equal(ran[0], 'urgent', 'the urgent transaction ran first');
    assert.deepEqual(
      ran.slice(1),
      Array.from({ length: 300 }, (_, i) => `queued-${i}`),
      'the others kept their order',
    );
    assert.ok(
      ranBeforeUrgentAcknowledged < 300,
      `acknowledged after ${ranBeforeUrgentAcknowledged} of 301 ran: its transaction did not wait for the backlog`,
    );
  });

  it('runs urgent work that its poll hook picks up mid-transaction in that transaction, ahead of the backlog', async () => {
    await using log = await openSqliteLog({ path: tempPath() });
    const store = await openSqliteStore(log);
    const ran: string[] = [];
    const busy = (name: string) => () => {
      const until = performance.now() + 0.2;
      while (performance.now() < until);
      ran.push(name);
    };
    let urgent: Promise<number> | undefined;
    // Stands for a message from another thread that arrives while the backlog runs.
    const remove = log.pollForUrgentWork(() => {
      if (urgent === undefined && ran.length === 5) {
        const before = log.stats().transactions;
        urgent = store
          .transaction(busy('urgent'), { urgent: true })
          .then(() => log.stats().transactions - before);
      }
    });
    const backlog = Array.from({ length: 300 }, (_, i) => store.transaction(busy(`queued-${i}`)));
    await Promise.all(backlog);
    remove();
    assert.ok(urgent !== undefined, 'the poll hook ran between operations');
    assert.equal(ran.indexOf('urgent'), 5, 'it ran right after the operation that was running');
    const ranWhenAcknowledged = await urgent;
    assert.ok(
      ranWhenAcknowledged < 301,
      `acknowledged after ${ranWhenAcknowledged} of 301 ran, not after the backlog`,
    );
  });

  it('opens a log that another process is appending to without mistaking its progress for damage', async () => {
    const path = tempPath();
    await using seed = await openSqliteLog({ path });
    await seed.createTopic('crash', { partitions: 4 });
    const writer = startFixture('writer-process.ts', [path, '1']);
    try {
      await writer.waitFor((line) => line.startsWith('ack '));
      // Each open checks every partition's head against its newest event while the writer
      // appends: 40 opens, each while acknowledgements keep coming.
      for (let i = 0; i < 40; i++) {
        const seen = writer.lines.length;
        const log = await openSqliteLog({ path, integrityCheck: 'full', retentionIntervalMs: 0 });
        await log.close();
        await writer.waitFor(seen + 1);
      }
    } finally {
      writer.signal('SIGKILL');
      await writer.exited;
    }
  });

  it('makes no WAL sync of its own with synchronous=normal', async () => {
    await using log = await openSqliteLog({ path: tempPath(), synchronous: 'normal' });
    await log.createTopic('t', { partitions: 1 });
    for (let i = 0; i < 5; i++) await log.append('t', event(`e${i}`));
    assert.equal(log.stats().syncs, 0);
    assert.ok(log.stats().transactions >= 6);
  });

  it('copies the WAL into the database file on its checkpoint thread while appends go on', async () => {
    const path = tempPath();
    await using log = await openSqliteLog({ path });
    await log.createTopic('t', { partitions: 2 });
    const sizeBefore = statSync(path).size;
    let appended = 0;
    // Appends until a checkpoint ran: a slow machine makes the test longer, never wrong.
    while (log.stats().checkpoints === 0) {
      if (appended >= 200_000) assert.fail('no checkpoint ran after 200,000 appends');
      await log.appendBatch(
        't',
        Array.from({ length: 200 }, (_, i) => event(`e${appended + i}`, 512)),
      );
      appended += 200;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(statSync(path).size > sizeBefore, 'the checkpoint wrote the events into the database file');
  });

  it('hands every in-process group the same decoded copy of a new event', async () => {
    await using log = await openSqliteLog({ path: tempPath() });
    await log.createTopic('t', { partitions: 1 });
    const groups = ['a', 'b', 'c'];
    const subscriptions = await Promise.all(
      groups.map((group) => log.subscribe({ group, topics: ['t'], startAt: 'latest' })),
    );
    const received = subscriptions.map(async (subscription): Promise<StoredEvent> => {
      for await (const delivered of subscription) return delivered;
      assert.fail('the subscription ended');
    });
    await log.append('t', event('shared'));
    const [first, ...others] = await Promise.all(received);
    assert.equal(first!.id, 'shared');
    for (const other of others) assert.equal(other, first, 'one object, decoded once');
    await Promise.all(subscriptions.map((s) => s.close()));
  });

  it('serves a group that starts from the beginning from the database, in order and complete', async () => {
    await using log = await openSqliteLog({ path: tempPath() });
    await log.createTopic('t', { partitions: 1 });
    const total = 3_000;
    for (let i = 0; i < total; i += 500) {
      await log.appendBatch(
        't',
        Array.from({ length: 500 }, (_, j) => event(`e${i + j}`)),
      );
    }
    await using subscription = await log.subscribe({ group: 'late', topics: ['t'], startAt: 'earliest' });
    let expected = 0;
    for await (const delivered of subscription) {
      assert.equal(delivered.offset, expected);
      assert.equal(delivered.id, `e${expected}`);
      expected++;
      if (expected === total) break;
    }
  });

  it('waits for a write lock another process holds without blocking its event loop, then writes', async () => {
    const path = tempPath();
    await using log = await openSqliteLog({ path });
    await log.createTopic('t', { partitions: 1 });
    const holder = await holdWriteLock(path);
    let settled = false;
    const appended = log.append('t', event('e1')).finally(() => (settled = true));
    // The loop keeps turning while the append waits: timers fire, and the append stays pending.
    let turns = 0;
    while (turns < 20) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      turns++;
    }
    assert.equal(settled, false, 'the append went through while another process held the lock');
    await holder.release();
    assert.equal((await appended).offset, 0);
  });

  it('fails writes with BACKEND_UNAVAILABLE once the lock stayed taken for busyTimeoutMs, storing nothing of them, and writes again after', async () => {
    const path = tempPath();
    await using log = await openSqliteLog({ path, busyTimeoutMs: 200 });
    await log.createTopic('t', { partitions: 1 });
    const holder = await holdWriteLock(path);
    const failures = await Promise.allSettled([log.append('t', event('e1')), log.append('t', event('e2'))]);
    for (const failure of failures) {
      assert.equal(failure.status, 'rejected');
      const reason = failure.reason as unknown;
      assert.ok(isHeraldError(reason, 'BACKEND_UNAVAILABLE'), String(reason));
      assert.match((reason as Error).message, /write lock for over 200 ms/);
    }
    await holder.release();
    assert.equal((await log.append('t', event('e3'))).offset, 0);
    const stored = await log.read('t', { partition: 0, from: 'earliest', limit: 10 });
    assert.deepEqual(
      stored.map((e) => e.id),
      ['e3'],
    );
  });
});
