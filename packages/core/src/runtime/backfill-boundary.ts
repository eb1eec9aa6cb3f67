import { isHeraldError } from '../errors.ts';
import type { EventLog } from '../event-log.ts';
import type { Store } from './store.ts';

/** Where the boundaries are kept, one document per `<group>/<topic>/<partition>`. */
export const BACKFILL_COLLECTION = 'herald.backfill';

export interface BackfillBoundaryOptions {
  readonly log: EventLog;
  readonly group: string;
  /** Keeps each boundary once decided, so a restart in the middle of a backfill still knows it. */
  readonly store?: Store | undefined;
}

/**
 * Where live history starts, per partition, for one consumer group: events below the boundary
 * were in the log before the group went live (history it backfills, or a replay after
 * `resetGroup`), and their declared effects are suppressed.
 *
 * When a group first reads a partition it never committed on, the boundary is what the
 * partition held when this router started (`markHistoryEnd`), not what it holds at that first
 * read, which already includes the event being read.
 */
export class BackfillBoundary {
  readonly #options: BackfillBoundaryOptions;
  /** Per partition, the offset the next event got when the router started: history ends there. */
  readonly #historyEnd = new Map<string, number>();

  constructor(options: BackfillBoundaryOptions) {
    this.#options = options;
  }

  /**
   * Takes the end of every partition of `topics` now. Call it before joining the group: events
   * appended from then on are live. A topic that does not exist yet has no history.
   */
  async markHistoryEnd(topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      const description = await this.#options.log.describeTopic(topic).catch((error: unknown) => {
        if (isHeraldError(error, 'UNKNOWN_TOPIC')) return undefined;
        throw error;
      });
      for (const p of description?.partitionInfo ?? [])
        this.#historyEnd.set(`${topic}/${p.partition}`, p.latest);
    }
  }

  /**
   * The first live offset of a partition. A boundary kept in the store wins (and is never below
   * a replay the group was reset into); a group that committed on the partition before is live
   * from where it was (or the end of its replay); otherwise the history end taken at start is
   * decided now, and kept.
   */
  async replayUntil(topic: string, partition: number): Promise<number> {
    const { store, log, group } = this.#options;
    const id = `${group}/${topic}/${partition}`;
    const saved = await store?.get<{ until: number }>(BACKFILL_COLLECTION, id);
    const description = await log.describeGroup(group);
    const state = description.partitions.find((p) => p.topic === topic && p.partition === partition);
    // After `resetGroup`, what the group had handled before is a replay.
    const replayed = state?.replayUntil ?? 0;
    if (saved !== undefined) return Math.max(saved.until, replayed);
    if (state?.committed != null) return replayed;
    const until = this.#historyEnd.get(`${topic}/${partition}`) ?? 0;
    await store?.transaction((tx) => tx.put(BACKFILL_COLLECTION, id, { until }));
    return until;
  }
}
