import assert from 'node:assert/strict';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import {
  type CloudEvent,
  type HeraldErrorCode,
  type StoredEvent,
  isHeraldError,
  openEventLog,
} from '@herald/core';
import { openSqliteLog, parseSqliteUrl } from '@herald/sqlite';
import { startFixture } from './fixtures/children.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-'));
  dirs.push(dir);
  return join(dir, 'log.db');
}

const encoder = new TextEncoder();
const event = (id: string, key?: string): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test',
  type: 'dev.herald.test.happened.v1',
  ...(key === undefined ? {} : { partitionkey: key }),
  data: encoder.encode(JSON.stringify({ id })),
});

async function rejectsWith(promise: Promise<unknown>, code: HeraldErrorCode): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isHeraldError(error, code), `expected ${code}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) assert.fail('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('opening a log file', () => {
  it('names itself herald_sqlite in telemetry, with the offset and key attributes Herald defines', async () => {
    await using log = await openEventLog(`sqlite:${tempPath()}`);
    assert.deepEqual(log.capabilities.telemetry, {
      system: 'herald_sqlite',
      offsetAttribute: 'herald.offset',
      keyAttribute: 'herald.partition_key',
    });
  });

  it('is chosen by a sqlite: URL, with options as query parameters', async () => {
    const path = tempPath();
    assert.deepEqual(parseSqliteUrl(`sqlite:${path}?synchronous=normal&integrity=full`), {
      path,
      synchronous: 'normal',
      integrityCheck: 'full',
    });
    assert.deepEqual(parseSqliteUrl('sqlite:///var/lib/herald.db'), { path: '/var/lib/herald.db' });
    await using log = await openEventLog(`sqlite:${path}`);
    await log.createTopic('orders', { partitions: 2 });
    assert.deepEqual(
      (await log.listTopics()).map((t) => t.name),
      ['orders'],
    );
  });

  it('refuses bad URLs with a clear message', async () => {
    await rejectsWith(openEventLog('sqlite:'), 'INVALID_ARGUMENT');
    await rejectsWith(openEventLog('sqlite:./x.db?synchronous=sometimes'), 'INVALID_ARGUMENT');
    await rejectsWith(openEventLog('sqlite:./x.db?colour=blue'), 'INVALID_ARGUMENT');
    await rejectsWith(openEventLog('postgres://localhost/x'), 'INVALID_ARGUMENT');
  });

  it('refuses a file that is not a database, loudly, and leaves it untouched', async () => {
    const path = tempPath();
    writeFileSync(path, 'this is not a database, just text that happens to be long enough '.repeat(100));
    const before = statSync(path).size;
    const error = await rejectsWith(openSqliteLog({ path }), 'CORRUPT_LOG');
    assert.match(error.message, /log\.db/);
    assert.equal(statSync(path).size, before);
  });

  it('refuses a file whose pages were damaged (bytes flipped inside the events table)', async () => {
    const path = tempPath();
    {
      await using log = await openSqliteLog({ path });
      await log.createTopic('orders', { partitions: 1 });
      for (let i = 0; i < 20; i++) {
        await log.appendBatch(
          'orders',
          Array.from({ length: 100 }, (_, j) => event(`e-${i}-${j}`, `k${j}`)),
        );
      }
    }
    const db = new DatabaseSync(path);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    db.close();
    // Overwrite the b-tree header of a few pages in the middle of the file.
    const fd = openSync(path, 'r+');
    const pages = Math.floor(statSync(path).size / pageSize);
    for (let page = Math.floor(pages / 2); page < Math.floor(pages / 2) + 3; page++) {
      writeSync(fd, Buffer.alloc(16, 0xff), 0, 16, page * pageSize);
    }
    closeSync(fd);
    await rejectsWith(openSqliteLog({ path }), 'CORRUPT_LOG');
  });

  it('refuses a log that lost its newest events instead of re-using their offsets', async () => {
    const path = tempPath();
    {
      await using log = await openSqliteLog({ path });
      await log.createTopic('orders', { partitions: 1 });
      await log.appendBatch(
        'orders',
        Array.from({ length: 10 }, (_, i) => event(`e${i}`)),
      );
    }
    const db = new DatabaseSync(path);
    db.exec('DELETE FROM herald_events WHERE offset >= 7');
    db.close();
    const error = await rejectsWith(openSqliteLog({ path }), 'CORRUPT_LOG');
    assert.match(error.message, /newest stored offset is 6, expected 9/);
  });

  it('refuses a file of another log schema version instead of misreading it', async () => {
    const path = tempPath();
    {
      await using log = await openSqliteLog({ path });
      await log.createTopic('orders', { partitions: 1 });
    }
    const db = new DatabaseSync(path);
    db.exec("UPDATE herald_meta SET value = '1' WHERE key = 'schema_version'");
    db.close();
    const error = await rejectsWith(openSqliteLog({ path }), 'UNSUPPORTED');
    assert.match(error.message, /schema 1/);
  });

  it('reads back what another connection appended after reopening', async () => {
    const path = tempPath();
    {
      await using log = await openSqliteLog({ path });
      await log.createTopic('orders', { partitions: 3 });
      await log.appendBatch('orders', [event('a', 'k1'), event('b', 'k1'), event('c', 'k2')]);
    }
    const bytes = Buffer.alloc(16);
    const fd = openSync(path, 'r');
    readSync(fd, bytes, 0, 16, 0);
    closeSync(fd);
    assert.equal(bytes.toString('latin1'), 'SQLite format 3\0', 'the log is a plain SQLite file');
    await using log = await openSqliteLog({ path, integrityCheck: 'full' });
    const counts = (await log.describeTopic('orders')).partitionInfo.reduce((n, p) => n + p.latest, 0);
    assert.equal(counts, 3);
  });
});

describe('retention', () => {
  it('deletes events older than the topic retention, oldest first', async () => {
    await using log = await openSqliteLog({ path: tempPath(), retentionIntervalMs: 0 });
    await log.createTopic('clicks', { partitions: 1, retention: { ms: 60_000 } });
    await log.appendBatch(
      'clicks',
      Array.from({ length: 5 }, (_, i) => event(`old${i}`)),
    );
    const { deleted } = await log.enforceRetention(Date.now() + 120_000);
    assert.equal(deleted, 5);
    const [partition] = (await log.describeTopic('clicks')).partitionInfo;
    assert.deepEqual(partition, { partition: 0, earliest: 5, latest: 5 });
    const next = await log.append('clicks', event('new'));
    assert.equal(next.offset, 5, 'offsets continue after retention; they are never re-used');
  });

  it('keeps the partition under its size limit', async () => {
    await using log = await openSqliteLog({ path: tempPath(), retentionIntervalMs: 0 });
    await log.createTopic('clicks', { partitions: 1, retention: { bytes: 2000 } });
    await log.appendBatch(
      'clicks',
      Array.from({ length: 50 }, (_, i) => event(`e${i}`)),
    );
    await log.enforceRetention();
    const events = await log.read('clicks', { partition: 0, from: 'earliest', limit: 100 });
    const bytes = events.reduce((sum, e) => sum + (e.data?.byteLength ?? 0), 0);
    assert.ok(events.length > 0 && events.length < 50, `kept ${events.length} events`);
    assert.ok(bytes < 2000);
    assert.equal(events.at(-1)?.id, 'e49', 'the newest events are kept');
  });

  it("never passes a consumer group's committed offset, and says which group holds it back", async () => {
    await using log = await openSqliteLog({ path: tempPath(), retentionIntervalMs: 0 });
    await log.createTopic('clicks', { partitions: 1, retention: { ms: 1000 } });
    await log.appendBatch(
      'clicks',
      Array.from({ length: 10 }, (_, i) => event(`e${i}`)),
    );
    await using subscription = await log.subscribe({ group: 'slow-reader', topics: ['clicks'] });
    await subscription.commit([{ topic: 'clicks', partition: 0, offset: 4 }]);
    const outcome = await log.enforceRetention(Date.now() + 10_000);
    assert.equal(outcome.deleted, 4);
    assert.match(outcome.heldBack[0] ?? '', /slow-reader/);
    const [partition] = (await log.describeTopic('clicks')).partitionInfo;
    assert.equal(partition?.earliest, 4);
  });
});

describe('processes sharing one log file', { timeout: 60_000 }, () => {
  it('wakes a subscriber in one process within milliseconds of an append in another', async () => {
    const path = tempPath();
    await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
    await log.createTopic('shared', { partitions: 1 });
    await using subscription = await log.subscribe({
      group: 'listener',
      topics: ['shared'],
      startAt: 'latest',
    });
    const iterator = subscription[Symbol.asyncIterator]();
    const received = iterator.next();
    const appender = startFixture('appender-process.ts', [path, 'cross-1']);
    await appender.exited;
    const first = await received;
    const latency = Date.now() - Number(appender.lines[0]);
    assert.equal(first.done, false);
    assert.equal(first.value.id, 'cross-1');
    // Polling PRAGMA data_version every 5 ms; the bound is generous for a loaded 2-core machine.
    assert.ok(latency < 2000, `took ${latency} ms`);
  });

  it('splits a group between processes; a killed member’s partitions are taken over', async () => {
    const path = tempPath();
    {
      await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
      await log.createTopic('shared', { partitions: 4 });
    }
    const a = startFixture('group-member-process.ts', [path, 'split', '600']);
    const b = startFixture('group-member-process.ts', [path, 'split', '600']);
    try {
      const assigned = (child: typeof a) => child.lines.filter((l) => l.startsWith('assigned ')).at(-1);
      const parts = (child: typeof a) =>
        JSON.parse(assigned(child)?.slice('assigned '.length) ?? '[]') as number[];
      await waitUntil(() => parts(a).length === 2 && parts(b).length === 2);
      assert.deepEqual([...parts(a), ...parts(b)].sort(), [0, 1, 2, 3], 'no overlap, nothing left out');
      a.signal('SIGKILL');
      await a.exited;
      await waitUntil(() => parts(b).length === 4);
    } finally {
      a.signal('SIGKILL');
      b.signal('SIGKILL');
      await Promise.all([a.exited, b.exited]);
    }
  });

  it('fences a member stopped past its session timeout: its late commit is refused and the group moves on', async () => {
    const path = tempPath();
    await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
    await log.createTopic('shared', { partitions: 1 });
    const stale = startFixture('group-member-process.ts', [path, 'fencing', '400']);
    try {
      await stale.waitFor((line) => line === 'assigned [0]');
      await log.append('shared', event('first'));
      await stale.waitFor((line) => line === 'seen 0 0');
      stale.signal('SIGSTOP'); // between delivery and commit (the handler sleeps 30 ms)
      const fresh = await log.subscribe({ group: 'fencing', topics: ['shared'], sessionTimeoutMs: 400 });
      await waitUntil(() => fresh.assignment().length === 1);
      const iterator = fresh[Symbol.asyncIterator]();
      const redelivered = (await iterator.next()).value as StoredEvent;
      assert.equal(redelivered.id, 'first', 'the uncommitted event is redelivered to the new owner');
      await fresh.commit(redelivered);
      stale.signal('SIGCONT');
      await stale.waitFor((line) => line === 'fenced 0 0');
      const group = await log.describeGroup('fencing');
      assert.equal(group.partitions[0]?.committed, 1);
      await fresh.close();
    } finally {
      stale.signal('SIGKILL');
      await stale.exited;
    }
  });
});

describe('resetting a group', () => {
  it('plans without changing anything on a dry run, then moves the committed offsets back', async () => {
    await using log = await openSqliteLog({ path: tempPath(), retentionIntervalMs: 0 });
    await log.createTopic('orders', { partitions: 2 });
    await log.appendBatch(
      'orders',
      Array.from({ length: 10 }, (_, i) => event(`e${i}`, `k${i}`)),
    );
    const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
    const { partitionInfo } = await log.describeTopic('orders');
    await subscription.commit(
      partitionInfo.map((p) => ({ topic: 'orders', partition: p.partition, offset: p.latest })),
    );
    await assert.rejects(log.resetGroup('billing', { to: 'earliest' }), (e) => isHeraldError(e, 'CONFLICT'));
    await subscription.close();

    const plan = await log.resetGroup('billing', { to: 'earliest', dryRun: true });
    assert.deepEqual(
      plan.map((p) => [p.partition, p.from, p.to]),
      partitionInfo.map((p) => [p.partition, p.latest, 0]),
    );
    assert.ok(
      (await log.describeGroup('billing')).partitions.every((p) => p.lag === 0),
      'a dry run changes nothing',
    );

    await log.resetGroup('billing', { to: 'earliest' });
    const after = await log.describeGroup('billing');
    for (const p of after.partitions) {
      assert.equal(p.committed, 0);
      assert.equal(p.replayUntil, p.latest, 'what was handled before is marked as a replay');
    }
    await rejectsWith(
      log.resetGroup('billing', { to: { offsets: [{ topic: 'orders', partition: 0, offset: 999 }] } }),
      'INVALID_ARGUMENT',
    );
  });

  it('stores a record with the reset in one transaction: the record fails, the offsets stay', async () => {
    const { openSqliteStore } = await import('@herald/sqlite');
    await using log = await openSqliteLog({ path: tempPath(), retentionIntervalMs: 0 });
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch(
      'orders',
      Array.from({ length: 4 }, (_, i) => event(`e${i}`, 'k')),
    );
    const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
    await subscription.commit([{ topic: 'orders', partition: 0, offset: 4 }]);
    await subscription.close();

    await assert.rejects(
      log.resetGroup('billing', {
        to: 'earliest',
        record: {
          collection: 'herald.audit',
          id: 'a1',
          value: () => {
            throw new Error('the record cannot be made');
          },
        },
      }),
      /the record cannot be made/,
    );
    assert.equal(
      (await log.describeGroup('billing')).partitions[0]?.committed,
      4,
      'the reset was rolled back',
    );

    const plan = await log.resetGroup('billing', {
      to: 'earliest',
      record: { collection: 'herald.audit', id: 'a2', value: (p) => ({ action: 'groups.reset', plan: p }) },
    });
    assert.equal((await log.describeGroup('billing')).partitions[0]?.committed, 0);
    const store = await openSqliteStore(log);
    assert.deepEqual(await store.get('herald.audit', 'a2'), { action: 'groups.reset', plan });
    assert.equal(await store.get('herald.audit', 'a1'), undefined);
  });

  it('replays into the router with declared effects suppressed', async () => {
    const { createRouter } = await import('@herald/core');
    const { openSqliteStore } = await import('@herald/sqlite');
    await using log = await openSqliteLog({ path: tempPath(), retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch(
      'orders',
      Array.from({ length: 5 }, (_, i) => event(`e${i}`, 'same-key')),
    );
    const run = async (expectHandled: number) => {
      let handled = 0;
      let effects = 0;
      const router = createRouter({
        log,
        group: 'mailer',
        topics: ['orders'],
        store,
        startAt: 'earliest',
        effects: 'perform',
      });
      router.on('dev.herald.test.happened.v1', async (_event, ctx) => {
        handled++;
        await ctx.effect('email', () => effects++);
      });
      const done = router.run();
      await waitUntil(() => handled >= expectHandled);
      await router.stop();
      await done;
      return { handled, effects };
    };
    assert.deepEqual(await run(5), { handled: 5, effects: 5 });
    await log.resetGroup('mailer', { to: 'earliest' });
    const replay = await run(5);
    assert.equal(replay.handled, 5);
    // effects: 'perform' fires effects even in a replay; 'auto' (the default) suppresses them.
    assert.equal(replay.effects, 5);
    await log.resetGroup('mailer', { to: 'earliest' });
    let effects = 0;
    let handled = 0;
    const router = createRouter({ log, group: 'mailer', topics: ['orders'], store });
    router.on('dev.herald.test.happened.v1', async (_event, ctx) => {
      handled++;
      await ctx.effect('email', () => effects++);
    });
    const done = router.run();
    await waitUntil(() => handled >= 5);
    await router.stop();
    await done;
    assert.equal(effects, 0, 'no e-mail is sent again during the replay');
  });
});
