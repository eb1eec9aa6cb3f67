import { HeraldError } from '../errors.ts';
import type { Store } from './store.ts';

/** How long inbox entries are kept by default: 7 days, Kafka's default retention of events. */
export const DEFAULT_INBOX_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface InboxRetentionOptions {
  /**
   * How long an inbox entry is kept after its event was handled. Default 7 days.
   *
   * An entry is what makes a second delivery of an event have no second effect. Redeliveries
   * after a crash or a rebalance come within minutes; what a longer retention covers is a
   * replay (a group reset, a redrive) and a producer that retries an old event with the same id.
   * Keep entries at least as long as the log keeps the events a group could be reset to.
   */
  readonly retentionMs?: number;
  /** How often old entries are deleted. Default one hour, or the retention when shorter. */
  readonly intervalMs?: number;
  /** Entries deleted per store call, each call one short transaction. Default 1 000. */
  readonly batchSize?: number;
  /** A failed round (the next one tries again). Default: ignored. */
  readonly onError?: (error: unknown) => void;
  /** The clock the cut-off is read from (ms since the epoch). Default `Date.now`. */
  readonly now?: () => number;
}

/** Background deletion of old inbox entries, started by {@link startInboxRetention}. */
export interface InboxRetention {
  /** One round now: deletes every entry past the retention, in batches; resolves with the count. */
  prune(): Promise<number>;
  /** Stops the timer and waits for a round in progress. */
  stop(): Promise<void>;
}

/**
 * Deletes, every `intervalMs`, the inbox entries of `stores` handled more than `retentionMs`
 * ago, in batches of `batchSize` (one short transaction each, so a large backlog of old entries
 * never holds a write lock for long). Stores without `pruneInbox` are left as they are. The
 * timer does not keep the process alive; rounds never overlap.
 *
 * @example
 * const retention = startInboxRetention([store], { retentionMs: 3 * 24 * 3600_000 });
 * // … at shutdown, before the store closes:
 * await retention.stop();
 */
export function startInboxRetention(
  stores: readonly Store[],
  options: InboxRetentionOptions = {},
): InboxRetention {
  const retentionMs = options.retentionMs ?? DEFAULT_INBOX_RETENTION_MS;
  if (!Number.isFinite(retentionMs) || retentionMs <= 0) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `inbox retention must be a positive number of ms, got ${retentionMs}`,
    );
  }
  const intervalMs = options.intervalMs ?? Math.min(60 * 60 * 1000, retentionMs);
  const batchSize = options.batchSize ?? 1000;
  const now = options.now ?? Date.now;
  const prunable = [...new Set(stores)].filter((store) => store.pruneInbox !== undefined);
  let stopped = false;
  let running: Promise<number> | undefined;

  const round = async (): Promise<number> => {
    const cutoff = now() - retentionMs;
    let deleted = 0;
    for (const store of prunable) {
      for (;;) {
        if (stopped) return deleted;
        const count = await store.pruneInbox!(cutoff, batchSize);
        deleted += count;
        if (count < batchSize) break;
      }
    }
    return deleted;
  };
  const prune = (): Promise<number> => {
    running ??= round().finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(() => {
    if (running !== undefined) return;
    prune().catch((error: unknown) => options.onError?.(error));
  }, intervalMs);
  timer.unref();
  return {
    prune,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
