import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { HeraldError } from '@herald/core';
import { DONE, FAILED, REQUESTED, SLOTS, STOP, SYNCS, atOrAfter } from './wal-sync-slots.ts';

/**
 * Makes the write-ahead log durable without blocking the event loop. The writer connection runs
 * with `synchronous = NORMAL`, so a COMMIT only writes the WAL (no fsync, microseconds); a sync
 * thread of this log (wal-sync-worker.ts) then `fdatasync`s the WAL file. A commit counts as
 * durable once a sync that *started after* its COMMIT returned has finished: the fdatasync
 * flushes every byte written to the file before it, by this process or any other.
 *
 * Syncs are coalesced: the thread syncs again at once when requests came while it synced, and
 * one fdatasync covers every transaction committed meanwhile (group commit across the whole
 * process, without holding the write lock during the fsync).
 *
 * The thread reports finished syncs through shared memory. `poll()` reads that synchronously, so
 * the write queue acknowledges durable transactions between two operations even while a backlog
 * keeps this thread's event loop busy; when the loop is idle, `Atomics.waitAsync` wakes it.
 *
 * SQLite's own checkpoints still sync the WAL before copying it into the database file (that is
 * what NORMAL keeps), so the order "WAL durable, then database written" holds as with FULL.
 *
 * A failed fdatasync is fatal: the kernel may have dropped the dirty pages it could not write,
 * so a later successful sync would not prove anything. Every waiter and every later call gets
 * BACKEND_UNAVAILABLE, and the log must be reopened. So does the sync thread dying.
 */
export class WalSync {
  readonly #walPath: string;
  readonly #worker: Worker;
  readonly #state: Int32Array;
  /** Callers waiting for a sync, by the request number they made (increasing). */
  readonly #waiting: { readonly request: number; resolve(): void; reject(error: unknown): void }[] = [];
  /** Every promise `sync` returned that has not settled: `close` waits for them. */
  readonly #outstanding = new Set<Promise<void>>();
  #watching = false;
  /** The thread has ended: after a failed fdatasync it ends by itself, before any close. */
  #exited = false;
  #failure: HeraldError | undefined;
  #closed: Promise<void> | undefined;

