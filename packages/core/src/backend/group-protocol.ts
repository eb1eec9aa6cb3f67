import { assignPartitions } from './assignment.ts';
import type { GroupMember, TopicPartition } from '../event-log.ts';
import { compareTopicPartitions, topicPartitionKey } from './topic-partition-key.ts';

/*
 * The consumer-group protocol (lease → target → epoch), written once for every backend that
 * coordinates groups itself. A group is one record; every step below is a pure function from
 * one record to the next, and a backend applies each step atomically through its
 * `GroupCell` (group-cell.ts): a synchronous map in memory, one write transaction in SQLite,
 * a compare-and-set of one KV key on NATS. Two members can therefore never both win the same
 * race (ADR 0005).
 *
 * - Members hold leases: `heartbeatAt` + `sessionTimeoutMs`. Whoever writes the record next
 *   removes a member whose lease ran out and frees its partitions (owner = null, epoch + 1).
 * - Every join, leave and expiry bumps `generation`. The first writer that sees a generation
 *   without an assignment computes one with `assignPartitions` and sets each partition's
 *   `target`; every member computes the same answer from the same membership.
 * - A partition moves in two steps: its owner, seeing another target, stops delivering it,
 *   awaits `onRevoked` and then frees it (`releasePartitions`); the target claims it only once
 *   it is free (owner = target, epoch + 1). No two live members ever own one partition.
 * - `epoch` goes up whenever a partition changes hands. A member commits under the epoch it
 *   claimed with, and the backend refuses any other (`FENCED`) atomically with the offset
 *   write, so a stale member never moves the group's position.
 * - A member that finds itself gone from the record (expired) drops everything, calls
 *   `onRevoked` after the fact and joins again.
 */

/** One member's lease and subscription. */
export interface MemberRecord {
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly heartbeatAt: number;
  readonly joinedAt: number;
}

/** One partition of a group: who holds it, who should, and the epoch of the current claim. */
export interface PartitionRecord {
  readonly topic: string;
  readonly partition: number;
  readonly owner: string | null;
  readonly target: string | null;
  readonly epoch: number;
}

/** A consumer group's coordination state. */
export interface GroupRecord {
  readonly version: 1;
  readonly group: string;
  readonly generation: number;
  /** The generation the targets were computed for. */
  readonly assignedGeneration: number;
  readonly members: Readonly<Record<string, MemberRecord>>;
  /** Every partition the group has ever been assigned, sorted by topic and partition. */
  readonly partitions: readonly PartitionRecord[];
  /** Every topic the group's members ever subscribed to, sorted. */
  readonly topics: readonly string[];
  /** While set and in the future, a reset is moving offsets: nobody claims partitions. */
  readonly lockedUntil?: number;
}

/** A coordination step's outcome for the member that ran it. */
export interface StepResult {
  readonly record: GroupRecord;
  /** True when the step changed more than the member's own heartbeat. */
  readonly changed: boolean;
  /** Partitions this member claimed in the step, with their new epochs. */
  readonly claims: readonly PartitionRecord[];
}

/** How many partitions each topic has; a topic missing from it has none (it does not exist). */
export type PartitionCounts = ReadonlyMap<string, number>;

/** A group nobody has joined yet. */
export function emptyGroup(group: string): GroupRecord {
  return { version: 1, group, generation: 0, assignedGeneration: 0, members: {}, partitions: [], topics: [] };
}

/** Whether a member's lease has run out at `now`. */
export function isExpired(member: MemberRecord, now: number): boolean {
  return member.heartbeatAt + member.sessionTimeoutMs < now;
}

/** Adds a member (a join): bumps the generation so that partitions are assigned again. */
export function addMember(record: GroupRecord, memberId: string, member: MemberRecord): GroupRecord {
  return {
    ...record,
    generation: record.generation + 1,
    members: { ...record.members, [memberId]: member },
    topics: [...new Set([...record.topics, ...member.topics])].sort(),
  };
}

