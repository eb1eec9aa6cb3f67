// `herald migrate` from a real embedded log into a fresh embedded log, a real Kafka broker and a
// real NATS server (HERALD_TEST_KAFKA, HERALD_TEST_NATS; the tests fail when one is missing):
// topics, events byte for byte in their partitions, group positions; and a run killed with
// SIGKILL half-way, run again, finishes with every event once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { openEventLog } from '@herald/core';
import type { CloudEvent, EventLog, StoredEvent } from '@herald/core';
import { readAll } from '@herald/testing';
import { openSqliteLog } from '@herald/sqlite';
import { spawnHerald, tempDatabase } from './spawn-herald.ts';

const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0];
const NATS = (process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222').split(',')[0];
const BIN = fileURLToPath(new URL('../bin/herald.js', import.meta.url));
const encoder = new TextEncoder();

function event(i: number, key: string | undefined, extra: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: '1.0',
    id: `e-${i}`,
    source: '/shop',
    type: 'dev.herald.test.thing.v1',
    time: new Date(1_700_000_000_000 + i).toISOString(),
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify({ i, note: 'café ✓' })),
    ...(key === undefined ? {} : { partitionkey: key }),
    ...extra,
  };
}

/** A source log: keyed events, keyless ones placed by hand, binary data, and a group's positions. */
async function buildSource(path: string): Promise<void> {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  await log.createTopic('orders', { partitions: 3 });
  await log.createTopic('orders.dead-letter', { partitions: 1 });
  await log.appendBatch(
    'orders',
    Array.from({ length: 300 }, (_, i) => event(i, `customer-${i % 17}`)),
  );
  for (let i = 300; i < 306; i++) await log.append('orders', event(i, undefined), { partition: i % 3 });
  await log.append(
    'orders.dead-letter',
    event(999, 'customer-1', {
      datacontenttype: 'application/octet-stream',
      data: new Uint8Array([0, 255, 7]),
      extensions: { dlgroup: 'billing', dltopic: 'orders', correlationid: 'e-1' },
    }),
  );
  await log.resetGroup('billing', {
    to: {
      offsets: [
        { topic: 'orders', partition: 0, offset: 40 },
        { topic: 'orders', partition: 1, offset: 0 },
        { topic: 'orders', partition: 2, offset: 77 },
      ],
    },
    topics: ['orders'],
  });
}

function same(e: StoredEvent) {
  const { offset: _offset, timestamp: _timestamp, data, ...rest } = e;
  return { ...rest, data: Buffer.from(data ?? new Uint8Array()).toString('hex') };
}

async function partitionEvents(log: EventLog, topic: string): Promise<StoredEvent[][]> {
  const { partitions } = await log.describeTopic(topic);
  const all = await readAll(log, topic);
  return Array.from({ length: partitions }, (_, p) =>
    all.filter((e) => e.partition === p).sort((a, b) => a.offset - b.offset),
  );
}

function targetOf(backend: 'sqlite' | 'kafka' | 'nats'): { url: string } & Disposable {
  const name = `mig${randomBytes(4).toString('hex')}`;
  if (backend === 'kafka')
    return { url: `kafka://${KAFKA}?namespace=${name}.`, [Symbol.dispose]: () => undefined };
  if (backend === 'nats')
    return { url: `nats://${NATS}?namespace=${name}`, [Symbol.dispose]: () => undefined };
  return tempDatabase();
}

