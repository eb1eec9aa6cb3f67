import { isHeraldError } from './errors.ts';
import type {
  EventLog,
  ForeignRecordDetails,
  GroupDescription,
  GroupPartitionState,
  TopicPartition,
} from './event-log.ts';

export interface GroupLagOptions {
  /** The clock the age of the oldest unconsumed event is measured against (ms since the epoch; default `Date.now()`). */
  readonly now?: number;
}

/** How far behind a consumer group is on one partition, in events and in time. */
export interface PartitionLag extends TopicPartition {
  /** Next offset the group will read, or null when it never committed. */
  readonly committed: number | null;
  readonly latest: number;
  /** Events appended but not yet committed by the group. */
  readonly lag: number;
  /**
   * Age in seconds of the oldest event the group has not consumed (the one at its committed
   * position, or the oldest retained one when it never committed): how long that event has
   * waited. 0 when `lag` is 0. Never negative, also when the clocks of the log and the caller
   * differ.
   */
  readonly lagSeconds: number;
  /** When the log appended that event (ms since the epoch); null when `lag` is 0. */
  readonly oldestUnconsumedTimestamp: number | null;
}

export interface GroupLag {
  readonly group: string;
  /** The clock the ages were measured against. */
  readonly now: number;
  readonly partitions: readonly PartitionLag[];
  readonly totals: {
    /** Events not yet committed, over every partition. */
    readonly lag: number;
    /** The largest `lagSeconds`: how long the group's oldest unconsumed event has waited. */
    readonly lagSeconds: number;
  };
}

/**
 * A consumer group's lag per partition, in events and in seconds, from `describeGroup` and,
 * for each partition that lags, one read of the event at the group's position (the oldest it
 * has not consumed; a record that is not a CloudEvent counts with its own timestamp). What lags
 * in time is what a person notices: a partition behind by 3 events that are an hour old is
 * worse than one behind by 3 000 appended in the last second.
 *
 * @example
 * const { totals } = await groupLag(log, 'billing.invoices');
 * if (totals.lagSeconds > 300) page('billing is 5 minutes behind');
 */
export async function groupLag(
  log: Pick<EventLog, 'describeGroup' | 'read'>,
  group: string,
  options: GroupLagOptions = {},
): Promise<GroupLag> {
  return lagOfDescription(log, await log.describeGroup(group), options.now ?? Date.now());
}

/**
 * `groupLag` from a description already read (the lag metrics read one per scrape for the
 * member count too): one read per partition that lags.
 */
export async function lagOfDescription(
  log: Pick<EventLog, 'read'>,
  description: GroupDescription,
  now: number,
): Promise<GroupLag> {
  const partitions = await Promise.all(description.partitions.map((state) => partitionLag(log, state, now)));
  return {
    group: description.group,
    now,
    partitions,
    totals: {
      lag: partitions.reduce((sum, p) => sum + p.lag, 0),
      lagSeconds: partitions.reduce((most, p) => Math.max(most, p.lagSeconds), 0),
    },
  };
}

async function partitionLag(
  log: Pick<EventLog, 'read'>,
  state: GroupPartitionState,
  now: number,
): Promise<PartitionLag> {
  const { topic, partition, committed, latest, lag } = state;
  const base = { topic, partition, committed, latest, lag };
  if (lag === 0) return { ...base, lagSeconds: 0, oldestUnconsumedTimestamp: null };
  const timestamp = await oldestTimestamp(log, state);
  // Retention may have deleted everything meanwhile: nothing left to be late with.
  if (timestamp === undefined) return { ...base, lagSeconds: 0, oldestUnconsumedTimestamp: null };
  return { ...base, lagSeconds: Math.max(0, now - timestamp) / 1000, oldestUnconsumedTimestamp: timestamp };
}

/** When the event at the group's position was appended (the log skips up to the oldest retained one). */
async function oldestTimestamp(
  log: Pick<EventLog, 'read'>,
  state: GroupPartitionState,
): Promise<number | undefined> {
  const { topic, partition, committed } = state;
  try {
    const [event] = await log.read(topic, {
      partition,
      from: committed === null ? 'earliest' : { offset: committed },
      limit: 1,
    });
    return event?.timestamp;
  } catch (error) {
    if (isHeraldError(error, 'DECODE_FAILED')) {
      const details = error.details as Partial<ForeignRecordDetails> | undefined;
      if (typeof details?.timestamp === 'number') return details.timestamp;
    }
    throw error;
  }
}
