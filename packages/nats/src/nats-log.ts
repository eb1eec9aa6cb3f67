import { Buffer } from 'node:buffer';
import { HeraldError, isHeraldError } from '@herald/core';
import type {
  ForeignRecordDetails,
  AppendOptions,
  AppendResult,
  CloudEvent,
  CreateTopicOptions,
  EventLog,
  GroupDescription,
  GroupPartitionState,
  GroupResetPlan,
  LogCapabilities,
  PartitionInfo,
  ReadOptions,
  ReadPosition,
  ResetGroupOptions,
  StoredEvent,
  SubscribeOptions,
  Subscription,
  TopicDescription,
  TopicInfo,
} from '@herald/core';
import {
  PartitionChooser,
  assertRecordSize,
  assertTopicName,
  checkCommitOffset,
  checkPartitionCount,
  checkReadOptions,
  checkRetention,
  checkStartPosition,
  faultHooksFor,
  faultInjection,
  isTopicName,
  subscribeSettings,
  telemetryOf,
} from '@herald/core/backend';
import type { FaultInjectable } from '@herald/core/backend';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy as JsRetention,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StreamConfig, StreamState } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import type { MsgHdrs, NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { decodeCloudEvent, encodeCloudEvent } from './cloud-event-headers.ts';
import type { NatsMessageParts } from './cloud-event-headers.ts';
import { describeMembers, emptyGroup, isExpired, removeMember } from '@herald/core/backend';
import type { GroupRecord } from '@herald/core/backend';
import { parseGroup, parseOffset, serializeGroup, serializeOffset } from './kv-group-cell.ts';
import type { OffsetRecord } from './kv-group-cell.ts';
import { KvBucket } from './kv-bucket.ts';
import { JS_ERRORS, isNoResponders, isTimeout, jetStreamCode, toHeraldError } from './nats-errors.ts';
import { resolveNatsLogOptions } from './nats-log-options.ts';
import type { NatsLogOptions, ResolvedNatsLogOptions } from './nats-log-options.ts';
import { GROUPS_BUCKET, NatsNames, TOPICS_BUCKET } from './nats-names.ts';
import { NatsSubscription } from './nats-subscription.ts';
import type { NatsLogInternals, StreamPosition } from './nats-subscription.ts';
import { parseNatsUrl } from './nats-url.ts';
import { parseTopic, serializeTopic } from './topic-record.ts';
import type { TopicRecord } from './topic-record.ts';

/** Heartbeats cross the network: shorter sessions would expire on an ordinary round trip. */
const MIN_SESSION_TIMEOUT_MS = 100;
/** Parallel requests one operation keeps in flight (stream infos, direct gets). */
const PARALLEL_REQUESTS = 32;
/** A publish whose acknowledgement timed out is sent again (same Nats-Msg-Id) this many times in all. */
const PUBLISH_ATTEMPTS = 3;
/** What a stream stores with each message besides subject, headers and data (sequence, time, checksum), at most. */
const STORED_OVERHEAD_BYTES = 64;
/** How long `resetGroup` holds claims off while it moves offsets. */
const RESET_LOCK_MS = 30_000;
/** Passed only by `NatsLog.open`: a log is never constructed without its connection and buckets. */
const opening = Symbol('NatsLog.open');

function invalid(message: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', message);
}

/**
 * Herald's EventLog on NATS JetStream; see ADR 0006 and docs/nats.md.
 *
 * - Every topic partition is a stream (`HERALD_<topic>_<p>`, subject `herald.<topic>.<p>`),
 *   so a partition's offsets are its stream's sequence − 1: dense, from 0. Retention maps to
 *   the stream's `max_age` / `max_bytes` (oldest first); messages are never deleted from the
 *   middle (`deny_delete`). Topic records live in the `herald_topics` KV bucket.
 * - Events travel in CloudEvents binary mode: `ce-*` headers (percent-encoded), `content-type`,
 *   data as the payload. `Nats-Msg-Id` (source + id) makes the server drop a retried publish
 *   within its duplicate window, so a publish whose acknowledgement was lost is retried safely.
 * - An append resolves once the stream has stored the event (the server's acknowledgement,
 *   after its own fsync policy); its timestamp is the server's. Keys map to partitions with
 *   `partitionFor`, as on every backend.
 * - Consumer groups are coordinated by Herald on the `herald_groups` KV bucket with
 *   compare-and-set writes: leases, generations, two-step handover, epoch fencing (see
 *   kv-group-cell.ts and nats-subscription.ts). Members read their partitions with ephemeral
 *   consumers starting at the committed offset.
 *
 * Differences from the embedded log: `appendBatch` is atomic only up to the first publish (a
 * server failure midway can leave a prefix of a partition's events stored; retrying the same
 * batch within the duplicate window completes it without duplicates); re-appending an event
 * with the same source and id to the same partition within the duplicate window returns the
 * first copy's position; group leases use the members' wall clocks.
 */
export class NatsLog implements EventLog, FaultInjectable {
  readonly capabilities: LogCapabilities;
  readonly clientId: string;
  readonly namespace: string;
  readonly [faultInjection]: FaultInjectable[typeof faultInjection];
  readonly #options: ResolvedNatsLogOptions;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #topicsKv: KvBucket;
  readonly #groupsKv: KvBucket;
  readonly #names: NatsNames;
  readonly #internals: NatsLogInternals;
  readonly #topics = new Map<string, TopicRecord>();
  readonly #subscriptions = new Set<NatsSubscription>();
  readonly #chooser = new PartitionChooser();
  #closed = false;
  #closing: Promise<void> | undefined;

  /** Use {@link openNatsLog}. */
  constructor(
    token: typeof opening,
    options: ResolvedNatsLogOptions,
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    topicsKv: KvBucket,
    groupsKv: KvBucket,
  ) {
    if (token !== opening)
      throw new HeraldError('INVALID_ARGUMENT', 'a NatsLog is opened with openNatsLog()');
    this.#options = options;
    this.clientId = options.clientId;
    this.namespace = options.namespace;
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
    this.#topicsKv = topicsKv;
    this.#groupsKv = groupsKv;
    this.#names = new NatsNames(options.namespace);
    this.capabilities = Object.freeze({
      durable: options.storage === 'file',
      multiProcess: true,
      timestampSeek: true,
      retention: true,
      maxRecordBytes: nc.info?.max_payload ?? 1_048_576,
      commitIntervalMs: 1000,
      telemetry: telemetryOf('nats', options.servers, 4222),
    });
    this.#internals = {
      nc,
      js,
      jsm,
      names: this.#names,
      groups: groupsKv,
      clientId: options.clientId,
      topic: (name) => this.#topic(name),
      ensureStream: (topic, partition) => this.#ensureStream(topic, partition),
      position: (topic, partition) => this.#position(topic, partition),
      resolveStart: (topic, partition, from) => this.#resolveStart(topic, partition, from),
      toStoredEvent: (topic, partition, headers, data, sequence, timestamp) =>
        toStoredEvent(topic, partition, headers, data, sequence, timestamp),
    };
    // The process "died": subscriptions stop without leaving, the connection drops.
    this[faultInjection] = faultHooksFor(this.#subscriptions, {
      stop: () => {
        this.#closed = true;
        return true;
      },
      drop: () => {
        this.#subscriptions.clear();
        this.#closing ??= this.#nc.close().catch(() => undefined);
      },
    });
  }

  /** Use {@link openNatsLog}. Connects and opens (creating when needed) the KV buckets. */
  static async open(options: NatsLogOptions): Promise<NatsLog> {
    const resolved = resolveNatsLogOptions(options);
    const connection: NodeConnectionOptions = {
      servers: [...resolved.servers],
      name: resolved.clientId,
      timeout: resolved.connectTimeoutMs,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    };
    if (resolved.user !== undefined) connection.user = resolved.user;
    if (resolved.pass !== undefined) connection.pass = resolved.pass;
    if (resolved.token !== undefined) connection.token = resolved.token;
    if (resolved.tls !== undefined) connection.tls = { ...resolved.tls };
    let nc: NatsConnection;
    try {
      nc = await connect(connection);
    } catch (error) {
      throw toHeraldError(error, `no NATS server answered at ${resolved.servers.join(', ')}`);
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: resolved.requestTimeoutMs });
      const js = jetstream(nc, { timeout: resolved.requestTimeoutMs });
      const settings = { replicas: resolved.replicas, storage: resolved.storage };
      const [topicsKv, groupsKv] = await Promise.all([
        KvBucket.open(js, jsm, TOPICS_BUCKET, settings),
        KvBucket.open(js, jsm, GROUPS_BUCKET, settings),
      ]);
      return new NatsLog(opening, resolved, nc, js, jsm, topicsKv, groupsKv);
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw toHeraldError(
        error,
        `the NATS server at ${resolved.servers.join(', ')} offers no usable JetStream`,
      );
    }
  }

  // ---- topics ----

  async createTopic(name: string, options: CreateTopicOptions): Promise<TopicInfo> {
    this.#assertOpen();
    assertTopicName(name);
    const partitions = checkPartitionCount(options?.partitions);
    const retention = checkRetention(options.retention);
    const record: TopicRecord = { version: 1, name, partitions, retention, createdAt: Date.now() };
    // The record is the topic: once it exists the topic exists, and a stream missing after a
    // crash mid-create is made on first use from the record, with the same settings.
    let created: number | null;
    try {
      created = await this.#topicsKv.create(this.#names.topicKey(name), serializeTopic(record));
    } catch (error) {
      throw toHeraldError(error, `cannot create topic "${name}"`, { topic: name });
    }
    if (created === null) {
      throw new HeraldError('TOPIC_EXISTS', `topic "${name}" already exists`, { details: { topic: name } });
    }
    this.#topics.set(name, record);
    await mapLimit(
      Array.from({ length: partitions }, (_, p) => p),
      PARALLEL_REQUESTS,
      (p) => this.#ensureStream(record, p),
    );
    return { name, partitions, retention: { ...retention } };
  }

  async listTopics(): Promise<readonly TopicInfo[]> {
    this.#assertOpen();
    let keys: string[];
    try {
      keys = await this.#topicsKv.keys(this.#names.topicKeys());
    } catch (error) {
      throw toHeraldError(error, 'cannot list topics');
    }
    const records = await mapLimit(keys, PARALLEL_REQUESTS, async (key) => {
      const entry = await this.#topicsKv.get(key).catch((error: unknown) => {
        throw toHeraldError(error, 'cannot list topics');
      });
      return entry === null ? undefined : parseTopic(entry.value);
    });
    return records
      .filter((r): r is TopicRecord => r !== undefined)
      .map((r) => ({ name: r.name, partitions: r.partitions, retention: { ...r.retention } }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.#assertOpen();
    const record = await this.#topic(name);
    const partitionInfo = await mapLimit(
      Array.from({ length: record.partitions }, (_, p) => p),
      PARALLEL_REQUESTS,
      async (partition): Promise<PartitionInfo> => {
        const { earliest, latest } = await this.#position(record, partition);
        return { partition, earliest, latest };
      },
    );
    return {
      name,
      partitions: record.partitions,
      retention: { ...record.retention },
      partitionInfo,
    };
  }

  // ---- append ----

  async append(topic: string, event: CloudEvent, options: AppendOptions = {}): Promise<AppendResult> {
    this.#assertOpen();
    const record = await this.#topic(topic);
    const parts = this.#encode(record, event);
    const partition = this.#chooser.choose(record.name, record.partitions, event, options.partition);
    return this.#publish(record, partition, parts);
  }

  async appendBatch(topic: string, events: readonly CloudEvent[]): Promise<readonly AppendResult[]> {
    this.#assertOpen();
    if (!Array.isArray(events)) throw invalid('appendBatch needs an array of events');
    const list: readonly CloudEvent[] = events;
    const record = await this.#topic(topic);
    // Everything that can be refused is refused before the first publish.
    const parts = list.map((event) => this.#encode(record, event));
    const encoded = list.map((event, i) => ({
      parts: parts[i]!,
      partition: this.#chooser.choose(record.name, record.partitions, event),
    }));
    const byPartition = new Map<number, number[]>();
    encoded.forEach(({ partition }, i) =>
      byPartition.set(partition, [...(byPartition.get(partition) ?? []), i]),
    );
    const results: AppendResult[] = new Array<AppendResult>(events.length);
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        for (const i of indexes) results[i] = await this.#publish(record, partition, encoded[i]!.parts);
      }),
    );
    return results;
  }

  #encode(record: TopicRecord, event: CloudEvent): NatsMessageParts {
    const parts = encodeCloudEvent(event);
    assertRecordSize(event, parts.bytes, this.capabilities.maxRecordBytes, 'NATS', 'max_payload');
    // The stream would store it and delete it at once to get back under max_bytes.
    const limit = record.retention.bytes;
    const subject = this.#names.subject(record.name, 0);
    if (limit !== undefined && parts.bytes + subject.length + STORED_OVERHEAD_BYTES > limit) {
      throw new HeraldError(
        'TOO_LARGE',
        `event ${event.id} takes ${parts.bytes} bytes; topic "${record.name}" keeps at most ${limit} bytes per partition (retention.bytes)`,
        { details: { id: event.id, bytes: parts.bytes, retentionBytes: limit } },
      );
    }
    return parts;
  }

  /**
   * Publishes one encoded event and resolves with where the stream stored it. A publish whose
   * acknowledgement does not come is sent again with the same `Nats-Msg-Id`, so it is stored
   * at most once; a TIMEOUT after the last attempt means the outcome is unknown (retrying the
   * same event within the duplicate window is safe).
   */
  async #publish(record: TopicRecord, partition: number, parts: NatsMessageParts): Promise<AppendResult> {
    const subject = this.#names.subject(record.name, partition);
    const stream = this.#names.stream(record.name, partition);
    let ensured = false;
    for (let attempt = 1; ; attempt++) {
      let ack;
      try {
        ack = await this.#js.publish(subject, parts.data, {
          headers: parts.headers,
          timeout: this.#options.requestTimeoutMs,
        });
      } catch (error) {
        if (this.#closed) throw closedError();
        if (isNoResponders(error) && !ensured) {
          // The topic's record exists but this stream does not (yet): make it and try again.
          await this.#ensureStream(record, partition);
          ensured = true;
          attempt--;
          continue;
        }
        if (isTimeout(error) && attempt < PUBLISH_ATTEMPTS) continue;
        throw toHeraldError(
          error,
          isTimeout(error)
            ? `append to ${record.name}/${partition} was not acknowledged; it may or may not be stored (retrying the same event is safe)`
            : `cannot append to ${record.name}/${partition}`,
          { topic: record.name, partition },
        );
      }
      if (ack.stream !== stream) {
        throw new HeraldError(
          'BACKEND_UNAVAILABLE',
          `subject ${subject} is captured by stream ${ack.stream}, not ${stream}: another stream overlaps Herald's subjects`,
          { details: { topic: record.name, partition, stream: ack.stream } },
        );
      }
      const stored = await this.#getMessage(stream, ack.seq).catch((error: unknown) => {
        throw toHeraldError(
          error,
          `event stored in ${record.name}/${partition} but its position could not be read`,
        );
      });
      if (ack.duplicate && stored !== null && !sameMessage(stored, parts)) {
        throw new HeraldError(
          'CONFLICT',
          `an event with this source and id was appended to ${record.name}/${partition} within the duplicate window with different content`,
          { details: { topic: record.name, partition, offset: ack.seq - 1 } },
        );
      }
      // A duplicate whose first copy retention already removed keeps the acknowledged position.
      const timestamp = stored === null ? Date.now() : stored.timestamp;
      return { topic: record.name, partition, offset: ack.seq - 1, timestamp };
    }
  }

  // ---- read ----

  async read(topic: string, options: ReadOptions): Promise<readonly StoredEvent[]> {
    this.#assertOpen();
    const record = await this.#topic(topic);
    const { partition, from, limit } = checkReadOptions(topic, options, record.partitions);
    const start = await this.#resolveStart(record, partition, from);
    const { latest } = await this.#position(record, partition);
    const end = Math.min(latest, start + limit);
    if (start >= end) return [];
    const stream = this.#names.stream(topic, partition);
    const messages = await mapLimit(
      Array.from({ length: end - start }, (_, i) => start + i + 1),
      PARALLEL_REQUESTS,
      (sequence) => this.#getMessage(stream, sequence),
    ).catch((error: unknown) => {
      throw toHeraldError(error, `cannot read ${topic}/${partition}`);
    });
    return messages
      .filter((m): m is StoredMessage => m !== null)
      .map((m) => toStoredEvent(topic, partition, m.headers, m.data, m.sequence, m.timestamp));
  }

  /**
   * One stored message by sequence, or null when there is none (removed by retention). A direct
   * get may be answered by a replica that has not caught up yet; a miss is asked of the leader.
   */
  async #getMessage(stream: string, sequence: number): Promise<StoredMessage | null> {
    const message =
      (await this.#jsm.direct.getMessage(stream, { seq: sequence })) ??
      (await this.#jsm.streams.getMessage(stream, { seq: sequence }));
    if (message === null) return null;
    return {
      headers: message.header,
      data: message.data,
      sequence: message.seq,
      timestamp: millisOf(message.timestamp),
    };
  }

  /** The offset `from` names in a partition: the next one to read. */
  async #resolveStart(record: TopicRecord, partition: number, from: ReadPosition): Promise<number> {
    const { earliest, latest, state } = await this.#position(record, partition);
    if (from === 'earliest') return earliest;
    if (from === 'latest') return latest;
    if ('offset' in from) return Math.max(from.offset, earliest);
    return this.#offsetAtTime(record, partition, from.timestamp, earliest, latest, state);
  }

  /** The offset of the first event stored at or after `timestamp`, found by the server. */
  async #offsetAtTime(
    record: TopicRecord,
    partition: number,
    timestamp: number,
    earliest: number,
    latest: number,
    state: StreamState,
  ): Promise<number> {
    if (earliest >= latest || timestamp > millisOf(state.last_ts)) return latest;
    if (timestamp <= millisOf(state.first_ts)) return earliest;
    const stream = this.#names.stream(record.name, partition);
    try {
      const info = await this.#jsm.consumers.add(stream, {
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(timestamp).toISOString(),
        ack_policy: AckPolicy.None,
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: nanos(10_000),
      });
      const consumer = this.#js.consumers.getConsumerFromInfo(info);
      try {
        const message = await consumer.next({ expires: 2000 });
        return message === null ? latest : message.seq - 1;
      } finally {
        await consumer.delete().catch(() => undefined);
      }
    } catch (error) {
      throw toHeraldError(error, `cannot find the offset at ${timestamp} in ${record.name}/${partition}`);
    }
  }

  /** A partition's earliest retained offset and high watermark. */
  async #position(record: TopicRecord, partition: number): Promise<StreamPosition> {
    const stream = this.#names.stream(record.name, partition);
    let state: StreamState;
    try {
      state = (await this.#jsm.streams.info(stream)).state;
    } catch (error) {
      if (jetStreamCode(error) !== JS_ERRORS.streamNotFound) {
        throw toHeraldError(error, `cannot describe ${record.name}/${partition}`);
      }
      state = await this.#ensureStream(record, partition);
    }
    const latest = state.last_seq;
    const earliest = state.messages === 0 ? latest : state.first_seq - 1;
    return { earliest, latest, state };
  }

  /** Creates a partition's stream from the topic's record; an existing one is left as it is. */
  async #ensureStream(record: TopicRecord, partition: number): Promise<StreamState> {
    const name = this.#names.stream(record.name, partition);
    const window = Math.min(this.#options.duplicateWindowMs, record.retention.ms ?? Number.POSITIVE_INFINITY);
    const config: Partial<StreamConfig> & { name: string } = {
      name,
      subjects: [this.#names.subject(record.name, partition)],
      retention: JsRetention.Limits,
      storage: this.#options.storage === 'memory' ? StorageType.Memory : StorageType.File,
      num_replicas: this.#options.replicas,
      discard: DiscardPolicy.Old,
      max_age: record.retention.ms === undefined ? 0 : nanos(record.retention.ms),
      max_bytes: record.retention.bytes ?? -1,
      duplicate_window: nanos(window),
      allow_direct: true,
      deny_delete: true,
    };
    try {
      return (await this.#jsm.streams.add(config)).state;
    } catch (error) {
      if (jetStreamCode(error) === JS_ERRORS.streamNameInUse)
        return (await this.#jsm.streams.info(name)).state;
      throw toHeraldError(error, `cannot create the stream of ${record.name}/${partition}`, {
        topic: record.name,
        partition,
      });
    }
  }

  async #topic(name: string): Promise<TopicRecord> {
    const cached = this.#topics.get(name);
    if (cached !== undefined) return cached;
    if (!isTopicName(name)) throw unknownTopic(name);
    let entry;
    try {
      entry = await this.#topicsKv.get(this.#names.topicKey(name));
    } catch (error) {
      if (this.#closed) throw closedError();
      throw toHeraldError(error, `cannot look up topic "${name}"`, { topic: name });
    }
    if (entry === null) throw unknownTopic(name);
    const record = parseTopic(entry.value);
    this.#topics.set(name, record);
    return record;
  }

  // ---- consumer groups ----

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#assertOpen();
    const settings = subscribeSettings(options, { minSessionTimeoutMs: MIN_SESSION_TIMEOUT_MS });
    const subscription = new NatsSubscription(this.#internals, settings, () =>
      this.#subscriptions.delete(subscription),
    );
    await subscription.validate();
    this.#subscriptions.add(subscription);
    try {
      await subscription.join();
    } catch (error) {
      this.#subscriptions.delete(subscription);
      await subscription.close().catch(() => undefined);
      throw error;
    }
    return subscription;
  }

  async listGroups(): Promise<readonly string[]> {
    this.#assertOpen();
    try {
      const keys = await this.#groupsKv.keys(this.#names.groupKeys());
      const records = await mapLimit(keys, PARALLEL_REQUESTS, async (key) => {
        const entry = await this.#groupsKv.get(key);
        return entry === null ? undefined : parseGroup(entry.value).group;
      });
      return records.filter((g): g is string => g !== undefined).sort();
    } catch (error) {
      throw toHeraldError(error, 'cannot list consumer groups');
    }
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    this.#assertOpen();
    let record: GroupRecord | undefined;
    try {
      const entry = await this.#groupsKv.get(this.#names.groupKey(group));
      record = entry === null ? undefined : parseGroup(entry.value);
    } catch (error) {
      throw toHeraldError(error, `cannot describe group "${group}"`);
    }
    if (record === undefined) return { group, members: [], partitions: [] };
    const members = describeMembers(record);
    const partitions = await this.#groupPositions(group, record.topics);
    return { group, members, partitions };
  }

  /** Committed offset, high watermark and lag of every partition of `topics` for a group. */
  async #groupPositions(group: string, topics: readonly string[]): Promise<GroupPartitionState[]> {
    const records: TopicRecord[] = [];
    for (const topic of topics) {
      try {
        records.push(await this.#topic(topic));
      } catch (error) {
        if (!isHeraldError(error, 'UNKNOWN_TOPIC')) throw error;
      }
    }
    const wanted = records.flatMap((r) =>
      Array.from({ length: r.partitions }, (_, partition) => ({ r, partition })),
    );
    return mapLimit(wanted, PARALLEL_REQUESTS, async ({ r, partition }): Promise<GroupPartitionState> => {
      const [offset, position] = await Promise.all([
        this.#offsetRecord(group, r.name, partition),
        this.#position(r, partition),
      ]);
      const committed = offset?.record.committed ?? null;
      return {
        topic: r.name,
        partition,
        committed,
        latest: position.latest,
        lag: Math.max(0, position.latest - (committed ?? position.earliest)),
        ...(offset?.record.replayUntil === undefined ? {} : { replayUntil: offset.record.replayUntil }),
      };
    });
  }

  async #offsetRecord(
    group: string,
    topic: string,
    partition: number,
  ): Promise<{ record: OffsetRecord; revision: number } | undefined> {
    try {
      const entry = await this.#groupsKv.get(this.#names.offsetKey(group, topic, partition));
      return entry === null ? undefined : { record: parseOffset(entry.value), revision: entry.revision };
    } catch (error) {
      throw toHeraldError(error, `cannot read the position of group "${group}" in ${topic}/${partition}`);
    }
  }

  /**
   * Moves a group's committed offsets (see EventLog.resetGroup). Refused with CONFLICT while the
   * group has live members. While it writes the offsets the group record is locked for at most
   * `RESET_LOCK_MS`: a member that joins meanwhile claims nothing until the offsets are in
   * place, and a reset that dies midway leaves the lock to expire. A position that moved
   * between planning and writing (a late commit) fails the reset with CONFLICT; run it again.
   */
  async resetGroup(group: string, options: ResetGroupOptions): Promise<readonly GroupResetPlan[]> {
    this.#assertOpen();
    if (options.record !== undefined) {
      throw new HeraldError(
        'UNSUPPORTED',
        'NATS keeps no documents beside its streams: a record cannot be stored with the reset',
      );
    }
    const { to, dryRun = false } = options;
    if (!(typeof to === 'object' && 'offsets' in to)) checkStartPosition(to);
    const key = this.#names.groupKey(group);
    const entry = await this.#groupsKv.get(key).catch((error: unknown) => {
      throw toHeraldError(error, `cannot read group "${group}"`);
    });
    const record = entry === null ? undefined : parseGroup(entry.value);
    const topics = options.topics ?? record?.topics ?? [];
    if (topics.length === 0) throw invalid(`group "${group}" has no positions; name the topics to reset`);
    const plan: { step: GroupResetPlan; revision: number; current: OffsetRecord | undefined }[] = [];
    for (const name of topics) {
      const topic = await this.#topic(name);
      for (let partition = 0; partition < topic.partitions; partition++) {
        let target: number;
        if (typeof to === 'object' && 'offsets' in to) {
          const wanted = to.offsets.find((p) => p.topic === name && p.partition === partition);
          if (wanted === undefined) continue;
          const { earliest, latest } = await this.#position(topic, partition);
          checkCommitOffset({ topic: name, partition, offset: wanted.offset }, latest);
          target = Math.max(wanted.offset, earliest);
        } else {
          target = await this.#resolveStart(topic, partition, to);
        }
        const current = await this.#offsetRecord(group, name, partition);
        plan.push({
          step: { topic: name, partition, from: current?.record.committed ?? null, to: target },
          revision: current?.revision ?? 0,
          current: current?.record,
        });
      }
    }
    const steps = plan.map((p) => p.step);
    if (dryRun) return steps;

    const now = Date.now();
    const live = Object.values(record?.members ?? {}).filter((m) => !isExpired(m, now));
    if (live.length > 0) {
      throw new HeraldError(
        'CONFLICT',
        `group "${group}" has ${live.length} live member(s); stop its consumers before resetting`,
      );
    }
    let locked = record ?? emptyGroup(group);
    for (const memberId of Object.keys(locked.members)) locked = removeMember(locked, memberId);
    const lockedUntil = now + RESET_LOCK_MS;
    locked = { ...locked, topics: [...new Set([...locked.topics, ...topics])].sort(), lockedUntil };
    const lockedAt = await this.#groupsKv
      .update(key, serializeGroup(locked), entry?.revision ?? 0)
      .catch((error: unknown) => {
        throw toHeraldError(error, `cannot lock group "${group}"`);
      });
    if (lockedAt === null) {
      throw new HeraldError('CONFLICT', `group "${group}" changed while it was being reset; try again`);
    }
    try {
      for (const { step, revision, current } of plan) {
        const replayUntil = step.from !== null && step.from > step.to ? step.from : undefined;
        const kept = current?.replayUntil;
        const next: OffsetRecord = {
          committed: step.to,
          epoch: current?.epoch ?? 0,
          updatedAt: Date.now(),
          ...(replayUntil === undefined && kept === undefined
            ? {}
            : { replayUntil: Math.max(replayUntil ?? 0, kept ?? 0) }),
        };
        const written = await this.#groupsKv
          .update(this.#names.offsetKey(group, step.topic, step.partition), serializeOffset(next), revision)
          .catch((error: unknown) => {
            throw toHeraldError(error, `cannot reset ${step.topic}/${step.partition} for group "${group}"`);
          });
        if (written === null) {
          throw new HeraldError(
            'CONFLICT',
            `the position of group "${group}" in ${step.topic}/${step.partition} moved during the reset; run it again`,
          );
        }
      }
    } finally {
      await this.#unlockGroup(key, lockedUntil);
    }
    return steps;
  }

  /** Clears the reset lock `lockedUntil` (members may have joined since); best effort, it expires anyway. */
  async #unlockGroup(key: string, lockedUntil: number): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const entry = await this.#groupsKv.get(key);
        if (entry === null) return;
        const record = parseGroup(entry.value);
        if (record.lockedUntil !== lockedUntil) return;
        const { lockedUntil: _released, ...unlocked } = record;
        if ((await this.#groupsKv.update(key, serializeGroup(unlocked), entry.revision)) !== null) return;
      } catch {
        return;
      }
    }
  }

  // ---- lifecycle ----

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((s) => s.close()));
    await this.#nc.close().catch(() => undefined);
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

