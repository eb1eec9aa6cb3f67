/**
 * Runs tasks one at a time per key, in the order they were scheduled, while tasks of different
 * keys run concurrently. The router keeps one per partition, so the events of one key are
 * handled in offset order and a key that is slow (retrying) holds back only its own later events.
 */
export class KeyScheduler {
  /** Per key, the last task scheduled, settled either way: the next one starts after it. */
  readonly #chains = new Map<string, Promise<void>>();

  /**
   * Starts `task` once every task scheduled before it under `key` has settled, whether it
   * resolved or rejected. Resolves or rejects as `task` does.
   */
  schedule(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const run = previous.then(task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#chains.set(key, settled);
    void settled.then(() => {
      if (this.#chains.get(key) === settled) this.#chains.delete(key);
    });
    return run;
  }

  /** Keys with a task running or waiting. */
  get busyKeys(): number {
    return this.#chains.size;
  }

  /** Resolves once every task scheduled so far has settled (never rejects). */
  async idle(): Promise<void> {
    await Promise.all(this.#chains.values());
  }
}
