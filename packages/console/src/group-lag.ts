// Lag in seconds: how old the oldest event a group has not consumed is. The ops entry of core
// is to gain a `groupLag` of its own; this is the console's until then, behind one function.
import type { EventLog, GroupDescription, GroupPartitionState } from '@herald/core';
import { isHeraldError } from '@herald/core';

/** One partition of a group, with the age of its oldest unconsumed event. */
export interface PartitionLag extends GroupPartitionState {
  /** Seconds since the log appended the oldest event the group has not consumed; 0 with no lag. */
  readonly lagSeconds: number;
}

/** A group's description with lag in seconds per partition, and totals. */
export interface GroupLag {
  readonly description: GroupDescription;
  readonly partitions: readonly PartitionLag[];
  readonly lag: number;
  /** The largest `lagSeconds` of its partitions. */
  readonly lagSeconds: number;
}

/**
 * Reads `group` and, for each partition behind, the event at its committed offset (or the
 * oldest retained one when it never committed): its append time gives the lag in seconds.
 */
export async function groupLag(
  log: EventLog,
  group: string,
  now: () => number = Date.now,
): Promise<GroupLag> {
  const description = await log.describeGroup(group);
  const partitions: PartitionLag[] = [];
  for (const state of description.partitions) {
    partitions.push({ ...state, lagSeconds: state.lag > 0 ? await ageOfNext(log, state, now) : 0 });
  }
  return {
    description,
    partitions,
    lag: partitions.reduce((sum, p) => sum + p.lag, 0),
    lagSeconds: partitions.reduce((max, p) => Math.max(max, p.lagSeconds), 0),
  };
}

async function ageOfNext(log: EventLog, state: GroupPartitionState, now: () => number): Promise<number> {
  try {
    const [next] = await log.read(state.topic, {
      partition: state.partition,
      from: state.committed === null ? 'earliest' : { offset: state.committed },
      limit: 1,
    });
    return next === undefined ? 0 : Math.max(0, (now() - next.timestamp) / 1000);
  } catch (error) {
    // A record another producer wrote stops `read`; its details still carry its timestamp.
    const timestamp = isHeraldError(error, 'DECODE_FAILED') ? error.details['timestamp'] : undefined;
    if (typeof timestamp === 'number') return Math.max(0, (now() - timestamp) / 1000);
    throw error;
  }
}
