import type { DatabaseSync, StatementSync } from 'node:sqlite';

type Listener = () => void;

/** Wakes in-process listeners of one database file at once when any connection here commits. */
const localListeners = new Map<string, Set<Listener>>();

/** Tells every listener of `path` in this process that something was committed. */
export function notifyLocalCommit(path: string): void {
  for (const listener of localListeners.get(path) ?? []) listener();
}

/**
 * Tells a connection's waiters that the database changed: at once for commits made in this
 * process (they call `notifyLocalCommit`), and within `pollIntervalMs` for commits made by other
 * processes, which it sees through `PRAGMA data_version` (a read of shared memory, no disk I/O).
 * It polls only while someone is waiting.
 */
export class ChangeNotifier {
  readonly #path: string;
  readonly #dataVersion: StatementSync;
  readonly #pollIntervalMs: number;
  readonly #waiters = new Set<Listener>();
  #lastVersion: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #onLocal: Listener = () => this.#wakeAll();

  constructor(db: DatabaseSync, path: string, pollIntervalMs: number) {
    this.#path = path;
    this.#pollIntervalMs = pollIntervalMs;
    this.#dataVersion = db.prepare('PRAGMA data_version');
    this.#lastVersion = this.#readVersion();
    let listeners = localListeners.get(path);
    if (listeners === undefined) localListeners.set(path, (listeners = new Set()));
    listeners.add(this.#onLocal);
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
    localListeners.get(this.#path)?.delete(this.#onLocal);
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
      this.#wakeAll();
    }
  }

  #wakeAll(): void {
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
