import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import {
  type CloudEvent,
  type StoredEvent,
  type Subscription,
  faultInjection,
  isHeraldError,
} from '@herald/core';
import { openSqliteLog } from '@herald/sqlite';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const event = (i: number): CloudEvent => ({
  specversion: '1.0',
  id: `e-${i}`,
  source: '/test',
  type: 'dev.herald.test.happened.v1',
  partitionkey: 'one-key',
});

/** The next `count` events of `subscription`, failing after `deadlineMs`. */
async function take(subscription: Subscription, count: number, deadlineMs = 10_000): Promise<StoredEvent[]> {
  const got: StoredEvent[] = [];
  const deadline = Date.now() + deadlineMs;
  for await (const batch of subscription.batches()) {
    got.push(...batch);
    if (got.length >= count || Date.now() > deadline) break;
  }
  assert.equal(got.length, count, `${count} events within ${deadlineMs} ms`);
  return got;
}

describe('fencing across claims', { timeout: 60_000 }, () => {
  it('refuses the commit of an event read before its partition was lost and claimed again, and accepts the same offset read again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-fencing-'));
    dirs.push(dir);
    const file = join(dir, 'log.db');
    await using a = await openSqliteLog({ path: file });
    await using b = await openSqliteLog({ path: file });
    await a.createTopic('orders', { partitions: 1 });
    await a.appendBatch('orders', [event(0), event(1), event(2)]);
    const settings = { group: 'billing', topics: ['orders'], sessionTimeoutMs: 1_000 };

    await using stale = await a.subscribe(settings);
    const before = await take(stale, 3);
    await stale.commit(before[0]!);

    // Stalled past its session: the other member takes the partition over.
    a[faultInjection].freeze();
    const live = await b.subscribe(settings);
    assert.deepEqual(
      (await take(live, 2)).map((e) => e.offset),
      [1, 2],
    );
    a[faultInjection].thaw();
    await sleep(300);
    // The other member leaves without committing: the stalled one claims the partition anew
    // and reads offsets 1 and 2 again.
    await live.close();
    const after = await take(stale, 2);
    assert.deepEqual(
      after.map((e) => [e.id, e.offset]),
      [
        ['e-1', 1],
        ['e-2', 2],
      ],
    );

    await assert.rejects(
      stale.commit(before[2]!),
      (error: unknown) => isHeraldError(error, 'FENCED'),
      'an event of the lost claim cannot be committed, though its offset is owned again',
    );
    await stale.commit(after[1]!);
    const described = await a.describeGroup('billing');
    assert.equal(described.partitions.find((p) => p.topic === 'orders')?.committed, 3);
  });
});