/** Removes a member (a leave or an expiry) and frees what it owned; the same record when it is not a member. */
export function removeMember(record: GroupRecord, memberId: string): GroupRecord {
  if (!(memberId in record.members)) return record;
  const members = { ...record.members };
  delete members[memberId];
  return {
    ...record,
    generation: record.generation + 1,
    members,
    partitions: record.partitions.map((p) =>
      p.owner === memberId ? { ...p, owner: null, epoch: p.epoch + 1 } : p,
    ),
  };
}

/** Removes every member whose lease ran out at `now` except `keep`; the same record when none did. */
export function reapExpired(record: GroupRecord, now: number, keep?: string): GroupRecord {
  let next = record;
  for (const [id, member] of Object.entries(record.members)) {
    if (id !== keep && isExpired(member, now)) next = removeMember(next, id);
  }
  return next;
}

/** Renews a member's lease at `now`; the same record when it is not a member (any more). */
export function renewLease(record: GroupRecord, memberId: string, now: number): GroupRecord {
  const member = record.members[memberId];
  if (member === undefined) return record;
  return { ...record, members: { ...record.members, [memberId]: { ...member, heartbeatAt: now } } };
}

/**
 * Frees the given partitions when this member still owns them under the given epochs (step 1
 * of a handover). Partitions it no longer owns are left alone; when nothing changes the same
 * record is returned.
 */
export function releasePartitions(
  record: GroupRecord,
  memberId: string,
  released: readonly { readonly topic: string; readonly partition: number; readonly epoch: number }[],
): GroupRecord {
  let changed = false;
  const partitions = record.partitions.map((p) => {
    if (
      p.owner !== memberId ||
      !released.some((r) => r.topic === p.topic && r.partition === p.partition && r.epoch === p.epoch)
    ) {
      return p;
    }
    changed = true;
    return { ...p, owner: null, epoch: p.epoch + 1 };
  });
  return changed ? { ...record, partitions } : record;
}

/**
 * Raises the epoch of a partition this member owns under `epoch` to `to`, when a position
 * record left over from an earlier record of the group already carries a higher one. The same
 * record when the member no longer owns it under that epoch.
 */
export function raiseEpoch(
  record: GroupRecord,
  memberId: string,
  owned: { readonly topic: string; readonly partition: number; readonly epoch: number },
  to: number,
): GroupRecord {
  let changed = false;
  const partitions = record.partitions.map((p) => {
    if (p.topic !== owned.topic || p.partition !== owned.partition) return p;
    if (p.owner !== memberId || p.epoch !== owned.epoch || to <= p.epoch) return p;
    changed = true;
    return { ...p, epoch: to };
  });
  return changed ? { ...record, partitions } : record;
}

/**
 * One heartbeat of `memberId` at `now`: renews its lease, expires the others whose lease ran
 * out, assigns partitions when the generation changed, and claims the free partitions
 * targeted at this member. The member must be in the record.
 */
export function coordinationStep(
  record: GroupRecord,
  memberId: string,
  now: number,
  partitionCounts: PartitionCounts,
): StepResult {
  if (!(memberId in record.members)) throw new Error(`member ${memberId} is not in group ${record.group}`);
  const renewed = renewLease(record, memberId, now);
  let next = reapExpired(renewed, now, memberId);
  let changed = next !== renewed;
  if (next.generation !== next.assignedGeneration) {
    next = assignTargets(next, partitionCounts);
    changed = true;
  }
  const claims: PartitionRecord[] = [];
  if (!((next.lockedUntil ?? 0) > now)) {
    next = {
      ...next,
      partitions: next.partitions.map((p) => {
        if (p.target !== memberId || p.owner !== null) return p;
        const claimed = { ...p, owner: memberId, epoch: p.epoch + 1 };
        claims.push(claimed);
        return claimed;
      }),
    };
    if (claims.length > 0) changed = true;
  }
  return { record: next, changed, claims };
}

