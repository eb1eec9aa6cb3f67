// Stage 2: the fact the workflow starts from, as an event. The REST write records it in the
// application's outbox table in its own transaction; the relay publishes it to Herald's log.
import { type CloudEvent, attributesOf, defineEvent, eventFromAttributes } from '@herald/core';
import { z } from 'zod';
import type { Sql } from '../stage-1-rest/sql-database.ts';

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
export async function recordInOutbox(tx: Sql, topic: string, event: CloudEvent): Promise<void> {
  await tx.run(
    'INSERT INTO outbox (topic, attributes, data) VALUES (?, ?, ?)',
    topic,
    JSON.stringify(attributesOf(event)),
    event.data ?? null,
  );
}

/** The oldest events of the outbox, as the relay publishes them. */
export async function outboxBatch(
  sql: Sql,
  limit: number,
): Promise<{ seq: number; topic: string; event: CloudEvent }[]> {
  const rows = await sql.all<{ seq: number; topic: string; attributes: string; data: Uint8Array | null }>(
    'SELECT seq, topic, attributes, data FROM outbox ORDER BY seq LIMIT ?',
    limit,
  );
  return rows.map((row) => ({
    seq: row.seq,
    topic: row.topic,
    event: eventFromAttributes(
      JSON.parse(row.attributes) as Record<string, string>,
      row.data === null ? undefined : row.data,
    ),
  }));
}