  private constructor(walPath: string, worker: Worker, state: Int32Array) {
    this.#walPath = walPath;
    this.#worker = worker;
    this.#state = state;
    worker.unref();
    worker.on('message', (message: { failed: string }) => {
      this.#fail(
        new HeraldError(
          'BACKEND_UNAVAILABLE',
          `fdatasync of ${walPath} failed; writes since the last sync may be lost, reopen the log`,
          { cause: new Error(message.failed) },
        ),
      );
    });
    worker.on('error', (error) => {
      this.#fail(
        new HeraldError('BACKEND_UNAVAILABLE', `the sync thread of ${walPath} failed`, { cause: error }),
      );
    });
    worker.once('exit', () => {
      this.#exited = true;
      this.#fail(
        this.#closed === undefined
          ? new HeraldError('BACKEND_UNAVAILABLE', `the sync thread of ${walPath} ended`)
          : new HeraldError('CLOSED', 'the log is closed'),
      );
    });
  }

  /**
   * Opens the WAL of `dbPath` (it exists once the database is in WAL mode and was written), syncs
   * it and its folder once, so whatever earlier processes left unsynced is durable too, and
   * starts the sync thread.
   */
  static async open(dbPath: string): Promise<WalSync> {
    const walPath = `${dbPath}-wal`;
    let handle: FileHandle;
    try {
      handle = await open(walPath, 'r+');
    } catch (error) {
      throw new HeraldError('BACKEND_UNAVAILABLE', `cannot open the write-ahead log ${walPath}`, {
        cause: error,
      });
    }
    try {
      await handle.datasync();
      const folder = await open(dirname(walPath), 'r');
      try {
        await folder.sync();
      } finally {
        await folder.close();
      }
    } catch (error) {
      throw new HeraldError('BACKEND_UNAVAILABLE', `cannot sync the write-ahead log ${walPath}`, {
        cause: error,
      });
    } finally {
      await handle.close();
    }
    const shared = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
    // The worker module sits next to this one, with the same extension: .ts when Herald runs
    // from its sources, .js in the built package.
    const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const worker = new Worker(new URL(`./wal-sync-worker${extension}`, import.meta.url), {
      workerData: { walPath, shared },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('online', resolve);
        worker.once('error', reject);
      });
    } catch (error) {
      throw new HeraldError('BACKEND_UNAVAILABLE', `cannot start the sync thread of ${walPath}`, {
        cause: error,
      });
    }
    return new WalSync(walPath, worker, new Int32Array(shared));
  }

  /** fdatasync calls made so far (the benchmark reports them per order). */
  get syncs(): number {
    return Atomics.load(this.#state, SYNCS);
  }

  /** Resolves once everything written to the WAL before this call is on stable storage. */
  sync(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const request = Atomics.add(this.#state, REQUESTED, 1) + 1;
    Atomics.notify(this.#state, REQUESTED);
    const done = new Promise<void>((resolve, reject) => {
      // A pending Atomics.waitAsync does not keep the process alive; the thread does, while waited for.
      if (this.#waiting.length === 0) this.#worker.ref();
      this.#waiting.push({ request, resolve, reject });
      this.#watch();
    });
    this.#outstanding.add(done);
    const forget = () => this.#outstanding.delete(done);
    void done.then(forget, forget);
    return done;
  }

  /**
   * Settles, synchronously, the waiters whose sync has finished (or failed). Cheap: one atomic
   * read when nobody waits for a newer sync.
   */
  poll(): void {
    if (this.#waiting.length === 0) return;
    if (Atomics.load(this.#state, FAILED) === 1 && this.#failure === undefined) {
      this.#fail(
        new HeraldError('BACKEND_UNAVAILABLE', `fdatasync of ${this.#walPath} failed; reopen the log`),
      );
      return;
    }
    const done = Atomics.load(this.#state, DONE);
    let settled = 0;
    while (settled < this.#waiting.length && atOrAfter(done, this.#waiting[settled]!.request)) settled++;
    if (settled === 0) return;
    for (const waiter of this.#waiting.splice(0, settled)) waiter.resolve();
    if (this.#waiting.length === 0) this.#worker.unref();
  }

  /**
   * Why nothing written from now on can be made durable (a failed fdatasync, the thread gone),
   * or undefined while syncs work. Reads the thread's shared state, so it knows at once.
   */
  failure(): HeraldError | undefined {
    if (this.#failure === undefined && Atomics.load(this.#state, FAILED) === 1) {
      this.#fail(
        new HeraldError('BACKEND_UNAVAILABLE', `fdatasync of ${this.#walPath} failed; reopen the log`),
      );
    }
    return this.#closed === undefined ? this.#failure : undefined;
  }

  /** Waits for the syncs asked for, then ends the thread. Later calls to `sync` are refused. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      await Promise.allSettled([...this.#outstanding]);
      this.#failure ??= new HeraldError('CLOSED', 'the log is closed');
      // A thread that already ended (a failed sync) has no exit left to wait for.
      if (this.#exited) return;
      // Keeps the process alive until the thread has closed its file.
      this.#worker.ref();
      const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
      // STOP, then a change of REQUESTED: a thread that has not gone to sleep yet sees the
      // change and does not sleep at all, so the wake-up cannot be lost.
      Atomics.store(this.#state, STOP, 1);
      Atomics.add(this.#state, REQUESTED, 1);
      Atomics.notify(this.#state, REQUESTED);
      await exited;
    })());
  }

  /** Wakes this thread's event loop when a sync finishes while someone waits. */
  #watch(): void {
    if (this.#watching || this.#failure !== undefined) return;
    this.#watching = true;
    const seen = Atomics.load(this.#state, DONE);
    this.poll();
    if (this.#waiting.length === 0) {
      this.#watching = false;
      return;
    }
    const wait = Atomics.waitAsync(this.#state, DONE, seen);
    const again = () => {
      this.#watching = false;
      this.poll();
      if (this.#waiting.length > 0) this.#watch();
    };
    if (wait.async) void wait.value.then(again);
    else queueMicrotask(again);
  }

  #fail(error: HeraldError): void {
    this.#failure ??= error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failure);
    this.#worker.unref();
  }
}