/** Targets every partition of the members' topics at one member, for the current generation. */
export function assignTargets(record: GroupRecord, partitionCounts: PartitionCounts): GroupRecord {
  const members = Object.entries(record.members).map(([memberId, m]) => ({ memberId, topics: m.topics }));
  const wanted: TopicPartition[] = [];
  for (const topic of new Set(members.flatMap((m) => m.topics))) {
    const count = partitionCounts.get(topic) ?? 0;
    for (let partition = 0; partition < count; partition++) wanted.push({ topic, partition });
  }
  const targetOf = new Map<string, string>();
  for (const [memberId, owned] of assignPartitions(members, wanted)) {
    for (const tp of owned) targetOf.set(topicPartitionKey(tp.topic, tp.partition), memberId);
  }
  const partitions = new Map(record.partitions.map((p) => [topicPartitionKey(p.topic, p.partition), p]));
  for (const tp of wanted) {
    const key = topicPartitionKey(tp.topic, tp.partition);
    if (!partitions.has(key)) partitions.set(key, { ...tp, owner: null, target: null, epoch: 0 });
  }
  return {
    ...record,
    assignedGeneration: record.generation,
    partitions: [...partitions.entries()]
      .map(([key, p]) => ({ ...p, target: targetOf.get(key) ?? null }))
      .sort(compareTopicPartitions),
  };
}

/** The record's members, oldest first, with the partitions each owns (for `describeGroup`). */
export function describeMembers(record: GroupRecord): GroupMember[] {
  return Object.entries(record.members)
    .sort(([a, ma], [b, mb]) => ma.joinedAt - mb.joinedAt || (a < b ? -1 : a > b ? 1 : 0))
    .map(([memberId, m]) => ({
      memberId,
      clientId: m.clientId,
      lastHeartbeat: m.heartbeatAt,
      partitions: record.partitions
        .filter((p) => p.owner === memberId)
        .map((p) => ({ topic: p.topic, partition: p.partition })),
    }));
}

/** What a member holds locally of one partition, keyed by {@link topicPartitionKey}. */
export interface HeldClaim {
  /** The epoch the member claimed the partition under. */
  readonly epoch: number;
  /** The member is handing it over (its `onRevoked` is running or done). */
  readonly revoking: boolean;
}

/** How a member's local holdings differ from the group's record; see {@link ownershipChanges}. */
export interface OwnershipChanges {
  /** Held here but no longer this member's under its epoch (its lease expired): drop them silently. */
  readonly lost: readonly string[];
  /** Held here, still owned, but targeted at another member: stop delivering, await `onRevoked`, release. */
  readonly revoke: readonly string[];
  /** Owned by this member in the record but not held here (a release that never landed): free them. */
  readonly stray: readonly PartitionRecord[];
  /** A handover this member takes part in is under way: read the record again soon. */
  readonly handover: boolean;
}

/** Compares what `memberId` holds locally (keys from {@link topicPartitionKey}) with the record. */
export function ownershipChanges(
  record: GroupRecord,
  memberId: string,
  held: ReadonlyMap<string, HeldClaim>,
): OwnershipChanges {
  const rows = new Map(record.partitions.map((p) => [topicPartitionKey(p.topic, p.partition), p]));
  const lost: string[] = [];
  const revoke: string[] = [];
  let handing = false;
  for (const [key, claim] of held) {
    const row = rows.get(key);
    if (row?.owner !== memberId || row.epoch !== claim.epoch) lost.push(key);
    else if (claim.revoking) handing = true;
    else if (row.target !== memberId) revoke.push(key);
  }
  const stray = record.partitions.filter(
    (p) => p.owner === memberId && !held.has(topicPartitionKey(p.topic, p.partition)),
  );
  const awaited = record.partitions.some((p) => p.target === memberId && p.owner !== memberId);
  return { lost, revoke, stray, handover: handing || revoke.length > 0 || stray.length > 0 || awaited };
}
