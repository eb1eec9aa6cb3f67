import { HeraldError, assignPartitions } from '@herald/core';

/*
 * A consumer group's coordination record, as stored in one KV key, and the pure steps that
 * change it. Every change is a compare-and-set of the whole record, so a step either applies
 * entirely or not at all, and two members can never both win the same race: this is the
 * embedded log's one-transaction-per-step design (ADR 0005) with a KV revision in place of a
 * SQLite write lock.
 *
 * - Members hold leases: `heartbeatAt` + `sessionTimeoutMs`. Whoever writes the record next
 *   removes a member whose lease ran out and frees its partitions (owner = null, epoch + 1).
 * - Every join, leave and expiry bumps `generation`. The first writer that sees a generation
 *   without an assignment computes one with `assignPartitions` and sets each partition's
 *   `target`.
 * - A partition moves in two steps: its owner, seeing another target, awaits `onRevoked` and
 *   then frees it (`release`); the target claims it only once it is free (owner = target,
 *   epoch + 1). No two live members ever own one partition.
 * - `epoch` goes up whenever a partition changes hands. A member commits under the epoch it
 *   claimed with, and the offset record refuses any other (see nats-subscription.ts).
 */

export interface MemberRecord {
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly heartbeatAt: number;
  readonly joinedAt: number;
}

export interface PartitionRecord {
  readonly topic: string;
  readonly partition: number;
  readonly owner: string | null;
  readonly target: string | null;
  readonly epoch: number;
}

export interface GroupRecord {
  readonly version: 1;
  /** The group's name (keys hold it escaped). */
  readonly group: string;
  readonly generation: number;
  /** The generation the targets were computed for. */
  readonly assignedGeneration: number;
  readonly members: Readonly<Record<string, MemberRecord>>;
  /** Every partition the group has ever been assigned, sorted by topic and partition. */
  readonly partitions: readonly PartitionRecord[];
  /** Every topic the group's members ever subscribed to, sorted. */
  readonly topics: readonly string[];
  /** While set and in the future, `resetGroup` is moving offsets: nobody claims partitions. */
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A group nobody has joined yet. */
export function emptyGroup(group: string): GroupRecord {
  return { version: 1, group, generation: 0, assignedGeneration: 0, members: {}, partitions: [], topics: [] };
}

export function serializeGroup(record: GroupRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Parses a stored record; throws `CORRUPT_LOG` for something Herald did not write. */
export function parseGroup(bytes: Uint8Array): GroupRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new HeraldError('CORRUPT_LOG', 'a consumer-group record is not JSON', { cause });
  }
  const record = parsed as Partial<GroupRecord> | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    record.version !== 1 ||
    typeof record.group !== 'string' ||
    typeof record.members !== 'object' ||
    !Array.isArray(record.partitions) ||
    !Array.isArray(record.topics)
  ) {
    throw new HeraldError('CORRUPT_LOG', 'a consumer-group record has an unknown shape');
  }
  return record as GroupRecord;
}

const byPartition = (a: PartitionRecord, b: PartitionRecord): number =>
  a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1;

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
 * Raises the epoch of a partition this member owns under `epoch` to `to`, when an offset record
 * left over from an earlier record of the group (deleted by hand) already carries a higher one.
 * The same record when the member no longer owns it under that epoch.
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
 * out, assigns partitions when the generation changed (`partitionCounts` names every topic
 * the members subscribe to; a topic missing from it has no partitions), and claims the free
 * partitions targeted at this member. The member must be in the record.
 */
export function coordinationStep(
  record: GroupRecord,
  memberId: string,
  now: number,
  partitionCounts: ReadonlyMap<string, number>,
): StepResult {
  const self = record.members[memberId];
  if (self === undefined) throw new Error(`member ${memberId} is not in group ${record.group}`);
  let next: GroupRecord = {
    ...record,
    members: { ...record.members, [memberId]: { ...self, heartbeatAt: now } },
  };
  let changed = false;
  for (const [id, member] of Object.entries(record.members)) {
    if (id !== memberId && member.heartbeatAt + member.sessionTimeoutMs < now) {
      next = removeMember(next, id);
      changed = true;
    }
  }
  if (next.generation !== next.assignedGeneration) {
    next = assign(next, partitionCounts);
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

/** Targets every partition of the members' topics at one member, deterministically. */
function assign(record: GroupRecord, partitionCounts: ReadonlyMap<string, number>): GroupRecord {
  const members = Object.entries(record.members).map(([memberId, m]) => ({ memberId, topics: m.topics }));
  const topics = [...new Set(members.flatMap((m) => m.topics))];
  const wanted: { topic: string; partition: number }[] = [];
  for (const topic of topics) {
    const count = partitionCounts.get(topic) ?? 0;
    for (let partition = 0; partition < count; partition++) wanted.push({ topic, partition });
  }
  const plan = assignPartitions(members, wanted);
  const targetOf = new Map<string, string>();
  for (const [memberId, owned] of plan) {
    for (const tp of owned) targetOf.set(`${tp.topic}/${tp.partition}`, memberId);
  }
  const partitions = new Map(record.partitions.map((p) => [`${p.topic}/${p.partition}`, p]));
  for (const tp of wanted) {
    const key = `${tp.topic}/${tp.partition}`;
    if (!partitions.has(key)) partitions.set(key, { ...tp, owner: null, target: null, epoch: 0 });
  }
  return {
    ...record,
    assignedGeneration: record.generation,
    partitions: [...partitions.entries()]
      .map(([key, p]) => ({ ...p, target: targetOf.get(key) ?? null }))
      .sort(byPartition),
  };
}

/** A group's position in one partition, in its own KV key so commits do not contend with heartbeats. */
export interface OffsetRecord {
  /** Next offset the group reads, or null when it never committed. */
  readonly committed: number | null;
  /** Epoch of the claim commits are accepted under; raised by every new owner before it reads. */
  readonly epoch: number;
  /** Set by `resetGroup`: offsets below it are a replay. */
  readonly replayUntil?: number;
  readonly updatedAt: number;
}

export function serializeOffset(record: OffsetRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Parses a stored offset record; throws `CORRUPT_LOG` for something Herald did not write. */
export function parseOffset(bytes: Uint8Array): OffsetRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new HeraldError('CORRUPT_LOG', 'an offset record is not JSON', { cause });
  }
  const record = parsed as Partial<OffsetRecord> | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    !(record.committed === null || Number.isSafeInteger(record.committed)) ||
    !Number.isSafeInteger(record.epoch)
  ) {
    throw new HeraldError('CORRUPT_LOG', 'an offset record has an unknown shape');
  }
  return record as OffsetRecord;
}
