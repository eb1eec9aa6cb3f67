import { setTimeout as sleep } from 'node:timers/promises';
import type { Notification, Pool, PoolClient } from 'pg';
import {
  type AppendResult,
  type CloudEvent,
  type EventLog,
  HeraldError,
  type Publish,
  type PublishMiddleware,
  eventFromAttributes,
  isHeraldError,
} from '@herald/core';
import { type PostgresStore, prepared, relayAccess } from './postgres-store.ts';
import { toHeraldError } from './postgres-errors.ts';
import { type SchemaNames, createTables, schemaNames } from './schema.ts';

interface RelayTuning {
  /** The log the outbox is published to: Kafka, NATS, the embedded SQLite log, memory. */
  readonly log: EventLog;
  /** Aborting it stops the relay gracefully, as `stop()` does. */
  readonly signal?: AbortSignal;
  /** Outbox rows read and published per round. Default 100. */
  readonly batchSize?: number;
  /**
   * How often the relay looks at the outbox when no notification woke it, and how often a
   * standby relay tries to become the active one. Default 1000 ms. Commits normally wake the
   * relay at once through LISTEN/NOTIFY; polling covers a lost notification or connection.
   */
  readonly pollIntervalMs?: number;
  /**
   * Called for every failure the relay recovers from by retrying (the log refused or could not
   * be reached, the connection to Postgres dropped). Default: a line on stderr.
   */
  readonly onError?: (error: HeraldError) => void;
  /**
   * Wraps every append to the log, outermost first, as a producer's publish middleware (each gets
   * the log as its sink): `tracingPublish()` for a `send` span per append, `publishMetrics()` for
   * the producer metrics. An event keeps the trace context it was stored with. Default none.
   */
  readonly middleware?: readonly PublishMiddleware[];
}

/**
 * Which outbox to relay: a store's, or the one in `schema` (default `herald`) reached through
 * `pool` (tables are created when missing). Either way the relay keeps one pooled connection for
 * as long as it runs (LISTEN and the relay lock live on it).
 */
export type OutboxRelayOptions = RelayTuning &
  (
    | { readonly store: PostgresStore; readonly pool?: never; readonly schema?: never }
    | { readonly pool: Pool; readonly schema?: string; readonly store?: never }
  );

/** A running relay. `await using relay = startOutboxRelay(…)` stops it at the end of the scope. */
export interface OutboxRelay extends AsyncDisposable {
  /**
   * `standby` while another relay holds this outbox (or while reconnecting), `leading` while
   * this one publishes, `stopped` after `stop()`.
   */
  readonly state: 'standby' | 'leading' | 'stopped';
  /** Outbox rows this relay published and removed (re-publications after a crash count again). */
  readonly published: number;
  /**
   * Stops gracefully: a batch being appended is finished and removed from the outbox, then the
   * relay's connection (and with it the relay lock) is released. Resolves when it has.
   */
  stop(): Promise<void>;
}

interface OutboxRow {
  readonly id: string;
  readonly topic: string;
  readonly partition: number | null;
  readonly attributes: Record<string, string>;
  readonly data: Buffer | null;
}

/** Events appended with one `appendBatch` call stay under this many bytes (brokers cap requests). */
const MAX_APPEND_BYTES = 512 * 1024;

/** Full jitter, doubling from 100 ms, capped at 5 s. */
function backoffMs(failures: number): number {
  return 50 + Math.random() * Math.min(5000, 100 * 2 ** failures);
}

/** A wait that a notification (or stop) ends early; a wake-up that came first is not lost. */
class Wakeup {
  #pending = false;
  #resolve: (() => void) | undefined;

  wake(): void {
    this.#pending = true;
    this.#resolve?.();
  }

  /** Forgets wake-ups so far: called right before looking at the outbox. */
  reset(): void {
    this.#pending = false;
  }

  async wait(ms: number): Promise<void> {
    if (!this.#pending) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#resolve = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.#resolve = done;
      });
    }
    this.#pending = false;
  }
}

class Relay implements OutboxRelay {
  readonly #pool: Pool;
  readonly #names: SchemaNames;
  readonly #createTables: boolean;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #onError: (error: HeraldError) => void;
  /** Appends through the middleware; a single row keeps the partition it was emitted to. */
  readonly #publish: Publish;
  /** The partition of the single row being appended, when it was emitted to one. */
  #partition: number | undefined;
  readonly #stopping = new AbortController();
  readonly #wakeup = new Wakeup();
  readonly #done: Promise<void>;
  #state: 'standby' | 'leading' | 'stopped' = 'standby';
  #published = 0;
  /** Set when the relay's connection reports an error while no query was running. */
  #connectionLost: Error | undefined;

