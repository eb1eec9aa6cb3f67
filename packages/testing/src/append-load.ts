import type { EventLog, StoredEvent } from '@herald/core';
import { isHeraldError } from '@herald/core';
import { makeEvent, sleep } from './fixtures.ts';

/** Where an acknowledged append landed. */
export interface AckedAppend {
  readonly partition: number;
  readonly offset: number;
  /** Which appender made it, and its place in that appender's sequence. */
  readonly appender: number;
  readonly sequence: number;
}

/** What a fresh read of the log says about the appends an {@link AppendLoad} made. */
export interface AppendLedgerCheck {
  /** Acknowledged ids absent from the log, or present at another partition or offset. */
  readonly lost: readonly string[];
  /** Ids present more than once in the log (acknowledged or not). */
  readonly duplicated: readonly string[];
  /**
   * Acknowledged appends of one appender to one partition whose offsets do not grow in the
   * order the appender made them (each appender awaits each append before the next).
   */
  readonly reordered: readonly string[];
  /** Appends that failed with an error and are in the log once (written, the answer lost). */
  readonly failedPresent: number;
  /** Appends that failed with an error and are not in the log. */
  readonly failedAbsent: number;
  /** Events in the log this load did not make at all. */
  readonly foreign: number;
}

export interface AppendLoadOptions {
  /** How many appenders run at once, each awaiting its append before the next. Default 4. */
  readonly appenders?: number;
  /** Partition keys cycle through this many keys. Default 16. */
  readonly keys?: number;
  /** The id prefix of this load's events (`<prefix><appender>-<sequence>`). Default `load-`. */
  readonly idPrefix?: string;
}

/**
 * Appenders that append to one topic without pause until stopped, keeping a ledger of every
 * append acknowledged to them (id → partition and offset) and of every append that failed.
 * A fault run checks the ledger against a fresh read of the log with {@link AppendLoad.check}:
 * an acknowledged append must be in the log exactly once, where its acknowledgement said; a
 * failed one (not acknowledged) may be absent or present once. Every append has a new id: a
 * failed append is not retried, so a present failed append is never mistaken for a duplicate.
 *
 * @example
 * const load = new AppendLoad(log, 'orders');
 * load.start();
 * // ... faults ...
 * await load.stop();
 * const check = load.check(await readAll(freshLog, 'orders'));
 */
export class AppendLoad {
  readonly acked = new Map<string, AckedAppend>();
  readonly failed = new Set<string>();
  /** Failures by error code (HeraldError code, else the error's name). */
  readonly failures = new Map<string, number>();
  readonly #log: EventLog;
  readonly #topic: string;
  readonly #appenders: number;
  readonly #keys: number;
  readonly #prefix: string;
  #running: Promise<void>[] = [];
  #stopped = false;

  constructor(log: EventLog, topic: string, options: AppendLoadOptions = {}) {
    this.#log = log;
    this.#topic = topic;
    this.#appenders = options.appenders ?? 4;
    this.#keys = options.keys ?? 16;
    this.#prefix = options.idPrefix ?? 'load-';
  }

  /** Acknowledged appends so far. */
  get ackedCount(): number {
    return this.acked.size;
  }

  /** Failed appends so far. */
  get failedCount(): number {
    return this.failed.size;
  }

  start(): void {
    this.#running = Array.from({ length: this.#appenders }, (_, appender) => this.#loop(appender));
  }

  /** Stops the appenders; resolves once every append in flight has settled. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
  }

  async #loop(appender: number): Promise<void> {
    for (let sequence = 0; !this.#stopped; sequence++) {
      const id = `${this.#prefix}${appender}-${sequence}`;
      const i = appender * 1_000_000 + sequence;
      try {
        const result = await this.#log.append(
          this.#topic,
          makeEvent(i, `key-${(appender + sequence) % this.#keys}`, { id }),
        );
        this.acked.set(id, { partition: result.partition, offset: result.offset, appender, sequence });
      } catch (error) {
        this.failed.add(id);
        const code = isHeraldError(error) ? error.code : error instanceof Error ? error.name : 'unknown';
        this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
        // The backend is away: give the event loop to the fault and the other appenders.
        await sleep(20);
      }
    }
  }

  /** Compares the ledger with every event of the topic, as a fresh reader read them. */
  check(events: readonly StoredEvent[]): AppendLedgerCheck {
    const seen = new Map<string, StoredEvent[]>();
    let foreign = 0;
    for (const event of events) {
      if (!event.id.startsWith(this.#prefix)) {
        foreign++;
        continue;
      }
      const copies = seen.get(event.id) ?? [];
      copies.push(event);
      seen.set(event.id, copies);
    }
    const lost: string[] = [];
    for (const [id, ack] of this.acked) {
      const copies = seen.get(id) ?? [];
      if (!copies.some((event) => event.partition === ack.partition && event.offset === ack.offset))
        lost.push(id);
    }
    const duplicated = [...seen].filter(([, copies]) => copies.length > 1).map(([id]) => id);
    let failedPresent = 0;
    for (const id of this.failed) if (seen.has(id)) failedPresent++;
    const reordered: string[] = [];
    const last = new Map<string, AckedAppend & { id: string }>();
    const inOrder = [...this.acked].sort(
      ([, a], [, b]) => a.appender - b.appender || a.sequence - b.sequence,
    );
    for (const [id, ack] of inOrder) {
      const key = `${ack.appender}/${ack.partition}`;
      const before = last.get(key);
      if (before !== undefined && before.offset >= ack.offset) reordered.push(`${before.id} before ${id}`);
      last.set(key, { ...ack, id });
    }
    return {
      lost,
      duplicated,
      reordered,
      failedPresent,
      failedAbsent: this.failed.size - failedPresent,
      foreign,
    };
  }

  /** One line for a fault run's report: acked, failed by code. */
  summary(): string {
    const codes = [...this.failures].map(([code, n]) => `${n} ${code}`).join(', ');
    return `${this.acked.size} appends acknowledged, ${this.failed.size} failed${codes === '' ? '' : ` (${codes})`}`;
  }
}
