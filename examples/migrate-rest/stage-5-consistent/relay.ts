// Stage 2: moves the outbox table's events into Herald's log. It publishes what the outbox
// holds, then deletes exactly those rows; there is no cursor, so a transaction that commits
// late is published on the next pass instead of being skipped.
//
// Delivery is at least once: a relay that dies between publishing and deleting publishes the
// same events again on restart. They keep their ids, so the consumers' idempotency middleware
// recognises them and has each one take effect once.
import type { DatabaseSync } from 'node:sqlite';
import type { EventLog } from '@herald/core';
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
  readonly db: DatabaseSync;
  readonly log: EventLog;
  readonly batchSize?: number;
}): OutboxRelay {
  const relayOnce = async (): Promise<number> => {
    const batch = outboxBatch(db, batchSize);
    // One atomic append per topic: a pass is a commit per topic, not one per event.
    const byTopic = Map.groupBy(batch, (row) => row.topic);
    for (const [topic, rows] of byTopic)
      await log.appendBatch(
        topic,
        rows.map((row) => row.event),
      );
    // Exactly the rows published: on a database whose sequence is taken before commit, a row
    // with a lower seq may have committed since the read, and must stay for the next pass.
    db.prepare('DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))').run(
      JSON.stringify(batch.map((row) => row.seq)),
    );
    return batch.length;
  };
  return {
    relayOnce,
    start(intervalMs) {
      let running: Promise<unknown> = Promise.resolve();
      const timer = setInterval(() => {
        running = running
          .then(relayOnce)
          .catch((error: unknown) => console.error('outbox relay failed:', error));
      }, intervalMs);
      return {
        async stop() {
          clearInterval(timer);
          await running;
        },
      };
    },
  };
}
