import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import type { KafkaRecord, RecordsBatch } from '@platformatic/kafka';
import { fetchedRecords } from '../src/kafka-wire.ts';
import type { FetchResponsePartition } from '../src/kafka-wire.ts';

const LOG_APPEND_TIME = 1 << 3;
const TRANSACTIONAL = 1 << 4;
const CONTROL = 1 << 5;

function batch(firstOffset: number, count: number, options: Partial<RecordsBatch> = {}): RecordsBatch {
  const records: KafkaRecord[] = Array.from({ length: count }, (_, i) => ({
    length: 0,
    attributes: 0,
    timestampDelta: BigInt(i * 10),
    offsetDelta: i,
    key: null,
    value: Buffer.from(`v${firstOffset + i}`),
    headers: [],
  }));
  return {
    firstOffset: BigInt(firstOffset),
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes: 0,
    lastOffsetDelta: count - 1,
    firstTimestamp: 1000n,
    maxTimestamp: 5000n,
    producerId: -1n,
    producerEpoch: 0,
    firstSequence: 0,
    records,
    ...options,
  };
}

/** A control batch holding one transaction marker: type 0 aborts, 1 commits. */
function marker(offset: number, producerId: bigint, type: 0 | 1): RecordsBatch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  const control = batch(offset, 1, { attributes: CONTROL | TRANSACTIONAL, producerId });
  return { ...control, records: [{ ...control.records[0]!, key, value: null }] };
}

function partition(
  records: RecordsBatch[],
  aborted: { producerId: bigint; firstOffset: bigint }[] = [],
): FetchResponsePartition {
  return {
    partitionIndex: 0,
    errorCode: 0,
    highWatermark: 100n,
    lastStableOffset: 100n,
    logStartOffset: 0n,
    abortedTransactions: aborted,
    preferredReadReplica: -1,
    records,
  };
}

void describe('fetched records', () => {
  void it('gives absolute offsets, skipping what lies before the requested offset in the first batch', () => {
    const records = fetchedRecords(partition([batch(10, 3), batch(13, 2)]), 11);
    assert.deepEqual(
      records.map((r) => [r.offset, r.value?.toString()]),
      [
        [11, 'v11'],
        [12, 'v12'],
        [13, 'v13'],
        [14, 'v14'],
      ],
    );
  });

  void it("uses the producer's timestamps, or the broker's append time for LogAppendTime batches", () => {
    assert.deepEqual(
      fetchedRecords(partition([batch(0, 2)]), 0).map((r) => r.timestamp),
      [1000, 1010],
    );
    assert.deepEqual(
      fetchedRecords(partition([batch(0, 2, { attributes: LOG_APPEND_TIME })]), 0).map((r) => r.timestamp),
      [5000, 5000],
    );
  });

  void it('leaves out transaction markers and the records of aborted transactions, keeping committed ones', () => {
    const committed = 7n;
    const aborted = 8n;
    const records = fetchedRecords(
      partition(
        [
          batch(0, 2, { attributes: TRANSACTIONAL, producerId: committed }),
          marker(2, committed, 1),
          batch(3, 2, { attributes: TRANSACTIONAL, producerId: aborted }),
          marker(5, aborted, 0),
          batch(6, 1),
          batch(7, 1, { attributes: TRANSACTIONAL, producerId: aborted }),
        ],
        [{ producerId: aborted, firstOffset: 3n }],
      ),
      0,
    );
    assert.deepEqual(
      records.map((r) => r.offset),
      [0, 1, 6, 7],
      'a later transaction of the same producer is not aborted by the earlier marker',
    );
  });
});
