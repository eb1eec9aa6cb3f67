import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import { HeraldError } from '../src/errors.ts';
import type { EventLog, PartitionOffset } from '../src/event-log.ts';
import { groupLag } from '../src/group-lag.ts';
import { openMemoryLog } from '../src/memory-log.ts';

/** `orders` with five events in partition 0 and two in partition 1; `billing` at 2 and 2. */
async function behind(): Promise<EventLog> {
  const log = await openMemoryLog();
  await log.createTopic('orders', { partitions: 2 });
  for (let i = 0; i < 5; i++) await log.append('orders', makeEvent(i), { partition: 0 });
  for (let i = 5; i < 7; i++) await log.append('orders', makeEvent(i), { partition: 1 });
  await commitAt(log, 'billing', [
    { topic: 'orders', partition: 0, offset: 2 },
    { topic: 'orders', partition: 1, offset: 2 },
  ]);
  return log;
}

/** Commits `positions` as a member of `group` would, then leaves. */
async function commitAt(log: EventLog, group: string, positions: readonly PartitionOffset[]): Promise<void> {
  const member = await log.subscribe({ group, topics: ['orders'] });
  await member.commit(positions);
  await member.close();
}

async function timestampAt(log: EventLog, partition: number, offset: number): Promise<number> {
  const [event] = await log.read('orders', { partition, from: { offset }, limit: 1 });
  return event!.timestamp;
}

void describe('groupLag', () => {
  void it('measures each partition in events and by the age of the oldest event the group has not consumed', async () => {
    await using log = await behind();
    const oldest = await timestampAt(log, 0, 2);
    const now = oldest + 90_000;
    const lag = await groupLag(log, 'billing', { now });
    assert.deepEqual(lag, {
      group: 'billing',
      now,
      partitions: [
        {
          topic: 'orders',
          partition: 0,
          committed: 2,
          latest: 5,
          lag: 3,
          lagSeconds: 90,
          oldestUnconsumedTimestamp: oldest,
        },
        {
          topic: 'orders',
          partition: 1,
          committed: 2,
          latest: 2,
          lag: 0,
          lagSeconds: 0,
          oldestUnconsumedTimestamp: null,
        },
      ],
      totals: { lag: 3, lagSeconds: 90 },
    });
  });

  void it('counts a group that never committed from the oldest retained event', async () => {
    await using log = await behind();
    // A live member subscribed to the topic: its partitions show, committed or not.
    await using member = await log.subscribe({ group: 'audit', topics: ['orders'] });
    await member.commit([{ topic: 'orders', partition: 1, offset: 2 }]);
    const first = await timestampAt(log, 0, 0);
    const { partitions, totals } = await groupLag(log, 'audit', { now: first + 1500 });
    assert.deepEqual(
      partitions.map((p) => [p.partition, p.committed, p.lag, p.lagSeconds, p.oldestUnconsumedTimestamp]),
      [
        [0, null, 5, 1.5, first],
        [1, 2, 0, 0, null],
      ],
    );
    assert.deepEqual(totals, { lag: 5, lagSeconds: 1.5 });
  });

  void it('takes the largest age over partitions as the total, and the sum of events', async () => {
    await using log = await behind();
    await log.append('orders', makeEvent(8), { partition: 1 });
    const older = await timestampAt(log, 0, 2);
    const newer = await timestampAt(log, 1, 2);
    const now = Math.max(older, newer) + 10_000;
    const { totals } = await groupLag(log, 'billing', { now });
    assert.deepEqual(totals, { lag: 4, lagSeconds: (now - older) / 1000 });
  });

  void it('is never negative when the caller’s clock is behind the log’s', async () => {
    await using log = await behind();
    const oldest = await timestampAt(log, 0, 2);
    const { partitions } = await groupLag(log, 'billing', { now: oldest - 5000 });
    assert.equal(partitions[0]?.lagSeconds, 0);
    assert.equal(partitions[0]?.oldestUnconsumedTimestamp, oldest);
  });

  void it('dates a record that is not a CloudEvent by the timestamp the log gave it', async () => {
    await using log = await behind();
    const foreign: Pick<EventLog, 'describeGroup' | 'read'> = {
      describeGroup: (group) => log.describeGroup(group),
      read: async () => {
        throw new HeraldError('DECODE_FAILED', 'not a CloudEvent', {
          details: { topic: 'orders', partition: 0, offset: 2, timestamp: 1_000, record: {} },
        });
      },
    };
    const { partitions } = await groupLag(foreign, 'billing', { now: 4_000 });
    assert.deepEqual([partitions[0]?.lagSeconds, partitions[0]?.oldestUnconsumedTimestamp], [3, 1_000]);
  });

  void it('reports a group without positions as no lag at all', async () => {
    await using log = await behind();
    assert.deepEqual((await groupLag(log, 'nobody', { now: 0 })).totals, { lag: 0, lagSeconds: 0 });
  });
});
