import type { DatabaseSync } from 'node:sqlite';
import { HeraldError } from '@herald/core';
import { EVENT_ATTRIBUTE_COLUMNS, verifyEventRow } from './event-row.ts';

export type IntegrityCheck = 'quick' | 'full' | 'off';

/**
 * Refuses a damaged log file loudly instead of serving a shortened or garbled history.
 *
 * SQLite's own check (`quick_check`, or `integrity_check` in `full` mode) catches damaged
 * pages and indexes. Herald's checks then compare every partition's bookkeeping with the
 * events actually present: the newest stored offset must be `next_offset - 1` and the oldest
 * must not precede `low_offset`; in `full` mode the count must equal the range (no holes) and
 * every event must match its checksum (reads check it too, so `quick` never serves a damaged
 * event either; `full` finds it before anyone reads it). A log that lost its newest events (a
 * truncated file) fails here rather than quietly re-using their offsets.
 */
export function checkIntegrity(
  db: DatabaseSync,
  path: string,
  mode: IntegrityCheck,
  { heraldOnly = false }: { heraldOnly?: boolean } = {},
): void {
  if (mode === 'off') return;
  const problems: string[] = [];
  if (!heraldOnly) {
    const pragma = mode === 'full' ? 'integrity_check' : 'quick_check';
    const rows = db.prepare(`PRAGMA ${pragma}`).all() as Record<string, string>[];
    for (const row of rows) {
      const message = Object.values(row)[0];
      if (message !== 'ok') problems.push(String(message));
    }
  } else {
    const partitions = db
      .prepare(
        `SELECT t.name, p.topic_id, p.partition, p.next_offset, p.low_offset
         FROM herald_partitions p JOIN herald_topics t ON t.id = p.topic_id`,
      )
      .all() as unknown as {
      name: string;
      topic_id: number;
      partition: number;
      next_offset: number;
      low_offset: number;
    }[];
    const bounds = db.prepare(
      `SELECT min(offset) AS first, max(offset) AS last, count(*) AS n FROM herald_events
       WHERE topic_id = ? AND partition = ?`,
    );
    const newest = db.prepare(
      'SELECT offset FROM herald_events WHERE topic_id = ? AND partition = ? ORDER BY offset DESC LIMIT 1',
    );
    const oldest = db.prepare(
      'SELECT offset FROM herald_events WHERE topic_id = ? AND partition = ? ORDER BY offset LIMIT 1',
    );
    for (const p of partitions) {
      const where = `${p.name}/${p.partition}`;
      if (mode === 'full') {
        const b = bounds.get(p.topic_id, p.partition) as {
          first: number | null;
          last: number | null;
          n: number;
        };
        if (b.n !== p.next_offset - p.low_offset) {
          problems.push(`${where}: ${b.n} events stored for offsets ${p.low_offset}..${p.next_offset - 1}`);
        }
      }
      const last = (newest.get(p.topic_id, p.partition) as { offset: number } | undefined)?.offset;
      const first = (oldest.get(p.topic_id, p.partition) as { offset: number } | undefined)?.offset;
      if (p.next_offset > p.low_offset && last !== p.next_offset - 1) {
        problems.push(`${where}: newest stored offset is ${String(last)}, expected ${p.next_offset - 1}`);
      }
      if (last !== undefined && last >= p.next_offset) {
        problems.push(`${where}: offset ${last} is beyond the partition head ${p.next_offset}`);
      }
      if (first !== undefined && first < p.low_offset) {
        problems.push(`${where}: offset ${first} precedes the retained start ${p.low_offset}`);
      }
    }
  }
  if (heraldOnly && mode === 'full') problems.push(...damagedEvents(db, path));
  if (problems.length > 0) {
    throw new HeraldError(
      'CORRUPT_LOG',
      `${path} failed its integrity check and will not be served: ${problems.slice(0, 5).join('; ')}`,
      { details: { path, problems } },
    );
  }
}

/** Every event whose checksum fails, described (at most the first 100: the error lists five). */
function damagedEvents(db: DatabaseSync, path: string): string[] {
  const names = new Map(
    (db.prepare('SELECT id, name FROM herald_topics').all() as { id: number; name: string }[]).map((t) => [
      t.id,
      t.name,
    ]),
  );
  const rows = db.prepare(
    `SELECT offset, timestamp, ${EVENT_ATTRIBUTE_COLUMNS}, crc, topic_id, partition FROM herald_events`,
  );
  rows.setReturnArrays(true);
  const damaged: string[] = [];
  for (const row of rows.iterate() as IterableIterator<unknown[]>) {
    const topicId = row[15] as number;
    const partition = row[16] as number;
    try {
      verifyEventRow(path, { id: topicId, name: names.get(topicId) ?? `#${topicId}` }, partition, row);
    } catch {
      damaged.push(
        `${names.get(topicId) ?? `#${topicId}`}/${partition} offset ${String(row[0])} fails its checksum`,
      );
      if (damaged.length === 100) break;
    }
  }
  return damaged;
}
