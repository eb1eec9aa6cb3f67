// Stage 2: the fact the workflow starts from, as an event. The REST write records it in the
// application's outbox table in its own transaction; the relay publishes it to Herald's log.
import type { DatabaseSync } from 'node:sqlite';
import { type CloudEvent, attributesOf, defineEvent, eventFromAttributes } from '@herald/core';
import { z } from 'zod';

/** The topic of everything that happens to users; keyed by user id, so one user's events keep their order. */
export const USERS_TOPIC = 'users';

export const UserSignedUp = defineEvent({
  type: 'dev.herald.examples.migrate-rest.user-signed-up.v1',
  schema: z.object({ userId: z.number().int().positive(), email: z.email(), name: z.string().min(1) }),
});

/**
 * Records `event` in the outbox table. Call it inside the transaction that makes the change the
 * event tells of: the event then exists if and only if the change committed.
 */
export function recordInOutbox(db: DatabaseSync, topic: string, event: CloudEvent): void {
  db.prepare('INSERT INTO outbox (topic, attributes, data) VALUES (?, ?, ?)').run(
    topic,
    JSON.stringify(attributesOf(event)),
    event.data ?? null,
  );
}

/** The oldest events of the outbox, as the relay publishes them. */
export function outboxBatch(
  db: DatabaseSync,
  limit: number,
): { seq: number; topic: string; event: CloudEvent }[] {
  const rows = db
    .prepare('SELECT seq, topic, attributes, data FROM outbox ORDER BY seq LIMIT ?')
    .all(limit) as {
    seq: number;
    topic: string;
    attributes: string;
    data: Uint8Array | null;
  }[];
  return rows.map((row) => ({
    seq: row.seq,
    topic: row.topic,
    event: eventFromAttributes(
      JSON.parse(row.attributes) as Record<string, string>,
      row.data === null ? undefined : row.data,
    ),
  }));
}
