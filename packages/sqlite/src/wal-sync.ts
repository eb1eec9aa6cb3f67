import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HeraldError } from '@herald/core';

/**
 * Makes the write-ahead log durable without blocking the event loop. The writer connection runs
 * with `synchronous = NORMAL`, so a COMMIT only writes the WAL (no fsync, microseconds); this
 * class then `fdatasync`s the WAL file on libuv's thread pool. A commit counts as durable once a
 * sync that *started after* its COMMIT returned has finished: the fdatasync flushes every byte
 * written to the file before it, by this process or any other.
 *
 * Syncs are coalesced: while one is in flight, every caller waits for the single next one, so
 * under load one fdatasync covers every transaction committed meanwhile (group commit across the
 * whole process, without holding the write lock during the fsync).
 *
 * SQLite's own checkpoints still sync the WAL before copying it into the database file (that is
 * what NORMAL keeps), so the order "WAL durable, then database written" holds as with FULL.
 *
 * A failed fdatasync is fatal: the kernel may have dropped the dirty pages it could not write,
 * so a later successful sync would not prove anything. Every waiter and every later call gets
 * BACKEND_UNAVAILABLE, and the log must be reopened.
 */
export class WalSync {
  readonly #walPath: string;
  #handle: FileHandle | undefined;
  #inFlight: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #failure: HeraldError | undefined;
  #syncs = 0;

  private constructor(walPath: string, handle: FileHandle) {
    this.#walPath = walPath;
    this.#handle = handle;
  }

  /**
   * Opens the WAL of `dbPath` (it exists once the database is in WAL mode and was written) and
   * syncs it and its folder once, so whatever earlier processes left unsynced is durable too.
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
    const sync = new WalSync(walPath, handle);
    try {
      await handle.datasync();
      const folder = await open(dirname(walPath), 'r');
      try {
        await folder.sync();
      } finally {
        await folder.close();
      }
    } catch (error) {
      await handle.close();
      throw new HeraldError('BACKEND_UNAVAILABLE', `cannot sync the write-ahead log ${walPath}`, {
        cause: error,
      });
    }
    return sync;
  }

  /** fdatasync calls made so far (the benchmark reports them per order). */
  get syncs(): number {
    return this.#syncs;
  }

  /** Resolves once everything written to the WAL before this call is on stable storage. */
  sync(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#inFlight === undefined) return this.#start();
    // The sync in flight may have started before the caller's COMMIT: wait for the next one.
    this.#next ??= this.#inFlight.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#next;
  }

  /** Waits for syncs in flight, then closes the file. Later calls to `sync` are refused. */
  async close(): Promise<void> {
    const handle = this.#handle;
    if (handle === undefined) return;
    await Promise.allSettled([this.#inFlight, this.#next]);
    this.#handle = undefined;
    this.#failure ??= new HeraldError('CLOSED', 'the log is closed');
    await handle.close();
  }

  #startNext(): Promise<void> {
    this.#next = undefined;
    return this.#start();
  }

  #start(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const handle = this.#handle;
    if (handle === undefined) return Promise.reject(new HeraldError('CLOSED', 'the log is closed'));
    this.#syncs++;
    const run = handle.datasync().then(
      () => {
        this.#inFlight = undefined;
      },
      (error: unknown) => {
        this.#inFlight = undefined;
        this.#failure = new HeraldError(
          'BACKEND_UNAVAILABLE',
          `fdatasync of ${this.#walPath} failed; writes since the last sync may be lost, reopen the log`,
          { cause: error },
        );
        throw this.#failure;
      },
    );
    this.#inFlight = run;
    return run;
  }
}
