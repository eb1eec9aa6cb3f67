import type { CloudEvent, StoredEvent } from './envelope.ts';

/**
 * The EventLog contract every backend implements (memory, SQLite, Kafka, NATS) and the
 * conformance suite in `@herald/testing` checks. It has three parts: topic administration,
 * a writer (`append`) and readers (`read` for tools, `subscribe` for consumer groups).
 *
 * Ordering: within one partition offsets are dense (0, 1, 2, …) and events are read in offset
 * order. Events with the same `partitionkey` always land in the same partition
 * (`partitionFor`, Kafka's default partitioner), so per-key order holds on every backend.
 */

/** Where a reader starts. `latest` means "only events appended after now". */
export type StartPosition = 'earliest' | 'latest' | { readonly timestamp: number };

/** A start position, or an exact offset within one partition. */
export type ReadPosition = StartPosition | { readonly offset: number };

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A consumer group's position: the offset of the next event it will read (Kafka's meaning). */
export interface PartitionOffset extends TopicPartition {
  readonly offset: number;
}

export interface RetentionPolicy {
  /** Events older than this may be deleted. */
  readonly ms?: number;
  /** Oldest events may be deleted while a partition holds more than this many bytes. */
  readonly bytes?: number;
}

export interface CreateTopicOptions {
  readonly partitions: number;
  readonly retention?: RetentionPolicy;
}

export interface TopicInfo {
  readonly name: string;
  readonly partitions: number;
  readonly retention: RetentionPolicy;
}

export interface PartitionInfo {
  readonly partition: number;
  /** Offset of the oldest retained event (equals `latest` when the partition is empty). */
  readonly earliest: number;
  /** Offset the next appended event will get (the high watermark). */
  readonly latest: number;
}

export interface TopicDescription extends TopicInfo {
  readonly partitionInfo: readonly PartitionInfo[];
}

export interface AppendOptions {
  /** Append to this partition instead of the one the partition key selects. */
  readonly partition?: number;
}

export interface AppendResult extends TopicPartition {
  readonly offset: number;
  readonly timestamp: number;
}

export interface ReadOptions {
  readonly partition: number;
  readonly from: ReadPosition;
  /** At most this many events (a backend may return fewer; never more). Default 500. */
  readonly limit?: number;
}

export interface SubscribeOptions {
  /**
   * Consumer group id. Members of one group split the partitions between them and share
   * committed offsets; different groups read independently. Renaming a group makes it a new
   * group, which starts from `startAt` again.
   */
  readonly group: string;
  readonly topics: readonly string[];
  /** Where a partition with no committed offset for this group starts. Default `earliest`. */
  readonly startAt?: StartPosition;
  /**
   * A member that has not heartbeated for this long is considered dead: its partitions go to
   * live members and its later commits are refused (`FENCED`). Default 10 000 ms.
   */
  readonly sessionTimeoutMs?: number;
  /** At most this many events are fetched ahead of the consumer. Default 500. */
  readonly maxBufferedEvents?: number;
  /**
   * Called before partitions are taken from this member (a rebalance, or `close()`), so work
   * in flight for them can finish and be committed. The partitions are released when the
   * returned promise settles, whether it resolves or rejects. When it throws or rejects, every
   * backend throws that error to the code iterating the subscription (once, after the events
   * delivered before it) and the handover goes on: what was not committed is delivered again
   * to the next owner. A failure during `close()` is dropped, as nobody iterates any more.
   */
  readonly onRevoked?: (partitions: readonly TopicPartition[]) => void | Promise<void>;
  /**
   * Called after this member gains partitions, before their events are delivered. When it
   * throws (or returns a rejected promise), every backend throws that error to the code
   * iterating the subscription; the partitions stay assigned and their events follow.
   */
  readonly onAssigned?: (partitions: readonly TopicPartition[]) => void;
  /** Aborting it closes the subscription (leaving the group). */
  readonly signal?: AbortSignal;
}

/**
 * A member of a consumer group. Iterate it to receive events of the partitions it owns, in
 * offset order per partition; commit what has been handled. Events delivered but not
 * committed are delivered again to whoever owns the partition next (at-least-once).
 *
 * Iterate either events (`for await (const e of sub)`) or `batches()`, not both.
 */