  constructor(options: OutboxRelayOptions) {
    const batchSize = options.batchSize ?? 100;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new HeraldError('INVALID_ARGUMENT', 'batchSize must be a positive integer');
    }
    const pollIntervalMs = options.pollIntervalMs ?? 1000;
    if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 1) {
      throw new HeraldError('INVALID_ARGUMENT', 'pollIntervalMs must be a positive number');
    }
    if (options.store !== undefined) {
      const access = options.store[relayAccess];
      this.#pool = access.pool;
      this.#names = access.names;
      this.#createTables = false;
    } else if (options.pool !== undefined) {
      this.#pool = options.pool;
      this.#names = schemaNames(options.schema);
      this.#createTables = true;
    } else {
      throw new HeraldError('INVALID_ARGUMENT', 'startOutboxRelay needs a store or a pool');
    }
    const log = options.log;
    const append: Publish = async (topic, events): Promise<readonly AppendResult[]> =>
      events.length === 1
        ? [
            await log.append(
              topic,
              events[0]!,
              this.#partition === undefined ? undefined : { partition: this.#partition },
            ),
          ]
        : log.appendBatch(topic, events);
    this.#publish = (options.middleware ?? []).reduceRight<Publish>(
      (next, outer) => outer(next, log),
      append,
    );
    this.#batchSize = batchSize;
    this.#pollIntervalMs = pollIntervalMs;
    this.#onError =
      options.onError ??
      ((error) => console.warn(`herald outbox relay (schema ${this.#names.schema}): ${error.message}`));
    const signal = options.signal;
    if (signal?.aborted === true) this.#stopping.abort();
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.#done = this.#run();
  }

  get state() {
    return this.#state;
  }

  get published() {
    return this.#published;
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#wakeup.wake();
    await this.#done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #report(error: unknown, doing: string): void {
    const herald = isHeraldError(error) ? error : toHeraldError(error, doing);
    try {
      this.#onError(herald);
    } catch {
      // A failing error hook must not stop the relay.
    }
  }

  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stopping.signal }).catch(() => undefined);
  }

  async #run(): Promise<void> {
    let failures = 0;
    let tablesReady = !this.#createTables;
    while (!this.#stopping.signal.aborted) {
      let client: PoolClient | undefined;
      try {
        if (!tablesReady) {
          await createTables(this.#pool, this.#names);
          tablesReady = true;
        }
        this.#connectionLost = undefined;
        client = await this.#pool.connect();
        client.on('error', (error) => {
          this.#connectionLost = error;
          this.#wakeup.wake();
        });
        client.on('notification', (message: Notification) => {
          if (message.channel === this.#names.channel) this.#wakeup.wake();
        });
        await client.query(`LISTEN "${this.#names.channel}"`);
        if (!(await this.#acquire(client))) break;
        this.#state = 'leading';
        failures = 0;
        await this.#lead(client);
      } catch (error) {
        if (this.#stopping.signal.aborted) break;
        failures++;
        this.#report(error, 'relaying the outbox');
        await this.#pause(backoffMs(failures));
      } finally {
        if (this.#state === 'leading') this.#state = 'standby';
        // Destroyed, not returned to the pool: closing the session releases the relay lock and
        // the LISTEN with certainty.
        client?.release(true);
      }
    }
    this.#state = 'stopped';
  }

  /**
   * Waits for the relay lock, a session-level advisory lock: one active relay per outbox keeps
   * commit order in the log. A relay that dies loses its session, and the lock with it.
   * Resolves false when stopped first.
   */
  async #acquire(client: PoolClient): Promise<boolean> {
    while (!this.#stopping.signal.aborted) {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [this.#names.relayLock],
      );
      if (rows[0]?.locked === true) return true;
      this.#state = 'standby';
      await this.#pause(this.#pollIntervalMs);
      if (this.#connectionLost !== undefined) throw this.#connectionLost;
    }
    return false;
  }

  /**
   * Publishes the outbox oldest first. Ids follow commit order (the store inserts under a lock
   * at commit), so the lowest remaining id is always the next event in commit order and no row
   * can appear later below it. Rows are deleted only after the log acknowledged them: a crash
   * in between publishes them again, with the same event ids (at-least-once).
   */
  async #lead(client: PoolClient): Promise<void> {
    const { outbox } = this.#names;
    let logFailures = 0;
    while (!this.#stopping.signal.aborted) {
      this.#wakeup.reset();
      if (this.#connectionLost !== undefined) throw this.#connectionLost;
      const { rows } = await client.query<OutboxRow>(
        prepared(`SELECT id, topic, partition, attributes, data FROM ${outbox} ORDER BY id LIMIT $1`, [
          this.#batchSize,
        ]),
      );
      if (rows.length === 0) {
        await this.#wakeup.wait(this.#pollIntervalMs);
        continue;
      }
      let appended = 0;
      let failure: unknown;
      try {
        for (const run of appendRuns(rows)) {
          await this.#append(run);
          appended += run.length;
        }
      } catch (error) {
        failure = error;
      }
      if (appended > 0) {
        await client.query(
          prepared(`DELETE FROM ${outbox} WHERE id = ANY($1::bigint[])`, [
            rows.slice(0, appended).map((row) => row.id),
          ]),
        );
        this.#published += appended;
      }
      if (failure !== undefined) {
        logFailures++;
        const error = isHeraldError(failure)
          ? failure
          : new HeraldError(
              'BACKEND_UNAVAILABLE',
              `the log refused an outbox event: ${failure instanceof Error ? failure.message : JSON.stringify(failure)}`,
              {
                cause: failure,
              },
            );
        this.#report(error, 'publishing the outbox');
        // The failed row stays first in line: nothing after it is published before it.
        await this.#pause(backoffMs(logFailures));
      } else {
        logFailures = 0;
        // A short page was everything committed when the read began; a commit since has
        // notified (the wake-up was reset before the read), and the wait ends at once then.
        // No read that finds nothing after each publish.
        if (rows.length < this.#batchSize) await this.#wakeup.wait(this.#pollIntervalMs);
      }
    }
  }

  async #append(run: readonly OutboxRow[]): Promise<void> {
    const first = run[0]!;
    // One append at a time: the relay publishes runs in order, so the partition cannot mix.
    this.#partition = run.length === 1 && first.partition !== null ? first.partition : undefined;
    try {
      await this.#publish(first.topic, run.map(toEvent));
    } finally {
      this.#partition = undefined;
    }
  }
}

function toEvent(row: OutboxRow): CloudEvent {
  const data =
    row.data === null ? undefined : new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.length);
  return eventFromAttributes(row.attributes, data);
}

function rowBytes(row: OutboxRow): number {
  return (row.data?.length ?? 0) + 256;
}

/**
 * Splits rows (in commit order) into consecutive runs that one append call can take: the same
 * topic, no explicit partition, bounded in size. Appending the runs one after another keeps
 * commit order across topics.
 */
function* appendRuns(rows: readonly OutboxRow[]): Generator<OutboxRow[]> {
  let run: OutboxRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const last = run[run.length - 1];
    const joins =
      last !== undefined &&
      last.partition === null &&
      row.partition === null &&
      last.topic === row.topic &&
      bytes + rowBytes(row) <= MAX_APPEND_BYTES;
    if (!joins && run.length > 0) {
      yield run;
      run = [];
      bytes = 0;
    }
    run.push(row);
    bytes += rowBytes(row);
  }
  if (run.length > 0) yield run;
}

/**
 * Starts publishing a Postgres outbox to a log, in commit order, and returns at once.
 *
 * Delivery is at-least-once: a row is deleted after the log acknowledged it, so a relay that
 * crashes in between publishes it again with the same event id (the consumers' `idempotency()`
 * makes that one effect). Only one relay per outbox is active: others wait as standbys and take
 * over when its session ends. A commit wakes the relay through LISTEN/NOTIFY; `pollIntervalMs`
 * is the fallback. Failures are reported to `onError` and retried with backoff; an event the log
 * refuses stays at the head of the outbox until it is accepted (nothing is skipped).
 *
 * @example
 * const store = await openPostgresStore({ connectionString });
 * const log = await openKafkaLog({ brokers: ['kafka:9092'] });
 * await using relay = startOutboxRelay({ store, log });
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  return new Relay(options);
}
