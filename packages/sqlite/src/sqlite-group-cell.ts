import type { DatabaseSync } from 'node:sqlite';
import { emptyGroup, topicPartitionKey } from '@herald/core/backend';
import type { GroupCell, GroupRecord, GroupStep, MemberRecord, PartitionRecord } from '@herald/core/backend';
import { prepared } from './statement-cache.ts';
import type { WriteQueue } from './write-queue.ts';

/*
 * The SQLite group cell: core's group record kept in the tables herald_groups (generation),
 * herald_members (one row per lease) and herald_assignments (owner, target and epoch per
 * partition). A step reads the record and writes back only the rows it changed, all in one
 * write transaction (BEGIN IMMEDIATE through the write queue), so steps of every process on
 * the file apply one at a time and commits — which check the assignment row in their own
 * transaction — never disagree with ownership. A heartbeat writes one member row.
 */

/** A group's record in the file's group tables; each step is one write transaction. */
export class SqliteGroupCell implements GroupCell {
  readonly #writes: WriteQueue;
  readonly #group: string;

  constructor(writes: WriteQueue, group: string) {
    this.#writes = writes;
    this.#group = group;
  }

  update<T>(step: GroupStep<T>): Promise<T> {
    return this.#writes.run((db) => {
      const topics = new TopicIds(db);
      const before = readGroup(db, this.#group);
      const names = new Set(Object.values(before?.members ?? {}).flatMap((m) => m.topics));
      const counts = new Map<string, number>();
      for (const name of names) {
        const topic = topics.get(name);
        if (topic !== undefined) counts.set(name, topic.partitions);
      }
      const { record, result } = step(before, counts);
      if (record !== undefined && record !== before) writeGroup(db, before, record, topics);
      return result;
    });
  }
}

/** Topic rows looked up once per transaction. */
class TopicIds {
  readonly #db: DatabaseSync;
  readonly #rows = new Map<string, { id: number; partitions: number } | undefined>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get(name: string): { id: number; partitions: number } | undefined {
    if (!this.#rows.has(name)) {
      const row = prepared(this.#db, 'SELECT id, partitions FROM herald_topics WHERE name = ?').get(name) as
        { id: number; partitions: number } | undefined;
      this.#rows.set(name, row === undefined ? undefined : { id: row.id, partitions: row.partitions });
    }
    return this.#rows.get(name);
  }
}

/** The group's record as the tables hold it, or undefined when nobody ever joined it. */
export function readGroup(db: DatabaseSync, group: string): GroupRecord | undefined {
  const state = prepared(db, 'SELECT generation, assigned_generation FROM herald_groups WHERE name = ?').get(
    group,
  ) as { generation: number; assigned_generation: number } | undefined;
  if (state === undefined) return undefined;
  const members: Record<string, MemberRecord> = {};
  const rows = prepared(
    db,
    `SELECT member_id, client_id, topics, session_timeout_ms, heartbeat_at, joined_at
       FROM herald_members WHERE group_name = ? ORDER BY member_id`,
  ).all(group) as unknown as {
    member_id: string;
    client_id: string;
    topics: string;
    session_timeout_ms: number;
    heartbeat_at: number;
    joined_at: number;
  }[];
  for (const row of rows) {
    members[row.member_id] = {
      clientId: row.client_id,
      topics: JSON.parse(row.topics) as string[],
      sessionTimeoutMs: row.session_timeout_ms,
      heartbeatAt: row.heartbeat_at,
      joinedAt: row.joined_at,
    };
  }
  const partitions = (
    prepared(
      db,
      `SELECT t.name AS topic, a.partition, a.owner, a.target, a.epoch
         FROM herald_assignments a JOIN herald_topics t ON t.id = a.topic_id
         WHERE a.group_name = ? ORDER BY t.name, a.partition`,
    ).all(group) as unknown as PartitionRecord[]
  ).map((p) => ({
    topic: p.topic,
    partition: p.partition,
    owner: p.owner,
    target: p.target,
    epoch: p.epoch,
  }));
  return {
    ...emptyGroup(group),
    generation: state.generation,
    assignedGeneration: state.assigned_generation,
    members,
    partitions,
    topics: [...new Set(Object.values(members).flatMap((m) => m.topics))].sort(),
  };
}

/** Writes the rows that differ between `before` and `after`. */
function writeGroup(
  db: DatabaseSync,
  before: GroupRecord | undefined,
  after: GroupRecord,
  topics: TopicIds,
): void {
  const group = after.group;
  if (before === undefined) {
    prepared(
      db,
      'INSERT OR REPLACE INTO herald_groups (name, generation, assigned_generation) VALUES (?, ?, ?)',
    ).run(group, after.generation, after.assignedGeneration);
  } else if (
    before.generation !== after.generation ||
    before.assignedGeneration !== after.assignedGeneration
  ) {
    prepared(db, 'UPDATE herald_groups SET generation = ?, assigned_generation = ? WHERE name = ?').run(
      after.generation,
      after.assignedGeneration,
      group,
    );
  }
  const old = before?.members ?? {};
  for (const memberId of Object.keys(old)) {
    if (!(memberId in after.members)) {
      prepared(db, 'DELETE FROM herald_members WHERE group_name = ? AND member_id = ?').run(group, memberId);
    }
  }
  for (const [memberId, member] of Object.entries(after.members)) {
    const previous = old[memberId];
    if (previous === member) continue;
    if (previous !== undefined && sameLease(previous, member)) {
      prepared(db, 'UPDATE herald_members SET heartbeat_at = ? WHERE group_name = ? AND member_id = ?').run(
        member.heartbeatAt,
        group,
        memberId,
      );
      continue;
    }
    prepared(
      db,
      `INSERT OR REPLACE INTO herald_members
         (group_name, member_id, client_id, topics, session_timeout_ms, heartbeat_at, joined_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      group,
      memberId,
      member.clientId,
      JSON.stringify(member.topics),
      member.sessionTimeoutMs,
      member.heartbeatAt,
      member.joinedAt,
    );
  }
  const previous = new Map(
    (before?.partitions ?? []).map((p) => [topicPartitionKey(p.topic, p.partition), p]),
  );
  for (const p of after.partitions) {
    const was = previous.get(topicPartitionKey(p.topic, p.partition));
    if (was !== undefined && was.owner === p.owner && was.target === p.target && was.epoch === p.epoch)
      continue;
    const topic = topics.get(p.topic);
    if (topic === undefined) continue;
    prepared(
      db,
      `INSERT INTO herald_assignments (group_name, topic_id, partition, owner, target, epoch) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (group_name, topic_id, partition)
       DO UPDATE SET owner = excluded.owner, target = excluded.target, epoch = excluded.epoch`,
    ).run(group, topic.id, p.partition, p.owner, p.target, p.epoch);
  }
}

function sameLease(a: MemberRecord, b: MemberRecord): boolean {
  return (
    a.clientId === b.clientId &&
    a.sessionTimeoutMs === b.sessionTimeoutMs &&
    a.joinedAt === b.joinedAt &&
    a.topics.length === b.topics.length &&
    a.topics.every((topic, i) => topic === b.topics[i])
  );
}