/** A stored message as the read path uses it. */
interface StoredMessage {
  readonly headers: MsgHdrs | undefined;
  readonly data: Uint8Array;
  readonly sequence: number;
  readonly timestamp: number;
}

/**
 * Connects to NATS and opens the log. Rejects with BACKEND_UNAVAILABLE when no server answers
 * or JetStream is not enabled.
 *
 * @example
 * await using log = await openNatsLog({ servers: ['127.0.0.1:4222'], namespace: 'staging' });
 */
export function openNatsLog(options: NatsLogOptions): Promise<NatsLog> {
  return NatsLog.open(options);
}

/**
 * Opens the log a `nats://host:port[,host:port]?namespace=…` URL names (see `parseNatsUrl`).
 * This is what `openEventLog('nats://…')` calls.
 */
export function openLogFromUrl(url: string): Promise<NatsLog> {
  return NatsLog.open(parseNatsUrl(url));
}

function toStoredEvent(
  topic: string,
  partition: number,
  headers: MsgHdrs | undefined,
  data: Uint8Array,
  sequence: number,
  timestamp: number,
): StoredEvent {
  let event: CloudEvent;
  try {
    event = decodeCloudEvent(headers, data);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new HeraldError(
      'DECODE_FAILED',
      `message ${topic}/${partition}@${sequence - 1} is not a CloudEvent: ${reason}`,
      {
        cause: error,
        details: {
          topic,
          partition,
          offset: sequence - 1,
          timestamp,
          record: {
            key: null,
            value: Buffer.from(data).toString('base64'),
            headers: [...(headers ?? [])].flatMap(([name, values]) =>
              values.map((value) => [name, Buffer.from(value, 'utf8').toString('base64')] as const),
            ),
          },
        } satisfies ForeignRecordDetails,
      },
    );
  }
  return { ...event, topic, partition, offset: sequence - 1, timestamp };
}

