import type { StoredEvent } from './envelope.ts';
import type { EventLog, ReadPosition } from './event-log.ts';

/** Entries one `log.read` asks for unless `pageSize` says otherwise. */
const DEFAULT_PAGE_SIZE = 500;

export interface ReadPartitionOptions {
  /** Where to start. Default `'earliest'`. */
  readonly from?: ReadPosition;
  /** Entries per `log.read`. Default 500. */
  readonly pageSize?: number;
}

/**
 * Every entry of one partition from `from` to the end as it was when each page was read, in
 * offset order, one `log.read` per page: memory stays bounded however long the partition is.
 * Entries appended while it runs are included when they land before the last page is read; it
 * never waits for more. Gaps (compacted or expired offsets) are skipped, not reported.
 *
 * @example for await (const entry of readPartition(log, 'orders.dead-letter', 0)) show(entry);
 */
export async function* readPartition(
  log: Pick<EventLog, 'read'>,
  topic: string,
  partition: number,
  options: ReadPartitionOptions = {},
): AsyncGenerator<StoredEvent, void, undefined> {
  const limit = options.pageSize ?? DEFAULT_PAGE_SIZE;
  let from: ReadPosition = options.from ?? 'earliest';
  while (true) {
    const page = await log.read(topic, { partition, from, limit });
    const last = page.at(-1);
    if (last === undefined) return;
    yield* page;
    from = { offset: last.offset + 1 };
  }
}
