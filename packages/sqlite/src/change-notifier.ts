import type { DatabaseSync, StatementSync } from 'node:sqlite';

type Listener = () => void;

/** The change listeners of every open log instance of one database file in this process. */
const localListeners = new Map<string, Set<Listener>>();

/**
 * Tells the other log instances of `path` in this process that something was committed (tests
 * and tools open one file several times in one process). `from` is the caller's own listener.
 */
export function notifyLocalCommit(path: string, from?: ChangeNotifier): void {
  for (const listener of localListeners.get(path) ?? []) if (listener !== from?.onForeignChange) listener();
}

/**
 * Watches a database file for commits made elsewhere — by other processes, seen through
 * `PRAGMA data_version` (a read of shared memory, no disk I/O) within `pollIntervalMs`, and by
 * other log instances of this process at once — and calls `onChange` for them; the log then
 * reads the partitions' heads. It polls only while someone waits. `wakeAll` wakes the waiters
 * (the log calls it when events became deliverable).
 */
export class ChangeNotifier {
  readonly #path: string;
  readonly #dataVersion: StatementSync;
  readonly #pollIntervalMs: number;
  readonly #onChange: () => void;
  readonly #waiters = new Set<Listener>();
  #lastVersion: number;
  #timer: NodeJS.Timeout | undefined;
  readonly onForeignChange: Listener = () => this.#onChange();

  constructor(db: DatabaseSync, path: string, pollIntervalMs: number, onChange: () => void) {
    this.#path = path;
    this.#pollIntervalMs = pollIntervalMs;
    this.#onChange = onChange;
    this.#dataVersion = db.prepare('PRAGMA data_version');
    this.#lastVersion = this.#readVersion();
    let listeners = localListeners.get(path);
    if (listeners === undefined) localListeners.set(path, (listeners = new Set()));
    listeners.add(this.onForeignChange);
  }

  /** Calls `listener` once, at the next change. Returns a function that cancels it. */
  once(listener: Listener): () => void {
    this.#waiters.add(listener);
    this.#timer ??= setInterval(() => this.#poll(), this.#pollIntervalMs);
    return () => {
      this.#waiters.delete(listener);
      this.#stopIfIdle();
    };
  }

  close(): void {
    localListeners.get(this.#path)?.delete(this.onForeignChange);
    if (localListeners.get(this.#path)?.size === 0) localListeners.delete(this.#path);
    this.#waiters.clear();
    this.#stopIfIdle();
  }

  #readVersion(): number {
    const row = this.#dataVersion.get() as { data_version: number } | undefined;
    return row?.data_version ?? 0;
  }

  #poll(): void {
    let version: number;
    try {
      version = this.#readVersion();
    } catch {
      return;
    }
    if (version !== this.#lastVersion) {
      this.#lastVersion = version;
      this.#onChange();
    }
  }

  /** Wakes every waiter once. */
  wakeAll(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    this.#stopIfIdle();
    for (const waiter of waiters) waiter();
  }

  #stopIfIdle(): void {
    if (this.#waiters.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
