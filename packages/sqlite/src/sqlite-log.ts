import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  type AppendOptions,
  type AppendResult,
  type CloudEvent,
  type CreateTopicOptions,
  type EventLog,
  type GroupDescription,
  type GroupResetPlan,
  type ResetGroupOptions,
  type LogCapabilities,
  type ReadOptions,
  type ReadPosition,
  type StoredEvent,
  type SubscribeOptions,
  type Subscription,
  type TopicDescription,
  type TopicInfo,
  HeraldError,
  assertValidEnvelope,
  redactUrl,
} from '@herald/core';
import {
  type FaultInjectable,
  PartitionChooser,
  assertRecordSize,
  assertTopicName,
  checkCollection,
  checkCommitOffset,
  checkPartition,
  checkPartitionCount,
  checkReadOptions,
  checkRetention,
  checkStartPosition,
  encodeDocument,
  faultHooksFor,
  faultInjection,
  subscribeSettings,
  telemetryOf,
} from '@herald/core/backend';
import { ChangeNotifier, notifyLocalCommit } from './change-notifier.ts';
import {
  EVENT_ATTRIBUTE_COLUMNS,
  type EventRow,
  decodeEventRow,
  encodeEventRow,
  recordChecksum,
  verifyEventRow,
} from './event-row.ts';
import { checkIntegrity, type IntegrityCheck } from './integrity.ts';
import { DurableHeadsRecord } from './durable-heads.ts';
import { DOCUMENTS_TABLE_DDL, SCHEMA_DDL, SCHEMA_UPGRADES, SCHEMA_VERSION } from './schema.ts';
import type { SqliteLogInternals, TopicRow } from './sqlite-log-internals.ts';
import { SqliteSubscription, describeGroup, listGroups } from './sqlite-subscription.ts';
import { toHeraldError } from './sqlite-errors.ts';
import { Checkpointer } from './checkpointer.ts';
import { PartitionTails, WindowEntry } from './partition-tails.ts';
import { WalSync } from './wal-sync.ts';
import { beginWhenFree, type CommitHooks, WriteQueue } from './write-queue.ts';

/** @internal Package-private access for the store (not exported from the package). */
export const transactWithLog = Symbol('herald.sqlite.transact');
export const readerConnection = Symbol('herald.sqlite.reader');

export interface SqliteLogOptions {
  /** The database file; created with its folder when missing. */
  readonly path: string;
  /**
   * `full` (default): an acknowledged write survives power loss, if the disk honours fsync, and
   * subscriptions deliver only such writes. The fsync runs off the event loop and is shared by
   * every transaction committed meanwhile (see `wal-sync.ts`).
   * `normal`: no fsync per commit; survives process crashes, but a power loss may roll back a
   * suffix of recent acknowledgements (never a hole, never corruption).
   */
  readonly synchronous?: 'full' | 'normal';
  /**
   * How long a write waits for another process's write lock before failing. Default 5000 ms.
   * The wait never blocks the event loop: the write queue retries from a timer.
   */
  readonly busyTimeoutMs?: number;
  /** How often a waiting reader looks for commits made by other processes. Default 5 ms. */
  readonly pollIntervalMs?: number;
  /**
   * Check run on open. `quick` (default): SQLite's quick_check, Herald's own checks of every
   * partition's bounds, and the durable-heads record (`<path>-heads`: a log shorter than what
   * it acknowledged durable is refused); `full`: integrity_check, a dense-offset count per
   * partition and every event's checksum, then the same record; `off`: none, which is how a log
   * known to have lost its end is opened anyway. A failed check throws CORRUPT_LOG and the file
   * is not served. Whatever the check, every event read from the file is verified against its
   * checksum (ADR 0024).
   */
  readonly integrityCheck?: IntegrityCheck;
  /** How often retention runs in the background. Default 60 000 ms; 0 disables the timer. */
  readonly retentionIntervalMs?: number;
  /** Largest record (attributes + data) accepted. Default 1 MiB. */
  readonly maxRecordBytes?: number;
  /** Shown in consumer group descriptions. Default `<host>:<pid>`. */
  readonly clientId?: string;
}

/** Recent events kept decoded per partition for the in-process subscriptions (see PartitionTails). */
const TAIL_WINDOW = 512;

/** Heartbeats wait for the file's write lock; shorter sessions would expire under ordinary contention. */
const MIN_SESSION_TIMEOUT_MS = 30;

interface EncodedEvent {
  readonly partition: number;
  readonly row: EventRow;
}

/**
 * The embedded log: topics, partitions and consumer groups in one SQLite file (WAL mode).
 * Several processes on one host can open the same file; their appends are serialised by
 * SQLite's write lock and their consumer groups coordinate through tables (see
 * `sqlite-subscription.ts`).
 *
 * Durability: a write resolves once the transaction holding it is durable. Every write of the
 * process queued meanwhile shares that transaction, and every transaction committed during one
 * fsync shares the next (group commit, off the event loop).
 *
 * Reading: the subscriptions of one instance share what it appends (decoded once, see
 * `partition-tails.ts`) and read the database only to catch up from further back.
 */
