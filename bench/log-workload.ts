import type { CloudEvent } from '@herald/core';

/** Bytes of `data` per event: the size the performance targets are stated for. */
export const DATA_BYTES = 256;
/** Events per `appendBatch` call, per raw transaction, per raw read chunk and per consumer commit. */
export const BATCH_SIZE = 1000;
/** The topic every scenario writes, with one partition so both sides write one ordered range. */
export const TOPIC = 'bench';
/** Concurrent producers in the durable single-append scenario. */
export const PRODUCERS = 64;

/** Sizes of one run. */
export interface LogWorkload {
  /** Events appended in batches (scenario 1) and consumed (scenario 2). */
  readonly events: number;
  /** Single appends per producer (scenario 3). */
  readonly appendsPerProducer: number;
}

/** The measurement sizes, and the smaller ones of a `--quick` smoke run. */
export const FULL_WORKLOAD: LogWorkload = { events: 200_000, appendsPerProducer: 320 };
export const QUICK_WORKLOAD: LogWorkload = { events: 20_000, appendsPerProducer: 32 };

const encoder = new TextEncoder();

/**
 * `count` CloudEvents shaped like an application's: a JSON payload padded to exactly
 * {@link DATA_BYTES} bytes, a partition key among 1024 aggregates, a fixed time so every
 * round stores the same bytes. Built once before timing: creating events is the caller's
 * cost, not the log's.
 */
export function sampleEvents(count: number): CloudEvent[] {
  const events: CloudEvent[] = [];
  for (let i = 0; i < count; i++) {
    const head = `{"orderId":"order-${i % 1024}","sequence":${i},"note":"`;
    const tail = '"}';
    const data = encoder.encode(head + 'x'.repeat(DATA_BYTES - head.length - tail.length) + tail);
    if (data.length !== DATA_BYTES) throw new Error(`sample data is ${data.length} bytes, not ${DATA_BYTES}`);
    events.push({
      specversion: '1.0',
      id: `bench-${i}`,
      source: '/bench',
      type: 'dev.herald.bench.sample-recorded.v1',
      time: '2025-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      partitionkey: `order-${i % 1024}`,
      data,
    });
  }
  return events;
}

/** `events` cut into consecutive batches of {@link BATCH_SIZE} (the last may be shorter). */
export function batchesOf<T>(events: readonly T[]): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < events.length; i += BATCH_SIZE) batches.push(events.slice(i, i + BATCH_SIZE));
  return batches;
}
