import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import type { EventLog, GroupPartitionState } from '../../src/event-log.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { BACKFILL_COLLECTION, BackfillBoundary } from '../../src/runtime/backfill-boundary.ts';
import { MemoryStore } from './fixtures/memory-store.ts';

const GROUP = 'test.backfill';

/** `log` answering describeGroup with `state` for partition 0 of `orders`. */
function withGroupState(log: EventLog, state: Partial<GroupPartitionState>): EventLog {
  return new Proxy(log, {
    get(target, property) {
      if (property !== 'describeGroup') {
        // Bound to the log itself, so its private fields work.
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return async (group: string) => ({
        group,
        members: [],
        partitions: [{ topic: 'orders', partition: 0, committed: null, latest: 0, lag: 0, ...state }],
      });
    },
  });
}

void describe('BackfillBoundary', () => {
  void it('puts the boundary of a partition the group never read at what it held when marked, not at the first read', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0), makeEvent(1), makeEvent(2)]);
    const boundary = new BackfillBoundary({ log, group: GROUP });
    await boundary.markHistoryEnd(['orders']);
    await log.appendBatch('orders', [makeEvent(3), makeEvent(4)]);
    assert.equal(await boundary.replayUntil('orders', 0), 3);
  });

  void it('gives a topic that did not exist when marked no history', async () => {
    await using log = await openMemoryLog();
    const boundary = new BackfillBoundary({ log, group: GROUP });
    await boundary.markHistoryEnd(['later']);
    await log.createTopic('later', { partitions: 1 });
    await log.append('later', makeEvent(0));
    assert.equal(await boundary.replayUntil('later', 0), 0);
  });

  void it('keeps the boundary in the store, so a router restarted mid-backfill still knows it', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0), makeEvent(1)]);
    const store = new MemoryStore(log);
    const first = new BackfillBoundary({ log, group: GROUP, store });
    await first.markHistoryEnd(['orders']);
    assert.equal(await first.replayUntil('orders', 0), 2);
    assert.deepEqual(await store.get(BACKFILL_COLLECTION, `${GROUP}/orders/0`), { until: 2 });

    await log.appendBatch('orders', [makeEvent(2), makeEvent(3)]);
    const restarted = new BackfillBoundary({ log, group: GROUP, store });
    await restarted.markHistoryEnd(['orders']);
    assert.equal(await restarted.replayUntil('orders', 0), 2, 'the restart took the new end as history');
  });

  void it('treats everything as live for a group that committed on the partition before', async () => {
    await using memory = await openMemoryLog();
    await memory.createTopic('orders', { partitions: 1 });
    await memory.appendBatch('orders', [makeEvent(0), makeEvent(1)]);
    const log = withGroupState(memory, { committed: 1, latest: 2, lag: 1 });
    const boundary = new BackfillBoundary({ log, group: GROUP });
    await boundary.markHistoryEnd(['orders']);
    assert.equal(await boundary.replayUntil('orders', 0), 0);
  });

  void it('marks what a reset group handled before as a replay, also over a boundary it kept', async () => {
    await using memory = await openMemoryLog();
    await memory.createTopic('orders', { partitions: 1 });
    const log = withGroupState(memory, { committed: 0, latest: 5, lag: 5, replayUntil: 5 });
    const store = new MemoryStore(memory);
    await store.transaction((tx) => tx.put(BACKFILL_COLLECTION, `${GROUP}/orders/0`, { until: 2 }));
    const boundary = new BackfillBoundary({ log, group: GROUP, store });
    await boundary.markHistoryEnd(['orders']);
    assert.equal(await boundary.replayUntil('orders', 0), 5);
    const fresh = new BackfillBoundary({ log, group: GROUP });
    assert.equal(await fresh.replayUntil('orders', 0), 5);
  });
});
