import { Worker } from 'node:worker_threads';

/** How long after a commit the checkpointer is asked to run (commits meanwhile share the request). */
const CHECKPOINT_DELAY_MS = 100;

/**
 * Runs the WAL checkpoints of one log instance on a worker thread (checkpoint-worker.ts). The
 * writer connection turns SQLite's automatic checkpoint off (it would copy pages and fsync the
 * database file inside a COMMIT, on the event loop); this asks the worker for a PASSIVE
 * checkpoint shortly after commits, at most one in flight. If the worker cannot start, the log
 * keeps SQLite's automatic checkpoint instead (`started` is false).
 */
export class Checkpointer {
  readonly #worker: Worker;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #closed = false;
  #exited = false;
  #checkpoints = 0;

  private constructor(worker: Worker, onFailure: () => void) {
    this.#worker = worker;
    worker.unref();
    worker.on('error', () => undefined);
    worker.once('exit', () => {
      this.#exited = true;
      if (!this.#closed) {
        this.#closed = true;
        clearTimeout(this.#timer);
        onFailure();
      }
    });
    worker.on('message', () => {
      this.#checkpoints++;
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.committed();
      }
    });
  }

  /**
   * Starts the worker; undefined when it cannot (the caller keeps automatic checkpoints).
   * `onFailure` runs if the worker dies later: the caller turns automatic checkpoints back on.
   */
  static async start(
    path: string,
    busyTimeoutMs: number,
    onFailure: () => void,
  ): Promise<Checkpointer | undefined> {
    try {
      // The worker module sits next to this one, with the same extension: .ts when Herald runs
      // from its sources, .js in the built package.
      const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
      const worker = new Worker(new URL(`./checkpoint-worker${extension}`, import.meta.url), {
        workerData: { path, busyTimeoutMs },
      });
      await new Promise<void>((resolve, reject) => {
        worker.once('online', resolve);
        worker.once('error', reject);
      });
      return new Checkpointer(worker, onFailure);
    } catch {
      return undefined;
    }
  }

  /** Checkpoints run so far. */
  get checkpoints(): number {
    return this.#checkpoints;
  }

  /** A transaction committed: a checkpoint follows shortly. */
  committed(): void {
    if (this.#closed || this.#timer !== undefined) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.#running = true;
      this.#worker.postMessage('checkpoint');
    }, CHECKPOINT_DELAY_MS);
    this.#timer.unref();
  }

  /** Stops the worker; the last connection to close checkpoints what is left. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#exited) return;
    // Keeps the process alive until the thread closed its connection.
    this.#worker.ref();
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage('close');
    await exited;
  }

  /** A simulated crash: the thread stops at once. */
  kill(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    void this.#worker.terminate();
  }
}