for (const backend of ['sqlite', 'kafka', 'nats'] as const) {
  void describe(`herald migrate to ${backend}`, { timeout: 180_000 }, () => {
    void it('copies every topic with its partitions, every event byte for byte in its place, and the group positions, verified', async () => {
      using source = tempDatabase();
      using target = targetOf(backend);
      await buildSource(source.path);

      const result = await spawnHerald(['migrate', '--to', target.url], source.url);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /migrated and verified: 4 partition\(s\), 1 group\(s\)/);
      assert.doesNotMatch(result.stdout, /DIFFERENT/);

      await using from = await openSqliteLog({ path: source.path, retentionIntervalMs: 0 });
      await using to = await openEventLog(target.url);
      for (const topic of ['orders', 'orders.dead-letter']) {
        assert.equal(
          (await to.describeTopic(topic)).partitions,
          (await from.describeTopic(topic)).partitions,
        );
        const expected = await partitionEvents(from, topic);
        const copied = await partitionEvents(to, topic);
        assert.deepEqual(
          copied.map((events) => events.map(same)),
          expected.map((events) => events.map(same)),
          topic,
        );
      }
      const billing = await to.describeGroup('billing');
      assert.deepEqual(
        billing.partitions
          .filter((p) => p.topic === 'orders')
          .map((p) => [p.partition, p.committed])
          .sort(),
        [
          [0, 40],
          [1, 0],
          [2, 77],
        ],
      );

      // Run again: nothing more is copied, and it still verifies.
      const again = await spawnHerald(['migrate', '--to', target.url, '--json'], source.url);
      assert.equal(again.status, 0, again.stderr);
      const report = JSON.parse(again.stdout) as { verified: boolean; partitions: { copied: number }[] };
      assert.equal(report.verified, true);
      assert.deepEqual(
        report.partitions.map((p) => p.copied),
        [0, 0, 0, 0],
      );
    });
  });
}

void describe('herald migrate, killed and run again', { timeout: 300_000 }, () => {
  void it('finishes after a SIGKILL half-way with every event copied once, in order', async () => {
    using source = tempDatabase();
    using target = tempDatabase();
    const total = 60_000;
    {
      await using log = await openSqliteLog({ path: source.path, retentionIntervalMs: 0 });
      await log.createTopic('clicks', { partitions: 2 });
      for (let start = 0; start < total; start += 2_000) {
        await log.appendBatch(
          'clicks',
          Array.from({ length: 2_000 }, (_, i) => event(start + i, `user-${(start + i) % 101}`)),
        );
      }
    }
    const child = spawn(process.execPath, [BIN, 'migrate', '--to', target.url], {
      env: { ...process.env, HERALD_LOG: source.url },
      stdio: 'ignore',
    });
    const exited = once(child, 'exit');
    // Killed as soon as the target holds some of the events, but not all.
    let killedAt = -1;
    while (child.exitCode === null) {
      const copied = await countIn(target.path);
      if (copied > 0 && copied < total) {
        child.kill('SIGKILL');
        killedAt = copied;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [code, signal] = (await exited) as [number | null, string | null];
    assert.equal(
      signal,
      'SIGKILL',
      `the migration ended by itself first (exit ${code}), before it could be killed`,
    );
    assert.ok(killedAt > 0 && killedAt < total);

    const resumed = await spawnHerald(['migrate', '--to', target.url, '--json'], source.url);
    assert.equal(resumed.status, 0, resumed.stdout + resumed.stderr);
    const report = JSON.parse(resumed.stdout) as {
      verified: boolean;
      partitions: { sourceEvents: number; targetEvents: number; copied: number }[];
    };
    assert.equal(report.verified, true);
    assert.equal(
      report.partitions.reduce((sum, p) => sum + p.targetEvents, 0),
      total,
      'every event once on the target',
    );
    assert.ok(
      report.partitions.reduce((sum, p) => sum + p.copied, 0) < total,
      'the second run went on, not over',
    );
    await using to = await openSqliteLog({ path: target.path, retentionIntervalMs: 0 });
    const ids = (await readAll(to, 'clicks')).map((e) => e.id);
    assert.equal(new Set(ids).size, total);
  });
});

/** Events the target file holds so far (0 while it does not exist yet). */
async function countIn(path: string): Promise<number> {
  try {
    await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
    const topics = await log.listTopics();
    if (!topics.some((t) => t.name === 'clicks')) return 0;
    const { partitionInfo } = await log.describeTopic('clicks');
    return partitionInfo.reduce((sum, p) => sum + p.latest - p.earliest, 0);
  } catch {
    return 0;
  }
}