/** True when a stored message carries the same attributes and data as the one just published. */
function sameMessage(stored: StoredMessage, parts: NatsMessageParts): boolean {
  const attributes = (headers: MsgHdrs | undefined): string =>
    JSON.stringify(
      [...(headers ?? [])]
        .filter(([name]) => /^(ce-|content-type$|herald-data$)/i.test(name))
        .map(([name, values]) => [name.toLowerCase(), values])
        .sort(),
    );
  return (
    attributes(stored.headers) === attributes(parts.headers) &&
    Buffer.compare(Buffer.from(stored.data), Buffer.from(parts.data)) === 0
  );
}

/** Milliseconds since the epoch of an RFC 3339 time with up to nanosecond digits (truncated, not rounded). */
export function millisOf(time: string): number {
  const match = /^(.+T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(time);
  if (match === null) return Date.parse(time);
  const fraction = (match[2] ?? '').padEnd(3, '0').slice(0, 3);
  return Date.parse(`${match[1]!}${match[3]!}`) + Number(fraction);
}

function unknownTopic(name: string): HeraldError {
  return new HeraldError('UNKNOWN_TOPIC', `topic "${String(name)}" does not exist`, {
    details: { topic: name },
  });
}

function closedError(): HeraldError {
  return new HeraldError('CLOSED', 'the log is closed');
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