export class SqliteLog implements EventLog, FaultInjectable {
  readonly capabilities: LogCapabilities;
  readonly path: string;
  /** The writer connection: used only by the write queue, inside its transactions. */
  readonly #db: DatabaseSync;
  /** The reader connection: sees committed data only, never a write in progress. */
  readonly #reader: DatabaseSync;
  readonly #writes: WriteQueue;
  readonly #walSync: WalSync | undefined;
  #checkpointer: Checkpointer | undefined;
  readonly #tails = new PartitionTails(TAIL_WINDOW);
  /** Events the running write operation appended; they join the transaction's if it succeeds. */
  #operationEvents: { topicId: number; events: WindowEntry[] }[] = [];
  #transactionEvents: { topicId: number; events: WindowEntry[] }[] = [];
  readonly #notifier: ChangeNotifier;
  readonly #internals: SqliteLogInternals;
  readonly #topics = new Map<string, TopicRow>();
  readonly #subscriptions = new Set<SqliteSubscription>();
  readonly #statements: {
    readonly topicByName: StatementSync;
    readonly topicById: StatementSync;
    readonly partition: StatementSync;
    readonly head: StatementSync;
    readonly heads: StatementSync;
    readonly readFrom: StatementSync;
    readonly timestampAt: StatementSync;
    readonly insert: StatementSync;
    readonly advance: StatementSync;
  };
  readonly #maxRecordBytes: number;
  readonly #heads: DurableHeadsRecord;
  #retentionTimer: NodeJS.Timeout | undefined;
  readonly #chooser = new PartitionChooser();
  #closed = false;

  /** Use {@link openSqliteLog}. */
  constructor(
    db: DatabaseSync,
    reader: DatabaseSync,
    path: string,
    options: SqliteLogOptions,
    heads: DurableHeadsRecord,
    walSync?: WalSync,
    checkpointer?: Checkpointer,
  ) {
    this.#db = db;
    this.#heads = heads;
    this.#reader = reader;
    this.#walSync = walSync;
    this.#checkpointer = checkpointer;
    this.path = path;
    this.#maxRecordBytes = options.maxRecordBytes ?? 1024 * 1024;
    this.capabilities = {
      durable: true,
      multiProcess: true,
      timestampSeek: true,
      retention: true,
      maxRecordBytes: this.#maxRecordBytes,
      commitIntervalMs: 100,
      telemetry: telemetryOf('herald_sqlite'),
    };
    this.#writes = new WriteQueue(db, this.#commitHooks(), options.busyTimeoutMs ?? 5000);
    this.#notifier = new ChangeNotifier(reader, path, options.pollIntervalMs ?? 5, () =>
      this.#observeHeads(),
    );
    this.#statements = {
      topicByName: reader.prepare(
        'SELECT id, name, partitions, retention_ms, retention_bytes FROM herald_topics WHERE name = ?',
      ),
      topicById: reader.prepare(
        'SELECT id, name, partitions, retention_ms, retention_bytes FROM herald_topics WHERE id = ?',
      ),
      partition: reader.prepare(
        'SELECT next_offset, low_offset, last_timestamp FROM herald_partitions WHERE topic_id = ? AND partition = ?',
      ),
      head: db.prepare(
        'SELECT next_offset, last_timestamp FROM herald_partitions WHERE topic_id = ? AND partition = ?',
      ),
      heads: reader.prepare('SELECT topic_id, partition, next_offset FROM herald_partitions'),
      readFrom: reader.prepare(
        `SELECT offset, timestamp, ${EVENT_ATTRIBUTE_COLUMNS}, crc FROM herald_events
         WHERE topic_id = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?`,
      ),
      timestampAt: reader.prepare(
        'SELECT timestamp FROM herald_events WHERE topic_id = ? AND partition = ? AND offset = ?',
      ),
      insert: db.prepare(
        `INSERT INTO herald_events (topic_id, partition, offset, timestamp, ${EVENT_ATTRIBUTE_COLUMNS}, size, crc)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      advance: db.prepare(
        `UPDATE herald_partitions SET next_offset = ?, bytes = bytes + ?, last_timestamp = ?
         WHERE topic_id = ? AND partition = ?`,
      ),
    };
    this.#statements.readFrom.setReturnArrays(true);
    const clientId = options.clientId ?? `${process.env['HOSTNAME'] ?? 'localhost'}:${process.pid}`;
    this.#internals = {
      reader,
      path,
      writes: this.#writes,
      notifier: this.#notifier,
      clientId,
      topic: (name) => this.#topic(name),
      topicById: (id) => {
        const row = this.#statements.topicById.get(id) as TopicRow | undefined;
        if (row === undefined) throw new HeraldError('UNKNOWN_TOPIC', `no topic with id ${id}`);
        return row;
      },
      resolveStart: (topicId, partition, from) => this.#resolveStart(topicId, partition, from),
      durableHead: (topicId, partition) => this.#durableHead(topicId, partition),
      readEvents: (topic, partition, fromOffset, limit) =>
        this.#tails.read(topic.id, partition, fromOffset, limit) ??
        this.#readEvents(topic, partition, fromOffset, limit),
      afterCommit: () => notifyLocalCommit(path, this.#notifier),
    };
    // What the file holds at open is durable: WalSync.open synced it. (With `normal` that is not
    // known, so the durable-heads record waits for a close that checkpoints everything.)
    this.#tails.observe(this.#statements.heads.all() as unknown as HeadRow[]);
    this.#tails.durable(this.#tails.snapshot());
    if (walSync !== undefined) this.#recordDurableHeads();
    const interval = options.retentionIntervalMs ?? 60_000;
    if (interval > 0) {
      this.#retentionTimer = setInterval(() => {
        this.enforceRetention().catch(() => {
          // Retention retries at the next interval; a failing disk surfaces on appends.
        });
      }, interval);
      this.#retentionTimer.unref();
    }
  }

  async createTopic(name: string, options: CreateTopicOptions): Promise<TopicInfo> {
    this.#assertOpen();
    assertTopicName(name);
    const partitions = checkPartitionCount(options?.partitions);
    const retention = checkRetention(options.retention);
    await this.#writes.run((db) => {
      // On the writer connection: a topic created earlier in the same group-committed transaction
      // is not visible to the reader yet.
      if (db.prepare('SELECT 1 FROM herald_topics WHERE name = ?').get(name) !== undefined) {
        throw new HeraldError('TOPIC_EXISTS', `topic "${name}" already exists`);
      }
      const { lastInsertRowid } = db
        .prepare(
          'INSERT INTO herald_topics (name, partitions, retention_ms, retention_bytes, created_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(name, partitions, retention.ms ?? null, retention.bytes ?? null, Date.now());
      const insertPartition = db.prepare('INSERT INTO herald_partitions (topic_id, partition) VALUES (?, ?)');
      for (let p = 0; p < partitions; p++) insertPartition.run(lastInsertRowid, p);
    });
    return topicInfo(this.#topic(name));
  }

  async listTopics(): Promise<readonly TopicInfo[]> {
    this.#assertOpen();
    const rows = this.#reader
      .prepare('SELECT id, name, partitions, retention_ms, retention_bytes FROM herald_topics ORDER BY name')
      .all() as unknown as TopicRow[];
    return rows.map(topicInfo);
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.#assertOpen();
    const topic = this.#topic(name);
    const partitionInfo = (
      this.#reader
        .prepare(
          'SELECT partition, low_offset, next_offset FROM herald_partitions WHERE topic_id = ? ORDER BY partition',
        )
        .all(topic.id) as unknown as { partition: number; low_offset: number; next_offset: number }[]
    ).map((row) => ({ partition: row.partition, earliest: row.low_offset, latest: row.next_offset }));
    return { ...topicInfo(topic), partitionInfo };
  }

  async append(topic: string, event: CloudEvent, options: AppendOptions = {}): Promise<AppendResult> {
    const [result] = await this.#append(topic, [event], options.partition);
    return result!;
  }

  async appendBatch(topic: string, events: readonly CloudEvent[]): Promise<readonly AppendResult[]> {
    if (events.length === 0) {
      this.#assertOpen();
      this.#topic(topic);
      return [];
    }
    return this.#append(topic, events, undefined);
  }

  /**
   * Validates and encodes everything before queueing, so a batch with one bad event stores
   * nothing; the queued operation then only assigns offsets and inserts.
   */
  async #append(topic: string, events: readonly CloudEvent[], partition: number | undefined) {
    const [row, encoded] = this.#encode(topic, events, partition);
    return this.#writes.run(() => this.#insert(row, encoded));
  }

  /** Validates and encodes events for a topic; throws before anything is written. */
  #encode(
    topic: string,
    events: readonly CloudEvent[],
    partition: number | undefined,
  ): [TopicRow, EncodedEvent[]] {
    this.#assertOpen();
    const row = this.#topic(topic);
    if (partition !== undefined) checkPartition(topic, partition, row.partitions);
    const rows = events.map((event) => {
      assertValidEnvelope(event);
      const eventRow = encodeEventRow(event);
      assertRecordSize(event, eventRow.size, this.#maxRecordBytes, 'SQLite');
      return eventRow;
    });
    const encoded = events.map((event, i): EncodedEvent => ({
      partition: this.#chooser.choose(topic, row.partitions, event, partition),
      row: rows[i]!,
    }));
    return [row, encoded];
  }

  /**
   * @internal For `SqliteStore`: runs `fn` in one write transaction on the writer connection,
   * with an `append` that joins it — the store's outbox is the log itself. Subscribers are told
   * after the commit.
   */
  async [transactWithLog]<T>(
    fn: (
      db: DatabaseSync,
      append: (topic: string, event: CloudEvent, partition?: number) => AppendResult,
    ) => T | Promise<T>,
    urgent = false,
  ): Promise<T> {
    this.#assertOpen();
    return this.#writes.run(
      (db) =>
        fn(db, (topic, event, partition) => {
          const [row, encoded] = this.#encode(topic, [event], partition);
          return this.#insert(row, encoded)[0]!;
        }),
      urgent,
    );
  }

  /** @internal For `SqliteStore`: the reader connection (committed data only). */
  get [readerConnection](): DatabaseSync {
    this.#assertOpen();
    return this.#reader;
  }

  /** Runs inside the write transaction: assigns dense offsets and never-decreasing timestamps. */
  #insert(topic: TopicRow, events: readonly EncodedEvent[]): AppendResult[] {
    const { head: readPartition, insert, advance } = this.#statements;
    const heads = new Map<number, { next: number; bytes: number; timestamp: number }>();
    const now = Date.now();
    const results: AppendResult[] = [];
    const stored: WindowEntry[] = [];
    for (const event of events) {
      let head = heads.get(event.partition);
      if (head === undefined) {
        const current = readPartition.get(topic.id, event.partition) as
          { next_offset: number; last_timestamp: number } | undefined;
        if (current === undefined)
          throw new HeraldError('UNKNOWN_TOPIC', `topic "${topic.name}" was deleted`);
        head = { next: current.next_offset, bytes: 0, timestamp: Math.max(now, current.last_timestamp) };
        heads.set(event.partition, head);
      }
      const r = event.row;
      insert.run(
        topic.id,
        event.partition,
        head.next,
        head.timestamp,
        r.id,
        r.source,
        r.type,
        r.time,
        r.subject,
        r.datacontenttype,
        r.dataschema,
        r.partitionkey,
        r.traceparent,
        r.tracestate,
        r.extensions,
        r.data,
        r.size,
        recordChecksum(r.content, topic.id, event.partition, head.next, head.timestamp),
      );
      results.push({
        topic: topic.name,
        partition: event.partition,
        offset: head.next,
        timestamp: head.timestamp,
      });
      stored.push(new WindowEntry(topic.name, event.partition, head.next, head.timestamp, r));
      head.next++;
      head.bytes += event.row.size;
    }
    for (const [partition, head] of heads)
      advance.run(head.next, head.bytes, head.timestamp, topic.id, partition);
    this.#operationEvents.push({ topicId: topic.id, events: stored });
    return results;
  }

  /**
   * Follows the write queue's transactions: the events an operation appended count only if its
   * savepoint was released; once the transaction is durable (at COMMIT with `normal`, after a
   * WAL sync with `full`), its events become deliverable and waiting subscriptions wake.
   */
  #commitHooks(): CommitHooks {
    return {
      operationEnded: (ok) => {
        if (ok) this.#transactionEvents.push(...this.#operationEvents);
        this.#operationEvents = [];
      },
      abandoned: () => {
        this.#operationEvents = [];
        this.#transactionEvents = [];
      },
      poll: () => this.#walSync?.poll(),
      refusal: () => this.#walSync?.failure(),
      committed: () => {
        for (const { topicId, events } of this.#transactionEvents) this.#tails.committed(topicId, events);
        this.#transactionEvents = [];
        this.#checkpointer?.committed();
        return this.#makeDurable();
      },
    };
  }

  /** Marks what is committed now durable once a sync covering it finished, and wakes readers. */
  #makeDurable(): Promise<void> {
    const snapshot = this.#tails.snapshot();
    const deliver = () => {
      if (this.#tails.durable(snapshot)) {
        if (this.#walSync !== undefined) this.#recordDurableHeads();
        this.#notifier.wakeAll();
        notifyLocalCommit(this.path, this.#notifier);
      }
    };
    if (this.#walSync === undefined) {
      deliver();
      return Promise.resolve();
    }
    return this.#walSync.sync().then(deliver);
  }

  /** Another process (or instance) committed: reads the heads; new events become deliverable once synced. */
  #observeHeads(): void {
    if (this.#closed) return;
    let rows: HeadRow[];
    try {
      rows = this.#statements.heads.all() as unknown as HeadRow[];
    } catch {
      return; // A busy file: the next poll reads again.
    }
    if (this.#tails.observe(rows)) {
      this.#makeDurable().catch(() => {
        // A failed sync fails every write of this log; readers see nothing new meanwhile.
      });
    }
  }

  /** Where a subscription may read up to in a partition. */
  #durableHead(topicId: number, partition: number): number {
    const head = this.#tails.durableHead(topicId, partition);
    if (head !== undefined) return head;
    // A partition created since the heads were last read (a new topic): read them now.
    this.#observeHeads();
    return this.#tails.durableHead(topicId, partition) ?? 0;
  }

  /**
   * Calls `poll` synchronously before each write transaction and before each operation in one.
   * Urgent store transactions it starts (`store.transaction(fn, { urgent: true })`) join the
   * running transaction, which then commits within about 1 ms. For work another thread hands
   * over (take it with `receiveMessageOnPort`): it is picked up even while this thread's event
   * loop is busy with a backlog of handler transactions. `poll` must be cheap and must not throw.
   * Returns a function that removes it.
   *
   * @example log.pollForUrgentWork(() => { for (let m; (m = receiveMessageOnPort(port)); ) record(m.message); });
   */
  pollForUrgentWork(poll: () => void): () => void {
    this.#assertOpen();
    this.#writes.setPoll(poll);
    return () => this.#writes.setPoll(undefined);
  }

  /** Transactions committed, WAL syncs and checkpoints made by this instance so far. */
  stats(): { readonly transactions: number; readonly syncs: number; readonly checkpoints: number } {
    return {
      transactions: this.#writes.transactions,
      syncs: this.#walSync?.syncs ?? 0,
      checkpoints: this.#checkpointer?.checkpoints ?? 0,
    };
  }

  async read(topic: string, options: ReadOptions): Promise<readonly StoredEvent[]> {
    this.#assertOpen();
    const row = this.#topic(topic);
    const { partition, from, limit } = checkReadOptions(topic, options, row.partitions);
    const start = this.#resolveStart(row.id, partition, from);
    return this.#readEvents(row, partition, start, limit);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#assertOpen();
    const settings = subscribeSettings(options, { minSessionTimeoutMs: MIN_SESSION_TIMEOUT_MS });
    const subscription = new SqliteSubscription(this.#internals, settings, () =>
      this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    try {
      await subscription.join();
    } catch (error) {
      this.#subscriptions.delete(subscription);
      throw error;
    }
    return subscription;
  }

  async listGroups(): Promise<readonly string[]> {
    this.#assertOpen();
    return listGroups(this.#reader);
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    this.#assertOpen();
    return describeGroup(this.#reader, group);
  }

  async resetGroup(group: string, options: ResetGroupOptions): Promise<readonly GroupResetPlan[]> {
    this.#assertOpen();
    const { to, dryRun = false } = options;
    if (!(typeof to === 'object' && 'offsets' in to)) checkStartPosition(to);
    const current = describeGroup(this.#reader, group);
    const topics = options.topics ?? [...new Set(current.partitions.map((p) => p.topic))];
    if (topics.length === 0) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `group "${group}" has no positions; name the topics to reset`,
      );
    }
    const plan: GroupResetPlan[] = [];
    for (const name of topics) {
      const topic = this.#topic(name);
      for (let partition = 0; partition < topic.partitions; partition++) {
        const from =
          current.partitions.find((p) => p.topic === name && p.partition === partition)?.committed ?? null;
        let target: number;
        if (typeof to === 'object' && 'offsets' in to) {
          const wanted = to.offsets.find((p) => p.topic === name && p.partition === partition);
          if (wanted === undefined) continue;
          const head = this.#statements.partition.get(topic.id, partition) as {
            next_offset: number;
            low_offset: number;
          };
          checkCommitOffset({ topic: name, partition, offset: wanted.offset }, head.next_offset);
          target = Math.max(wanted.offset, head.low_offset);
        } else {
          target = this.#resolveStart(topic.id, partition, to);
        }
        plan.push({ topic: name, partition, from, to: target });
      }
    }
    if (dryRun) return plan;
    await this.#writes.run((db) => {
      const live = db
        .prepare(
          'SELECT count(*) AS n FROM herald_members WHERE group_name = ? AND heartbeat_at + session_timeout_ms >= ?',
        )
        .get(group, Date.now()) as { n: number };
      if (live.n > 0) {
        throw new HeraldError(
          'CONFLICT',
          `group "${group}" has ${live.n} live member(s); stop its consumers before resetting`,
        );
      }
      const upsert = db.prepare(
        `INSERT INTO herald_offsets (group_name, topic_id, partition, committed, updated_at, replay_until)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (group_name, topic_id, partition) DO UPDATE SET committed = excluded.committed,
           updated_at = excluded.updated_at,
           replay_until = max(coalesce(replay_until, 0), coalesce(excluded.replay_until, 0))`,
      );
      for (const p of plan) {
        const replayUntil = p.from !== null && p.from > p.to ? p.from : null;
        upsert.run(group, this.#topic(p.topic).id, p.partition, p.to, Date.now(), replayUntil);
      }
      const { record } = options;
      if (record !== undefined) {
        checkCollection(record.collection);
        // The store's documents table (sqlite-store.ts) in this file: created when missing.
        db.exec(DOCUMENTS_TABLE_DDL);
        db.prepare(
          `INSERT INTO herald_documents (collection, id, value, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        ).run(record.collection, record.id, encodeDocument(record.value(plan)), Date.now());
      }
    });
    return plan;
  }

  /**
   * Deletes events past each topic's retention, by time and by size, oldest first. It never
   * deletes an event a consumer group has not committed yet: a group's committed offset holds
   * retention back (`heldBack` reports where), so no consumer silently loses events.
   * Returns how many events were deleted.
   */
  async enforceRetention(now: number = Date.now()): Promise<{ deleted: number; heldBack: string[] }> {
    this.#assertOpen();
    const topics = this.#reader
      .prepare(
        'SELECT id, name, partitions, retention_ms, retention_bytes FROM herald_topics WHERE retention_ms IS NOT NULL OR retention_bytes IS NOT NULL',
      )
      .all() as unknown as TopicRow[];
    let deleted = 0;
    const heldBack: string[] = [];
    for (const topic of topics) {
      for (let partition = 0; partition < topic.partitions; partition++) {
        const outcome = await this.#writes.run((db) => this.#trimPartition(db, topic, partition, now));
        deleted += outcome.deleted;
        if (outcome.heldBackBy !== undefined)
          heldBack.push(`${topic.name}/${partition}: ${outcome.heldBackBy}`);
      }
    }
    return { deleted, heldBack };
  }

  #trimPartition(db: DatabaseSync, topic: TopicRow, partition: number, now: number) {
    const head = db
      .prepare(
        'SELECT next_offset, low_offset, bytes FROM herald_partitions WHERE topic_id = ? AND partition = ?',
      )
      .get(topic.id, partition) as { next_offset: number; low_offset: number; bytes: number };
    let cut = head.low_offset;
    if (topic.retention_ms !== null) {
      cut = Math.max(cut, this.#firstOffsetAtOrAfter(topic.id, partition, now - topic.retention_ms, head));
    }
    if (topic.retention_bytes !== null && head.bytes > topic.retention_bytes) {
      let excess = head.bytes - topic.retention_bytes;
      const sizes = db
        .prepare(
          'SELECT offset, size FROM herald_events WHERE topic_id = ? AND partition = ? ORDER BY offset',
        )
        .iterate(topic.id, partition) as Iterable<{ offset: number; size: number }>;
      for (const row of sizes) {
        if (excess <= 0) break;
        excess -= row.size;
        cut = Math.max(cut, row.offset + 1);
      }
    }
    const slowest = db
      .prepare(
        'SELECT group_name, committed FROM herald_offsets WHERE topic_id = ? AND partition = ? ORDER BY committed LIMIT 1',
      )
      .get(topic.id, partition) as { group_name: string; committed: number } | undefined;
    let heldBackBy: string | undefined;
    if (slowest !== undefined && slowest.committed < cut) {
      heldBackBy = `group ${slowest.group_name} has committed only up to ${slowest.committed}`;
      cut = slowest.committed;
    }
    if (cut <= head.low_offset) return { deleted: 0, heldBackBy };
    const removed = db
      .prepare('DELETE FROM herald_events WHERE topic_id = ? AND partition = ? AND offset < ? RETURNING size')
      .all(topic.id, partition, cut) as unknown as { size: number }[];
    const bytes = removed.reduce((sum, r) => sum + r.size, 0);
    db.prepare(
      'UPDATE herald_partitions SET low_offset = ?, bytes = bytes - ? WHERE topic_id = ? AND partition = ?',
    ).run(cut, bytes, topic.id, partition);
    return { deleted: removed.length, heldBackBy };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.allSettled([...this.#subscriptions].map((s) => s.close()));
    this.#closed = true;
    if (this.#retentionTimer !== undefined) clearInterval(this.#retentionTimer);
    await this.#writes.close();
    await this.#walSync?.close();
    await this.#checkpointer?.close();
    this.#notifier.close();
    this.#reader.close();
    this.#db.close();
    // With `normal`: the last connection's close checkpointed and synced everything into the
    // database file when it removed the WAL; only then are the heads known durable.
    if (this.#walSync === undefined && !existsSync(`${this.path}-wal`)) this.#recordDurableHeads();
    this.#heads.close();
  }

  /** Writes the durable heads this instance knows to the durable-heads record; a failure only weakens the next open's check. */
  #recordDurableHeads(): void {
    try {
      this.#heads.write(this.#tails.durableHeads());
    } catch {
      // A full disk or a read-only folder: the record stays as it was (older, never wrong).
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** See `FaultInjectable`: simulates this client's process dying or stalling. */
  readonly [faultInjection] = faultHooksFor(this.#subscriptions, {
    stop: () => {
      if (this.#closed) return false;
      this.#closed = true;
      return true;
    },
    drop: () => {
      if (this.#retentionTimer !== undefined) clearInterval(this.#retentionTimer);
      this.#writes.crash();
      void this.#walSync?.close();
      this.#checkpointer?.kill();
      this.#notifier.close();
      this.#reader.close();
      this.#db.close();
      this.#heads.close();
    },
  });

  #assertOpen(): void {
    if (this.#closed) throw new HeraldError('CLOSED', 'the log is closed');
  }

  #topic(name: string): TopicRow {
    const cached = this.#topics.get(name);
    if (cached !== undefined) return cached;
    const row = this.#statements.topicByName.get(name) as TopicRow | undefined;
    if (row === undefined)
      throw new HeraldError('UNKNOWN_TOPIC', `topic "${name}" does not exist`, { details: { topic: name } });
    const copy = { ...row };
    this.#topics.set(name, copy);
    return copy;
  }

  #readEvents(
    topic: Pick<TopicRow, 'id' | 'name'>,
    partition: number,
    fromOffset: number,
    limit: number,
  ): StoredEvent[] {
    let rows: unknown[][];
    try {
      rows = this.#statements.readFrom.all(topic.id, partition, fromOffset, limit) as unknown as unknown[][];
    } catch (error) {
      // A page SQLite itself finds damaged is CORRUPT_LOG too; a busy or failing disk is not.
      throw toHeraldError(error, `cannot read ${topic.name}/${partition} from ${this.path}`);
    }
    const events = new Array<StoredEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      try {
        verifyEventRow(this.path, topic, partition, rows[i]!);
      } catch (error) {
        // The events before a damaged one are served (a short read); reading from it throws.
        if (i === 0) throw error;
        return events.slice(0, i);
      }
      events[i] = decodeEventRow(topic.name, partition, rows[i]!);
    }
    return events;
  }

  #resolveStart(topicId: number, partition: number, from: ReadPosition): number {
    const head = this.#statements.partition.get(topicId, partition) as {
      next_offset: number;
      low_offset: number;
    };
    if (from === 'earliest') return head.low_offset;
    if (from === 'latest') return head.next_offset;
    if ('offset' in from) return Math.max(from.offset, head.low_offset);
    return this.#firstOffsetAtOrAfter(topicId, partition, from.timestamp, head);
  }

  /** Binary search over offsets: timestamps never decrease within a partition. */
  #firstOffsetAtOrAfter(
    topicId: number,
    partition: number,
    timestamp: number,
    head: { next_offset: number; low_offset: number },
  ): number {
    let low = head.low_offset;
    let high = head.next_offset;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const row = this.#statements.timestampAt.get(topicId, partition, middle) as
        { timestamp: number } | undefined;
      if (row === undefined || row.timestamp >= timestamp) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}

