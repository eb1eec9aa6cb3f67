import type { DeliveryKey, FailureRecord, Store } from './store.ts';

/**
 * Failed attempts per delivery, counted by the runtime (never read from event headers). With a
 * store they are kept there, so a poison event reaches the dead-letter topic even when the
 * process crashes between attempts; without one they are kept in memory and lost on restart.
 */
export class DeliveryFailures {
  readonly #store: Store | undefined;
  /** Without a store: per `topic/partition/offset` of the group. */
  readonly #memory = new Map<string, FailureRecord>();
  /**
   * With a store that has `latestFailure`: per `topic/partition` claimed, the highest offset
   * that had a failure record when it was claimed. Above it, only deliveries in `#recorded`
   * can have failures: this router writes them itself.
   */
  readonly #claimed = new Map<string, Promise<number | undefined>>();
  /** Deliveries (`topic/partition/offset`) this router recorded a failure for and did not clear. */
  readonly #recorded = new Set<string>();

  constructor(store: Store | undefined) {
    this.#store = store;
  }

  /**
   * The failures recorded for `key` so far, or undefined when none. A store with
   * `latestFailure` is asked once per partition claim, not per delivery (a member that lost the
   * partition and still records a failure after the claim is not seen: at most one more attempt).
   */
  async of(key: DeliveryKey): Promise<FailureRecord | undefined> {
    const store = this.#store;
    if (store === undefined) return this.#memory.get(idOf(key));
    if (store.latestFailure !== undefined && !this.#recorded.has(idOf(key))) {
      const partition = `${key.topic}/${key.partition}`;
      let latest = this.#claimed.get(partition);
      if (latest === undefined) {
        latest = store.latestFailure(key.group, key.topic, key.partition);
        this.#claimed.set(partition, latest);
        // A failed read is asked again at the next delivery.
        latest.catch(() => this.#claimed.delete(partition));
      }
      const highest = await latest;
      if (highest === undefined || key.offset > highest) return undefined;
    }
    return store.failures(key);
  }

  /** The partition left this router: a later claim reads its failure records again. */
  released(topic: string, partition: number): void {
    this.#claimed.delete(`${topic}/${partition}`);
    const prefix = `${topic}/${partition}/`;
    for (const id of this.#recorded) if (id.startsWith(prefix)) this.#recorded.delete(id);
  }

  /** Records one more failed attempt of `key`, with `error` described as `Name: message`. */
  async record(key: DeliveryKey, error: unknown): Promise<FailureRecord> {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (this.#store !== undefined) {
      this.#recorded.add(idOf(key));
      return this.#store.recordFailure(key, message);
    }
    const id = idOf(key);
    const now = Date.now();
    const previous = this.#memory.get(id);
    const record: FailureRecord = {
      attempts: (previous?.attempts ?? 0) + 1,
      firstFailureAt: previous?.firstFailureAt ?? now,
      lastFailureAt: now,
      lastError: message,
    };
    this.#memory.set(id, record);
    return record;
  }

  /** Forgets the failures of a delivery that finished: a later replay starts at attempt 1. */
  async clear(key: DeliveryKey): Promise<void> {
    if (this.#store !== undefined) {
      await this.#store.clearFailures(key);
      this.#recorded.delete(idOf(key));
      return;
    }
    this.#memory.delete(idOf(key));
  }
}

function idOf(key: DeliveryKey): string {
  return `${key.topic}/${key.partition}/${key.offset}`;
}
