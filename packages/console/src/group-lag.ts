// Lag in seconds as the console shows it: `groupLag` of `@herald/core/ops` (how old the oldest
// event a group has not consumed is), with the group's description beside it (members, state).
import type { EventLog, GroupDescription } from '@herald/core';
import { type PartitionLag, groupLag as lagOf } from '@herald/core/ops';

/** A group's description with lag in seconds per partition, and totals. */
export interface GroupLag {
  readonly description: GroupDescription;
  readonly partitions: readonly PartitionLag[];
  readonly lag: number;
  /** The largest `lagSeconds` of its partitions. */
  readonly lagSeconds: number;
}

/** Reads `group`'s description and its lag in events and in seconds, measured at `now()`. */
export async function groupLag(
  log: EventLog,
  group: string,
  now: () => number = Date.now,
): Promise<GroupLag> {
  const [description, lag] = await Promise.all([log.describeGroup(group), lagOf(log, group, { now: now() })]);
  return { description, partitions: lag.partitions, lag: lag.totals.lag, lagSeconds: lag.totals.lagSeconds };
}
