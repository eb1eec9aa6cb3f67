import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import type { EventLog, ReadOptions } from '../src/event-log.ts';
import { openMemoryLog } from '../src/memory-log.ts';
import { readPartition } from '../src/read-partition.ts';

/**
 * A log with `count` events in partition 0 and one in partition 1; `reader` reads it and records
 * each read's options in `reads`.
 */
async function logWith(
  count: number,
): Promise<{ log: EventLog; reader: Pick<EventLog, 'read'>; reads: ReadOptions[] }> {
  const log = await openMemoryLog();
  await log.createTopic('orders', { partitions: 2 });
  for (let i = 0; i < count; i++) await log.append('orders', makeEvent(i), { partition: 0 });
  await log.append('orders', makeEvent(99), { partition: 1 });
  const reads: ReadOptions[] = [];
  const reader: Pick<EventLog, 'read'> = {
    read: (topic, options) => {
      reads.push(options);
      return log.read(topic, options);
    },
  };
  return { log, reader, reads };
}

async function all<T>(entries: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const entry of entries) out.push(entry);
  return out;
}

void describe('readPartition', () => {
  void it('yields every entry of one partition in offset order, one read per page', async () => {
    const { log, reader, reads } = await logWith(7);
    const entries = await all(readPartition(reader, 'orders', 0, { pageSize: 3 }));
    assert.deepEqual(
      entries.map((e) => [e.partition, e.offset, e.id]),
      [0, 1, 2, 3, 4, 5, 6].map((i) => [0, i, `event-${i}`]),
    );
    assert.deepEqual(
      reads.map((r) => [r.from, r.limit]),
      [
        ['earliest', 3],
        [{ offset: 3 }, 3],
        [{ offset: 6 }, 3],
        [{ offset: 7 }, 3],
      ],
    );
    await log.close();
  });

  void it('starts where it is told and ends on an empty partition without reading twice', async () => {
    const { log, reader, reads } = await logWith(5);
    const tail = await all(readPartition(reader, 'orders', 0, { from: { offset: 3 } }));
    assert.deepEqual(
      tail.map((e) => e.offset),
      [3, 4],
    );
    await log.createTopic('empty', { partitions: 1 });
    reads.length = 0;
    assert.deepEqual(await all(readPartition(reader, 'empty', 0)), []);
    assert.equal(reads.length, 1);
    await log.close();
  });
});