export interface Subscription extends AsyncIterable<StoredEvent>, AsyncDisposable {
  readonly group: string;
  readonly memberId: string;
  /** The partitions this member owns right now. */
  assignment(): readonly TopicPartition[];
  /** Events in delivery order, as many as are ready at once (at least one per batch). */
  batches(): AsyncIterable<readonly StoredEvent[]>;
  /**
   * Records the group's position. Passing an event commits `event.offset + 1` for its
   * partition. Throws `FENCED` when this member no longer owns the partition (it was paused
   * past its session timeout, or the partition was reassigned), so a stale member can never
   * move a group's position. Committing an offset lower than the committed one is ignored:
   * committed offsets never go back (use `resetGroup` to rewind deliberately).
   */
  commit(positions: StoredEvent | readonly PartitionOffset[]): Promise<void>;
  /** Stops fetching, leaves the group (its partitions move to other members at once). */
  close(): Promise<void>;
}

export interface GroupMember {
  readonly memberId: string;
  /** Free text the member set: host, pid, service name. */
  readonly clientId: string;
  readonly lastHeartbeat: number;
  readonly partitions: readonly TopicPartition[];
}

export interface GroupPartitionState extends TopicPartition {
  /** Next offset the group will read, or null when it never committed. */
  readonly committed: number | null;
  readonly latest: number;
  /** Events appended but not yet committed by the group. */
  readonly lag: number;
  /**
   * Set by `resetGroup`: offsets below it were handled before the reset and are now re-read as
   * a replay, during which the router suppresses declared effects.
   */
  readonly replayUntil?: number;
}

/** Where `resetGroup` moves a group. */
export type ResetTarget =
  'earliest' | 'latest' | { readonly timestamp: number } | { readonly offsets: readonly PartitionOffset[] };

export interface ResetGroupOptions {
  readonly to: ResetTarget;
  /** Only these topics; default every topic the group has positions or members on. */
  readonly topics?: readonly string[];
  /** Compute and return the plan without changing anything. */
  readonly dryRun?: boolean;
  /**
   * A document (an audit entry) stored in the same transaction as the reset, in the log's own
   * database: the reset and its record commit together or not at all. Only a log that keeps
   * documents beside its events can (the embedded log, whose file a store shares); others
   * refuse it with UNSUPPORTED before changing anything. `value` gets the plan.
   */
  readonly record?: {
    readonly collection: string;
    readonly id: string;
    readonly value: (plan: readonly GroupResetPlan[]) => unknown;
  };
}

/** One partition of a reset: where the group was and where it will start. */
export interface GroupResetPlan extends TopicPartition {
  readonly from: number | null;
  readonly to: number;
}

export interface GroupDescription {
  readonly group: string;
  readonly members: readonly GroupMember[];
  readonly partitions: readonly GroupPartitionState[];
}

/**
 * How a backend names itself in telemetry, by OpenTelemetry's messaging semantic conventions:
 * spans and metrics read it from the log, so no tracing code tests what kind of log it has.
 */
export interface LogTelemetry {
  /**
   * `messaging.system`: `kafka`, `nats`, or, for Herald's own logs, which the conventions do not
   * list, a custom value in their form (lower case, a prefix of its own): `herald_sqlite` for the
   * embedded log, `herald_memory` for the in-memory log.
   */
  readonly system: string;
  /**
   * The span attribute that carries an event's offset in its partition: `messaging.kafka.offset`
   * on Kafka, `herald.offset` where the conventions define none.
   */
  readonly offsetAttribute: string;
  /**
   * The span attribute that carries an event's partition key: `messaging.kafka.message.key` on
   * Kafka (the record key), `herald.partition_key` elsewhere.
   */
  readonly keyAttribute: string;
  /** `server.address` and `server.port`: the first server the client was given, when it has one. */
  readonly server?: { readonly address: string; readonly port: number };
}

/**
 * Facts a backend declares about itself, readable at run time. The conformance suite skips a
 * behaviour a backend declares it lacks, and says so.
 */
