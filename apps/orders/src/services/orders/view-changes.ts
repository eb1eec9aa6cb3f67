// Wakes readers waiting for an order's view to change (long-polls, SSE). The view projection
// signals after each commit in this process; a reader also re-reads every `pollIntervalMs`, so
// a view written by another process on the same log file is seen too, and a signal that never
// comes delays a reader by at most that long.

export class ViewChanges {
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #pollIntervalMs: number;
  #onWaiting: ((orders: number) => void) | undefined;

  constructor(options: { pollIntervalMs?: number } = {}) {
    this.#pollIntervalMs = options.pollIntervalMs ?? 200;
  }

  /** The view of `orderId` changed (committed). */
  notify(orderId: string): void {
    const waiters = this.#waiters.get(orderId);
    if (waiters === undefined) return;
    this.#waiters.delete(orderId);
    this.#onWaiting?.(this.#waiters.size);
    for (const wake of waiters) wake();
  }

  /** How many orders someone waits for now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Calls `listener` with {@link waiting} whenever a reader starts or stops waiting (the engine
   * thread forwards its signals only while the API thread has readers waiting).
   */
  onWaiting(listener: (orders: number) => void): void {
    this.#onWaiting = listener;
    listener(this.#waiters.size);
  }

  /**
   * Resolves at the next change of `orderId`, after at most `min(maxMs, pollIntervalMs)`, or when
   * `signal` aborts, whichever is first. Callers re-read the view and decide whether to wait again.
   */
  next(orderId: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(orderId);
      if (waiters === undefined) {
        this.#waiters.set(orderId, (waiters = new Set()));
        this.#onWaiting?.(this.#waiters.size);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const current = this.#waiters.get(orderId);
        current?.delete(done);
        if (current?.size === 0) {
          this.#waiters.delete(orderId);
          this.#onWaiting?.(this.#waiters.size);
        }
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(maxMs, this.#pollIntervalMs)));
      waiters.add(done);
      if (signal?.aborted === true) done();
      else signal?.addEventListener('abort', done, { once: true });
    });
  }
}
