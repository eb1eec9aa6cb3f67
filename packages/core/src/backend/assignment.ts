import type { TopicPartition } from '../event-log.ts';

export interface MemberSubscription {
  readonly memberId: string;
  readonly topics: readonly string[];
}

/**
 * Splits partitions among the members of a group: each partition goes to exactly one member
 * subscribed to its topic, round-robin over members sorted by id, so every member computing
 * the assignment from the same membership gets the same answer. Backends that coordinate
 * groups themselves (the embedded log, the in-memory log) share this function.
 */
export function assignPartitions(
  members: readonly MemberSubscription[],
  partitions: readonly TopicPartition[],
): Map<string, TopicPartition[]> {
  const sorted = [...members].sort((a, b) =>
    a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0,
  );
  const result = new Map<string, TopicPartition[]>(sorted.map((m) => [m.memberId, []]));
  const ordered = [...partitions].sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
  );
  const cursor = new Map<string, number>();
  for (const tp of ordered) {
    const eligible = sorted.filter((m) => m.topics.includes(tp.topic));
    if (eligible.length === 0) continue;
    const next = cursor.get(tp.topic) ?? 0;
    cursor.set(tp.topic, next + 1);
    result.get(eligible[next % eligible.length]!.memberId)!.push(tp);
  }
  return result;
}