export interface LogCapabilities {
  /** Events survive close and reopen. */
  readonly durable: boolean;
  /** Several processes can append to and consume from one log, sharing consumer groups. */
  readonly multiProcess: boolean;
  /** Readers can start from a timestamp. */
  readonly timestampSeek: boolean;
  /** Per-topic retention by time and size. */
  readonly retention: boolean;
  /** Largest record (attributes + data) the backend accepts, in bytes. */
  readonly maxRecordBytes: number;
  /**
   * How often a router commits its group's progress unless told otherwise (`commitIntervalMs`),
   * by what a commit costs here: a row of the log file on the embedded log and in memory; a
   * write to the broker's replicated offsets on Kafka and NATS, where one commit per event and
   * group at a low rate was a third of what a consumer asked of the broker. A crash redelivers
   * at most that much finished work, which the idempotency middleware turns into one effect.
   */
  readonly commitIntervalMs: number;
  /** What its spans and metrics call it. */
  readonly telemetry: LogTelemetry;
}

export interface EventLog extends AsyncDisposable {
  readonly capabilities: LogCapabilities;

  createTopic(name: string, options: CreateTopicOptions): Promise<TopicInfo>;
  listTopics(): Promise<readonly TopicInfo[]>;
  /** Throws `UNKNOWN_TOPIC` when the topic does not exist. */
  describeTopic(name: string): Promise<TopicDescription>;

  /**
   * Appends one event and resolves once it is durable (per the backend's durability mode).
   * The partition comes from `options.partition`, else from `partitionFor(partitionkey)`,
   * else round-robin: each client counts per topic from partition 0, so a client's events
   * without a key spread evenly over the topic's partitions (clients do not coordinate).
   * A rejected promise means the event was not appended.
   */
  append(topic: string, event: CloudEvent, options?: AppendOptions): Promise<AppendResult>;
  /**
   * Appends several events atomically: all are appended or none. Results are in input order;
   * events sharing a partition keep their input order.
   */
  appendBatch(topic: string, events: readonly CloudEvent[]): Promise<readonly AppendResult[]>;

  /**
   * Reads events of one partition without a consumer group (tools, replays, tail). A record
   * another producer wrote that is not a CloudEvent (on Kafka or NATS) stops the read with
   * `DECODE_FAILED`, the first such record of the page; its `details` are a
   * {@link ForeignRecordDetails}, so a tool can read up to it, show it raw and go on after it.
   */
  read(topic: string, options: ReadOptions): Promise<readonly StoredEvent[]>;
  /** Joins a consumer group. */
  subscribe(options: SubscribeOptions): Promise<Subscription>;

  listGroups(): Promise<readonly string[]>;
  describeGroup(group: string): Promise<GroupDescription>;
  /**
   * Moves a group's committed offsets: the one deliberate way they go back. Refused with
   * CONFLICT while the group has live members (stop its consumers first). What the group had
   * handled before is marked as a replay (`replayUntil`), so declared effects do not fire again.
   * Backends that cannot do it leave it out; callers get UNSUPPORTED.
   */
  resetGroup?(group: string, options: ResetGroupOptions): Promise<readonly GroupResetPlan[]>;

  /** Closes subscriptions (leaving their groups) and releases the backend's resources. */
  close(): Promise<void>;
}

/**
 * Hooks a backend exposes so that the conformance suite can simulate a member process that
 * dies (`crash`: stops heartbeating without leaving, as kill -9 would) or stalls (`freeze`
 * until `thaw`: as SIGSTOP would). Real-process tests cover the same faults with real signals.
 */
export const faultInjection: unique symbol = Symbol.for('herald.faultInjection');

export interface FaultInjectable {
  readonly [faultInjection]: {
    crash(): void;
    freeze(): void;
    thaw(): void;
  };
}

/** Default and bounds shared by backends, so the suite can rely on them. */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
export const DEFAULT_READ_LIMIT = 500;
export const DEFAULT_MAX_BUFFERED_EVENTS = 500;

/** The `details` of the `DECODE_FAILED` error `read` throws at a record that is not a CloudEvent. */
export interface ForeignRecordDetails extends TopicPartition {
  readonly offset: number;
  /** When the backend appended it (ms since the epoch). */
  readonly timestamp: number;
  /** The record as stored: bytes base64-encoded, header names as text. */
  readonly record: {
    readonly key: string | null;
    readonly value: string | null;
    readonly headers: readonly (readonly [string | null, string | null])[];
  };
}
