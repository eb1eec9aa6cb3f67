// Stage 2: moves the outbox table's events into Herald's log. It publishes what the outbox
// holds, then deletes exactly those rows; there is no cursor, so a transaction that commits
// late is published on the next pass instead of being skipped.
//
// Delivery is at least once: a relay that dies between publishing and deleting publishes the
// same events again on restart. They keep their ids, so the consumers' idempotency middleware
// recognises them and has each one take effect once.
import type { EventLog } from '@herald/core';
import { repeat } from '../stage-1-rest/poller.ts';
import type { Sql } from '../stage-1-rest/sql-database.ts';
import { outboxBatch } from './events.ts';

export interface OutboxRelay {
  /** One pass: publishes and deletes up to `batchSize` events; resolves with how many. */
  relayOnce(): Promise<number>;
  /** Relays every `intervalMs` until stop() (which waits for a pass under way). */
  start(intervalMs: number): { stop(): Promise<void> };
}

export function createOutboxRelay({
  db,
  log,
  batchSize = 500,
}: {
  readonly db: Sql;
  readonly log: EventLog;
  readonly batchSize?: number;
}): OutboxRelay {
  const relayOnce = async (): Promise<number> => {
    const batch = await outboxBatch(db, batchSize);
    if (batch.length === 0) return 0;
    // One atomic append per topic: a pass is a commit per topic, not one per event.
    const byTopic = Map.groupBy(batch, (row) => row.topic);
    for (const [topic, rows] of byTopic)
      await log.appendBatch(
        topic,
        rows.map((row) => row.event),
      );
    // Exactly the rows published: a row with a lower seq may have committed since the read
    // (sequences are taken before commit), and must stay for the next pass.
    await db.run(
      `DELETE FROM outbox WHERE seq IN (${batch.map(() => '?').join(', ')})`,
      ...batch.map((row) => row.seq),
    );
    return batch.length;
  };
  return { relayOnce, start: (intervalMs) => repeat(relayOnce, intervalMs, 'outbox relay') };
}
