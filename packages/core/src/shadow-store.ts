// The store a shadow run hands to the handlers it runs: a copy-on-write overlay over a real
// store's committed documents (or over nothing). Reads see the overlay first, then the real
// store; writes, deletes, inbox entries and failure records stay in the overlay, in memory, and
// are never written through. Emitted events are recorded, never appended.
import type { CloudEvent } from './envelope.ts';
import type { AppendOptions, AppendResult } from './event-log.ts';
import type {
  DeliveryKey,
  FailureRecord,
  InboxOutcome,
  InboxQuery,
  InboxStatus,
  Store,
  StoreTransaction,
} from './runtime/store.ts';
import { withTimers } from './runtime/timers.ts';

/** An event the shadowed handlers emitted (through a transaction or straight to the log). */
export interface RecordedEmit {
  readonly topic: string;
  readonly event: CloudEvent;
}

/** What the overlay holds for one document: its value, or `null` for a document deleted in the shadow. */
type Overlay = Map<string, Map<string, string | null>>;

/**
 * A Store that applies nothing: see the file comment. `base` is only read (`get`, `list`);
 * closing the shadow store does not close it. Transactions are serialised and atomic over the
 * overlay, as on the stores Herald ships: a throw leaves the overlay as it was and records no
 * emit.
 */
export class ShadowStore implements Store {
  readonly #base: Store | undefined;
  readonly #overlay: Overlay = new Map();
  readonly #inbox = new Map<string, string>();
  readonly #failures = new Map<string, FailureRecord>();
  readonly #onEmit: (emit: RecordedEmit) => void;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(base: Store | undefined, onEmit: (emit: RecordedEmit) => void) {
    this.#base = base;
    this.#onEmit = onEmit;
  }

  /** Every document the shadow wrote or deleted, by collection: its final value or `null` (deleted). */
  writes(): Map<string, Map<string, unknown>> {
    const out = new Map<string, Map<string, unknown>>();
    for (const [collection, docs] of this.#overlay) {
      out.set(
        collection,
        new Map([...docs].map(([id, text]) => [id, text === null ? null : (JSON.parse(text) as unknown)])),
      );
    }
    return out;
  }

  transaction<T>(fn: (tx: StoreTransaction) => Promise<T> | T): Promise<T> {
    const run = async (): Promise<T> => {
      const draft: Overlay = new Map();
      const inbox = new Map<string, string>();
      const emits: RecordedEmit[] = [];
      // Timers are documents too: a shadowed handler's schedule stays in the overlay.
      const tx: StoreTransaction = withTimers({
        emit: async (
          topic: string,
          event: CloudEvent,
          _options?: AppendOptions,
        ): Promise<AppendResult | undefined> => {
          emits.push({ topic, event });
          return undefined;
        },
        get: <V>(collection: string, id: string) => this.#get<V>(collection, id, draft),
        put: async (collection, id, value) => {
          layer(draft, collection).set(id, JSON.stringify(value));
        },
        delete: async (collection, id) => {
          const existed = (await this.#get(collection, id, draft)) !== undefined;
          layer(draft, collection).set(id, null);
          return existed;
        },
        list: <V>(collection: string, options?: { readonly prefix?: string; readonly limit?: number }) =>
          this.#list<V>(collection, options, draft),
        recordHandled: async (group, eventId, fingerprint): Promise<InboxOutcome> => {
          const key = `${group}\0${eventId}`;
          const seen = inbox.get(key) ?? this.#inbox.get(key);
          if (seen !== undefined) return seen === fingerprint ? 'duplicate' : 'conflict';
          inbox.set(key, fingerprint);
          return 'first';
        },
      });
      const result = await fn(tx);
      for (const [collection, docs] of draft) {
        const target = layer(this.#overlay, collection);
        for (const [id, text] of docs) target.set(id, text);
      }
      for (const [key, fingerprint] of inbox) this.#inbox.set(key, fingerprint);
      for (const emit of emits) this.#onEmit(emit);
      return result;
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  get<T = unknown>(collection: string, id: string): Promise<T | undefined> {
    return this.#get<T>(collection, id);
  }

  list<T = unknown>(
    collection: string,
    options?: { readonly prefix?: string; readonly limit?: number },
  ): Promise<{ id: string; value: T }[]> {
    return this.#list<T>(collection, options);
  }

  /**
   * The shadow's own inbox, which starts empty: every event of the window is new to the shadow,
   * whatever the running version's inbox says (else idempotency would skip them all).
   */
  async inboxStatus(group: string, eventId: string, fingerprint: string): Promise<InboxStatus> {
    const seen = this.#inbox.get(`${group}\0${eventId}`);
    if (seen === undefined) return 'unseen';
    return seen === fingerprint ? 'duplicate' : 'conflict';
  }

  async inboxStatuses(group: string, entries: readonly InboxQuery[]): Promise<InboxStatus[]> {
    return Promise.all(entries.map((e) => this.inboxStatus(group, e.eventId, e.fingerprint)));
  }

  async recordFailure(key: DeliveryKey, error: string): Promise<FailureRecord> {
    const id = failureId(key);
    const now = Date.now();
    const previous = this.#failures.get(id);
    const record: FailureRecord = {
      attempts: (previous?.attempts ?? 0) + 1,
      firstFailureAt: previous?.firstFailureAt ?? now,
      lastFailureAt: now,
      lastError: error,
    };
    this.#failures.set(id, record);
    return record;
  }

  async failures(key: DeliveryKey): Promise<FailureRecord | undefined> {
    return this.#failures.get(failureId(key));
  }

  async clearFailures(key: DeliveryKey): Promise<void> {
    this.#failures.delete(failureId(key));
  }

  /** Leaves the base store open: it belongs to the caller. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {}

  async #get<T>(collection: string, id: string, draft?: Overlay): Promise<T | undefined> {
    for (const overlay of draft === undefined ? [this.#overlay] : [draft, this.#overlay]) {
      const text = overlay.get(collection)?.get(id);
      if (text === null) return undefined;
      if (text !== undefined) return JSON.parse(text) as T;
    }
    return this.#base?.get<T>(collection, id);
  }

  async #list<T>(
    collection: string,
    options: { readonly prefix?: string; readonly limit?: number } = {},
    draft?: Overlay,
  ): Promise<{ id: string; value: T }[]> {
    const prefix = options.prefix;
    const merged = new Map<string, string | null>();
    const base = (await this.#base?.list<T>(collection, prefix === undefined ? {} : { prefix })) ?? [];
    for (const { id, value } of base) merged.set(id, JSON.stringify(value));
    for (const overlay of draft === undefined ? [this.#overlay] : [this.#overlay, draft]) {
      for (const [id, text] of overlay.get(collection) ?? []) {
        if (prefix === undefined || id.startsWith(prefix)) merged.set(id, text);
      }
    }
    return [...merged]
      .filter((entry): entry is [string, string] => entry[1] !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, options.limit ?? Infinity)
      .map(([id, text]) => ({ id, value: JSON.parse(text) as T }));
  }
}

function layer(overlay: Overlay, collection: string): Map<string, string | null> {
  let docs = overlay.get(collection);
  if (docs === undefined) overlay.set(collection, (docs = new Map<string, string | null>()));
  return docs;
}

const failureId = (key: DeliveryKey) => `${key.group}/${key.topic}/${key.partition}/${key.offset}`;
