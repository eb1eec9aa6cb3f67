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

  constructor(store: Store | undefined) {
    this.#store = store;
  }

  /** The failures recorded for `key` so far, or undefined when none. */
  async of(key: DeliveryKey): Promise<FailureRecord | undefined> {
    if (this.#store !== undefined) return this.#store.failures(key);
    return this.#memory.get(idOf(key));
  }

  /** Records one more failed attempt of `key`, with `error` described as `Name: message`. */
  async record(key: DeliveryKey, error: unknown): Promise<FailureRecord> {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (this.#store !== undefined) return this.#store.recordFailure(key, message);
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
    if (this.#store !== undefined) return this.#store.clearFailures(key);
    this.#memory.delete(idOf(key));
  }
}

function idOf(key: DeliveryKey): string {
  return `${key.topic}/${key.partition}/${key.offset}`;
}