interface HeadRow {
  readonly topic_id: number;
  readonly partition: number;
  readonly next_offset: number;
}

function topicInfo(row: TopicRow): TopicInfo {
  const retention: { ms?: number; bytes?: number } = {};
  if (row.retention_ms !== null) retention.ms = row.retention_ms;
  if (row.retention_bytes !== null) retention.bytes = row.retention_bytes;
  return { name: row.name, partitions: row.partitions, retention };
}

/**
 * Opens (creating if needed) the embedded log in `options.path`. Sets WAL mode and the
 * durability mode, creates the tables, and runs the integrity check; a damaged file throws
 * CORRUPT_LOG and is left untouched for inspection.
 *
 * @example
 * await using log = await openSqliteLog({ path: '.herald/herald.db' });
 * await log.createTopic('orders', { partitions: 4 });
 */
export async function openSqliteLog(options: SqliteLogOptions): Promise<SqliteLog> {
  if (typeof options.path !== 'string' || options.path.length === 0) {
    throw new HeraldError('INVALID_ARGUMENT', 'the SQLite log needs a file path');
  }
  const path = resolve(options.path);
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw new HeraldError('BACKEND_UNAVAILABLE', `cannot create the folder of the log file ${path}`, {
      cause: error,
    });
  }
  let db: DatabaseSync;
  let heads: DurableHeadsRecord;
  try {
    db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (error) {
    throw toHeraldError(error, `cannot open the log file ${path}`);
  }
  try {
    db.exec('PRAGMA journal_mode = WAL');
    // Commits never fsync on the event loop: with `full`, WalSync syncs the WAL off it.
    db.exec('PRAGMA synchronous = NORMAL');
    checkIntegrity(db, path, options.integrityCheck ?? 'quick');
    db.exec('PRAGMA busy_timeout = 0');
    await beginWhenFree(() => db.exec('BEGIN IMMEDIATE'), options.busyTimeoutMs ?? 5000);
    try {
      for (const ddl of SCHEMA_DDL) db.exec(ddl);
      const version = db.prepare("SELECT value FROM herald_meta WHERE key = 'schema_version'").get() as
        { value: string } | undefined;
      // A new file gets the current version; an older one is upgraded step by step, here, in
      // the same transaction as the tables, so a failed upgrade leaves the file as it was.
      let current = version === undefined ? SCHEMA_VERSION : Number(version.value);
      for (let step = SCHEMA_UPGRADES.get(current); step !== undefined; step = SCHEMA_UPGRADES.get(current)) {
        for (const statement of step) db.exec(statement);
        current++;
      }
      if (current !== SCHEMA_VERSION) {
        throw new HeraldError(
          'UNSUPPORTED',
          `${path} has log schema ${version!.value}; this Herald reads schema ${SCHEMA_VERSION} ` +
            `and upgrades ${[...SCHEMA_UPGRADES.keys()].join(', ')} only ` +
            `(${current > SCHEMA_VERSION ? 'upgrade Herald' : 'replay it into a new file'})`,
        );
      }
      if (version?.value !== String(SCHEMA_VERSION)) {
        db.prepare(
          "INSERT INTO herald_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ).run(String(SCHEMA_VERSION));
      }
      db.prepare("INSERT OR IGNORE INTO herald_meta (key, value) VALUES ('log_id', ?)").run(randomUUID());
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
    const { value: logId } = db.prepare("SELECT value FROM herald_meta WHERE key = 'log_id'").get() as {
      value: string;
    };
    heads = new DurableHeadsRecord(path, logId);
    // One read transaction, so every statement of the check sees the same snapshot: another
    // process appending meanwhile must not look like a partition whose head and events disagree.
    // The durable-heads record is read before that snapshot begins, for the same reason.
    const recorded = heads.read();
    db.exec('BEGIN');
    try {
      checkIntegrity(db, path, options.integrityCheck ?? 'quick', { heraldOnly: true });
      const lost = options.integrityCheck === 'off' ? [] : heads.check(db, recorded);
      if (lost.length > 0) {
        throw new HeraldError(
          'CORRUPT_LOG',
          `${path} is shorter than what was acknowledged durable and will not be served: ` +
            `${lost.slice(0, 5).join('; ')}. Its write-ahead log (${path}-wal) was cut short or the ` +
            `file is an older copy. Restore the complete file; to accept the loss (a backup restored ` +
            `on purpose), delete ${heads.path} or open with integrity=off.`,
          { details: { path, problems: lost } },
        );
      }
    } finally {
      db.exec('COMMIT');
    }
  } catch (error) {
    db.close();
    throw toHeraldError(error, `cannot open the log file ${path}`);
  }
  let walSync: WalSync | undefined;
  if (options.synchronous !== 'normal') {
    try {
      walSync = await WalSync.open(path);
    } catch (error) {
      db.close();
      throw error;
    }
  }
  let reader: DatabaseSync;
  try {
    reader = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (error) {
    db.close();
    await walSync?.close();
    throw toHeraldError(error, `cannot open the log file ${path}`);
  }
  // Checkpoints move to a thread of their own; should it die, SQLite's own take over again.
  const checkpointer = await Checkpointer.start(path, options.busyTimeoutMs ?? 5000, () => {
    if (db.isOpen) db.exec('PRAGMA wal_autocheckpoint = 1000');
  });
  if (checkpointer !== undefined) db.exec('PRAGMA wal_autocheckpoint = 0');
  return new SqliteLog(db, reader, path, options, heads, walSync, checkpointer);
}

const URL_OPTIONS = new Set(['synchronous', 'integrity', 'busyTimeoutMs', 'pollIntervalMs', 'clientId']);

/**
 * Opens the log a `sqlite:` URL names: `sqlite:./.herald/herald.db`, `sqlite:///var/lib/herald.db`,
 * with options as query parameters (`?synchronous=normal&integrity=full`).
 */
export async function openLogFromUrl(url: string): Promise<SqliteLog> {
  return openSqliteLog(parseSqliteUrl(url));
}

export function parseSqliteUrl(url: string): SqliteLogOptions {
  if (!url.startsWith('sqlite:'))
    throw new HeraldError('INVALID_ARGUMENT', `not a sqlite: URL: "${redactUrl(url)}"`);
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  const [path = '', query = ''] = rest.split('?', 2);
  if (path.length === 0) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `"${redactUrl(url)}" names no file; expected e.g. sqlite:./.herald/herald.db`,
    );
  }
  const params = new URLSearchParams(query);
  const options: { -readonly [K in keyof SqliteLogOptions]: SqliteLogOptions[K] } = {
    path: decodeURIComponent(path),
  };
  for (const [key, value] of params) {
    if (!URL_OPTIONS.has(key)) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `unknown option "${key}" in "${redactUrl(url)}"; known: ${[...URL_OPTIONS].join(', ')}`,
      );
    }
    if (key === 'synchronous') {
      if (value !== 'full' && value !== 'normal') {
        throw new HeraldError('INVALID_ARGUMENT', `synchronous must be "full" or "normal", got "${value}"`);
      }
      options.synchronous = value;
    } else if (key === 'integrity') {
      if (value !== 'quick' && value !== 'full' && value !== 'off') {
        throw new HeraldError(
          'INVALID_ARGUMENT',
          `integrity must be "quick", "full" or "off", got "${value}"`,
        );
      }
      options.integrityCheck = value;
    } else if (key === 'clientId') {
      options.clientId = value;
    } else {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0)
        throw new HeraldError('INVALID_ARGUMENT', `${key} must be a non-negative integer`);
      if (key === 'busyTimeoutMs') options.busyTimeoutMs = n;
      else options.pollIntervalMs = Math.max(1, n);
    }
  }
  return options;
}
