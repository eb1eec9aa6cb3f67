type Task = () => Promise<void>;

/**
 * Runs tasks one at a time per key, in the order they were scheduled, while tasks of different
 * keys run concurrently. The router keeps one per partition, so the events of one key are
 * handled in offset order and a key that is slow (retrying) holds back only its own later events.
 *
 * A key's tasks wait in a plain queue: the router schedules one per event, so a promise chain
 * per task would be most of what scheduling costs.
 */
export class KeyScheduler {
  /** Per busy key, the tasks waiting behind the one running; a key is here while a task of it runs. */
  readonly #waiting = new Map<string, Task[]>();

  /**
   * Starts `task` once every task scheduled before it under `key` has settled, whether it
   * resolved or rejected: at once (synchronously) when the key is idle. Resolves or rejects as
   * `task` does.
   */
  schedule(key: string, task: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      this.enqueue(key, () => {
        const run = started(task);
        resolve(run);
        return run;
      });
    });
  }

  /**
   * `schedule` without a promise for the caller: for a task that settles every outcome itself.
   * A rejection of `task` is not reported anywhere; the key's next task starts all the same.
   */
  enqueue(key: string, task: () => Promise<void>): void {
    const waiting = this.#waiting.get(key);
    if (waiting !== undefined) {
      waiting.push(task);
      return;
    }
    this.#waiting.set(key, []);
    this.#run(key, task);
  }

  #run(key: string, task: Task): void {
    const run = started(task);
    const next = (): void => this.#next(key);
    run.then(next, next);
  }

  #next(key: string): void {
    const waiting = this.#waiting.get(key);
    const task = waiting?.shift();
    if (task === undefined) this.#waiting.delete(key);
    else this.#run(key, task);
  }

  /** Keys with a task running or waiting. */
  get busyKeys(): number {
    return this.#waiting.size;
  }

  /** Resolves once every task scheduled so far has settled (never rejects). */
  async idle(): Promise<void> {
    // Behind the last task of each busy key, a task that only reports that it was reached.
    await Promise.all(
      [...this.#waiting.keys()].map(
        (key) =>
          new Promise<void>((resolve) => {
            this.enqueue(key, async () => resolve());
          }),
      ),
    );
  }
}

/** `task`'s promise, also when it throws before returning one. */
function started(task: Task): Promise<void> {
  try {
    return task();
  } catch (error) {
    return rejected(error);
  }
}

async function rejected(error: unknown): Promise<never> {
  throw error;
}
