import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError, isHeraldError } from '@herald/core';
import type {
  ForeignRecordDetails,
  AppendOptions,
  AppendResult,
  CloudEvent,
  CreateTopicOptions,
  EventLog,
  GroupDescription,
  GroupMember,
  GroupPartitionState,
  GroupResetPlan,
  LogCapabilities,
  ReadOptions,
  ResetGroupOptions,
  RetentionPolicy,
  StoredEvent,
  SubscribeOptions,
  Subscription,
  TopicDescription,
  TopicInfo,
  TopicPartition,
} from '@herald/core';
import {
  MAX_TOPIC_NAME_LENGTH,
  PartitionChooser,
  assertRecordSize,
  assertTopicName,
  checkPartition,
  checkCommitOffset,
  checkPartitionCount,
  checkReadOptions,
  checkRetention,
  checkStartPosition,
  compareTopicPartitions,
  faultHooksFor,
  faultInjection,
  isTopicName,
  subscribeSettings,
  telemetryOf,
} from '@herald/core/backend';
import type { FaultInjectable } from '@herald/core/backend';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import type { MessageToProduce } from '@platformatic/kafka';
import { decodeCloudEvent, encodeForProducer } from './cloud-event-binding.ts';
import { GROUP_MEMBERSHIP_ERRORS, hasKafkaError, toHeraldError } from './kafka-errors.ts';
import { clientOptions, resolveKafkaLogOptions } from './kafka-log-options.ts';
import type { KafkaLogOptions, ResolvedKafkaLogOptions } from './kafka-log-options.ts';
import { KafkaSubscription, localHeartbeats } from './kafka-subscription.ts';
import type { KafkaLogInternals } from './kafka-subscription.ts';
import { parseKafkaUrl } from './kafka-url.ts';
import { EARLIEST, KafkaWire, LATEST, fetchedRecords } from './kafka-wire.ts';
import type { FetchedRecord } from './kafka-wire.ts';
import { encodeOffsetMetadata, parseOffsetMetadata } from './offset-metadata.ts';
import { TimestampedProducer } from './timestamped-producer.ts';

/** Room in a topic's `max.message.bytes` for the record batch and header overhead around one event. */
const RECORD_OVERHEAD_BYTES = 65_536;
const READ_MAX_BYTES = 4 * 1024 * 1024;
const TOPIC_READY_TIMEOUT_MS = 10_000;

/**
 * Limits on what one produce request carries when appends are sent together (an append bigger
 * than that is sent on its own): at most this many records, and an estimated size within the
 * log's maxRecordBytes, so that the record batch of any one partition stays inside the
 * `max.message.bytes` of topics Herald creates (maxRecordBytes + 64 KiB).
 */
const COALESCE_MAX_BYTES = 512 * 1024;
const COALESCE_MAX_RECORDS = 1000;
/** A generous estimate of a record's bytes on the wire beyond its attributes and data. */
const RECORD_WIRE_OVERHEAD = 64;
const HEADER_WIRE_OVERHEAD = 16;

/** Where the broker put one record: its offset, and its batch's append time (undefined for CreateTime topics). */
interface Placement {
  readonly offset: number;
  readonly time: number | undefined;
}

/** One append's records waiting for (or in) a produce request. */
interface PendingProduce {
  readonly messages: MessageToProduce[];
  /** The records' estimated size in a record batch. */
  readonly bytes: number;
  readonly resolve: (placed: readonly (Placement | undefined)[]) => void;
  readonly reject: (error: unknown) => void;
}

/** A committed offset as the group coordinator keeps it. */
interface CommittedOffset {
  readonly offset: number;
  /** Set by `resetGroup` (kept in the offset's metadata): offsets below it are a replay. */
  readonly replayUntil: number | undefined;
}

interface SessionBounds {
  readonly min: number;
  readonly max: number;
}

/**
 * Herald's EventLog on Apache Kafka.
 *
 * - Topics are Kafka topics, created through the admin API with `retention.ms` /
 *   `retention.bytes` from the retention policy, `message.timestamp.type=LogAppendTime` (an
 *   event's timestamp is when the broker appended it) and room for records of
 *   `maxRecordBytes`.
 * - Events travel in the CloudEvents Kafka binary binding (`ce_*` headers, `content-type`,
 *   key = partitionkey, value = data), so kcat and any Kafka client read and write them.
 * - Appends go through an idempotent producer with acks=all: an append resolves only once
 *   every in-sync replica has the record, and a retried request is never written twice.
 *   The partition is the one named, else `partitionFor(partitionkey)` (Kafka's own
 *   partitioner), else round-robin.
 * - Consumer groups are Kafka consumer groups (classic protocol, eager rebalancing), driven by
 *   Herald so that `onRevoked` runs before partitions move and stale members are fenced; see
 *   `kafka-subscription.ts`. Offsets are committed only when the consumer commits.
 *
 * Differences from the embedded log, stated in `docs/kafka.md`: session timeouts are raised to
 * the broker's `group.min.session.timeout.ms` (6 s by default); `appendBatch` is atomic per
 * partition, not across partitions; records that are not CloudEvents fail to decode.
 */
export class KafkaLog implements EventLog, FaultInjectable {
  readonly capabilities: LogCapabilities;
  readonly clientId: string;
  readonly namespace: string;
  readonly [faultInjection]: FaultInjectable[typeof faultInjection];
  readonly #options: ResolvedKafkaLogOptions;
  readonly #admin: Admin;
  readonly #wire: KafkaWire;
  readonly #producer: TimestampedProducer;
  readonly #internals: KafkaLogInternals;
  readonly #subscriptions = new Set<KafkaSubscription>();
  readonly #chooser = new PartitionChooser();
  readonly #produceQueue: PendingProduce[] = [];
  #producing = false;
  #sessionBounds: Promise<SessionBounds> | undefined;
  #closed = false;
  #crashed = false;

  /** Use {@link openKafkaLog}. */
  constructor(options: KafkaLogOptions) {
    const resolved = resolveKafkaLogOptions(options);
    this.#options = resolved;
    this.clientId = resolved.clientId;
    this.namespace = resolved.namespace;
    this.capabilities = Object.freeze({
      durable: true,
      multiProcess: true,
      timestampSeek: true,
      retention: true,
      maxRecordBytes: resolved.maxRecordBytes,
      commitIntervalMs: 1000,
      telemetry: telemetryOf('kafka', resolved.brokers, 9092),
    });
    const base = clientOptions(resolved);
    this.#admin = new Admin(base);
    this.#wire = new KafkaWire(base, this.#admin);
    this.#producer = new TimestampedProducer({
      ...base,
      idempotent: true,
      // The library retries an idempotent producer forever unless told otherwise.
      retries: Math.max(2, resolved.retries),
    });
    this.#internals = {
      options: resolved,
      admin: this.#wire,
      openWire: (requestTimeoutMs) => new KafkaWire(clientOptions(resolved, requestTimeoutMs)),
      wireTopic: (topic) => this.#namespaced(topic),
      heraldTopic: (wireTopic) => wireTopic.slice(this.namespace.length),
      wireGroup: (group) => this.namespace + group,
      decode: (topic, partition, record) => toStoredEvent(topic, partition, record),
    };
    // As kill -9: every connection drops, nothing is sent; group members stay until their sessions expire.
    this[faultInjection] = faultHooksFor(this.#subscriptions, {
      stop: () => {
        if (this.#crashed || this.#closed) return false;
        this.#crashed = true;
        return true;
      },
      drop: () => {
        void this.#producer.close(true).catch(() => undefined);
        void this.#admin.close().catch(() => undefined);
      },
    });
  }

  /** Checks that a broker answers; rejects with BACKEND_UNAVAILABLE when none does. */
  async connect(): Promise<void> {
    try {
      await this.#wire.metadata([], true);
    } catch (error) {
      throw toHeraldError(error, `no Kafka broker answered at ${this.#options.brokers.join(', ')}`);
    }
  }

  async createTopic(name: string, options: CreateTopicOptions): Promise<TopicInfo> {
    this.#assertOpen();
    const wireName = this.#checkTopicName(name);
    const partitions = checkPartitionCount(options?.partitions);
    const retention = checkRetention(options.retention);
    const configs = [
      { name: 'message.timestamp.type', value: 'LogAppendTime' },
      { name: 'max.message.bytes', value: String(this.#options.maxRecordBytes + RECORD_OVERHEAD_BYTES) },
    ];
    for (const field of ['ms', 'bytes'] as const) {
      // No retention means keep forever, as on every backend; Kafka's broker default would
      // otherwise delete records after 7 days.
      configs.push({ name: `retention.${field}`, value: String(retention[field] ?? -1) });
    }
    let created;
    try {
      [created] = await this.#admin.createTopics({
        topics: [{ topic: wireName, partitions, replicas: -1 }],
        configs,
      });
    } catch (error) {
      if (hasKafkaError(error, 'TOPIC_ALREADY_EXISTS')) {
        throw new HeraldError('TOPIC_EXISTS', `topic "${name}" already exists`, {
          cause: error,
          details: { topic: name },
        });
      }
      throw toHeraldError(error, `cannot create topic "${name}"`, { topic: name });
    }
    await this.#whenReady(wireName, partitions);
    return {
      name,
      partitions,
      retention: retentionOf(Object.entries(created?.configuration ?? {})),
    };
  }

  async listTopics(): Promise<readonly TopicInfo[]> {
    this.#assertOpen();
    try {
      const names = (await this.#admin.listTopics()).filter(
        (topic) =>
          topic.startsWith(this.namespace) && topic.length > this.namespace.length && !topic.startsWith('__'),
      );
      if (names.length === 0) return [];
      const metadata = await this.#wire.metadata(names, true);
      const retention = await this.#retention(names);
      return names
        .map((wireName) => ({
          name: wireName.slice(this.namespace.length),
          partitions: metadata.topics.get(wireName)?.partitionsCount ?? 0,
          retention: retention.get(wireName) ?? {},
        }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (error) {
      throw toHeraldError(error, 'cannot list topics');
    }
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.#assertOpen();
    const wireName = this.#lookupName(name);
    try {
      const topic = await this.#wire.topic(wireName, true);
      const partitions = Array.from({ length: topic.partitionsCount }, (_, partition) => partition);
      const [retention, earliest, latest] = await Promise.all([
        this.#retention([wireName]),
        this.#wire.listOffsets(wireName, partitions, EARLIEST),
        this.#wire.listOffsets(wireName, partitions, LATEST),
      ]);
      return {
        name,
        partitions: topic.partitionsCount,
        retention: retention.get(wireName) ?? {},
        partitionInfo: partitions.map((partition) => ({
          partition,
          earliest: earliest.get(partition) ?? 0,
          latest: latest.get(partition) ?? 0,
        })),
      };
    } catch (error) {
      throw toHeraldError(error, `cannot describe topic "${name}"`, { topic: name });
    }
  }

  async append(topic: string, event: CloudEvent, options: AppendOptions = {}): Promise<AppendResult> {
    this.#assertOpen();
    const [result] = await this.#append(topic, [event], options.partition);
    return result!;
  }

  async appendBatch(topic: string, events: readonly CloudEvent[]): Promise<readonly AppendResult[]> {
    this.#assertOpen();
    if (!Array.isArray(events)) throw invalid('appendBatch expects an array of events');
    if (events.length === 0) {
      await this.#partitionCount(topic);
      return [];
    }
    return this.#append(topic, events, undefined);
  }

  async read(topic: string, options: ReadOptions): Promise<readonly StoredEvent[]> {
    this.#assertOpen();
    const count = await this.#partitionCount(topic);
    const { partition, from, limit } = checkReadOptions(topic, options, count);
    const wireName = this.#namespaced(topic);
    try {
      let offset: number;
      if (from === 'latest') return [];
      if (from === 'earliest')
        offset = (await this.#wire.listOffsets(wireName, [partition], EARLIEST)).get(partition) ?? 0;
      else if ('timestamp' in from) {
        offset =
          (
            await this.#wire.listOffsets(
              wireName,
              [partition],
              BigInt(Math.max(0, Math.floor(from.timestamp))),
            )
          ).get(partition) ?? 0;
      } else offset = from.offset;
      const events: StoredEvent[] = [];
      while (events.length < limit) {
        const fetched = (
          await this.#wire.fetch(wireName, [{ partition, offset }], {
            maxWaitMs: 0,
            maxBytes: READ_MAX_BYTES,
            partitionMaxBytes: READ_MAX_BYTES,
          })
        ).get(partition);
        if (fetched === undefined) break;
        if (fetched.errorCode === 1) {
          // OFFSET_OUT_OF_RANGE: before the oldest retained event, start there; past the end, nothing.
          const start = Number(fetched.logStartOffset);
          if (offset < start) {
            offset = start;
            continue;
          }
          break;
        }
        if (fetched.errorCode !== 0)
          throw new HeraldError(
            'BACKEND_UNAVAILABLE',
            `fetch of ${topic}/${partition} failed (Kafka error ${fetched.errorCode})`,
          );
        const records = fetchedRecords(fetched, offset);
        for (const record of records.slice(0, limit - events.length))
          events.push(toStoredEvent(topic, partition, record));
        const end = Number(fetched.lastStableOffset >= 0n ? fetched.lastStableOffset : fetched.highWatermark);
        const last = (fetched.records ?? []).at(-1);
        const next = last === undefined ? offset : Number(last.firstOffset) + last.lastOffsetDelta + 1;
        if (next <= offset || next >= end) break;
        offset = next;
      }
      return events;
    } catch (error) {
      throw toHeraldError(error, `cannot read ${topic}/${partition}`, { topic, partition });
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#assertOpen();
    const settings = subscribeSettings(options);
    for (const topic of settings.topics) await this.#partitionCount(topic);
    const bounds = await this.#groupSessionBounds();
    const subscription = new KafkaSubscription(
      this.#internals,
      {
        group: settings.group,
        topics: settings.topics,
        startAt: settings.startAt,
        sessionTimeoutMs: Math.min(bounds.max, Math.max(bounds.min, settings.sessionTimeoutMs)),
        maxBufferedEvents: settings.maxBufferedEvents,
        onRevoked: settings.onRevoked,
        onAssigned: settings.onAssigned,
        signal: settings.signal,
      },
      () => this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    await subscription.start();
    return subscription;
  }

  async listGroups(): Promise<readonly string[]> {
    this.#assertOpen();
    try {
      const groups = await this.#admin.listGroups();
      return [...groups.values()]
        .filter((group) => group.id.startsWith(this.namespace) && group.id.length > this.namespace.length)
        .filter((group) => group.state !== 'Dead')
        .map((group) => group.id.slice(this.namespace.length))
        .sort();
    } catch (error) {
      throw toHeraldError(error, 'cannot list consumer groups');
    }
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    this.#assertOpen();
    if (typeof group !== 'string' || group.length === 0) throw invalid('group must be a non-empty string');
    const wireGroup = this.namespace + group;
    try {
      const now = Date.now();
      const described = await this.#describeWireGroup(wireGroup);
      const committed = await this.#committed(wireGroup);
      const members: GroupMember[] = [];
      const subscribed = new Set<string>();
      for (const member of described?.members.values() ?? []) {
        for (const topic of member.metadata?.topics ?? []) subscribed.add(topic);
        const partitions: TopicPartition[] = [];
        for (const { topic, partitions: owned } of member.assignments?.values() ?? []) {
          if (!this.#inNamespace(topic)) continue;
          for (const partition of owned)
            partitions.push({ topic: topic.slice(this.namespace.length), partition });
        }
        members.push({
          memberId: member.id,
          clientId: member.clientId,
          lastHeartbeat: localHeartbeats.get(member.id) ?? now,
          partitions: partitions.sort(compareTopicPartitions),
        });
      }
      members.sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
      const wanted = new Map<string, Set<number>>();
      for (const [topic, partitions] of committed) {
        if (this.#inNamespace(topic)) wanted.set(topic, new Set(partitions.keys()));
      }
      for (const topic of subscribed)
        if (this.#inNamespace(topic) && !wanted.has(topic)) wanted.set(topic, new Set());
      const states: GroupPartitionState[] = [];
      for (const [topic, partitions] of [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        let count: number;
        try {
          count = (await this.#wire.topic(topic)).partitionsCount;
        } catch (error) {
          if (isHeraldError(error, 'UNKNOWN_TOPIC')) continue;
          throw error;
        }
        for (let p = 0; p < count; p++) partitions.add(p);
        const all = [...partitions].filter((p) => p < count).sort((a, b) => a - b);
        const [earliest, latest] = await Promise.all([
          this.#wire.listOffsets(topic, all, EARLIEST),
          this.#wire.listOffsets(topic, all, LATEST),
        ]);
        for (const partition of all) {
          const position = committed.get(topic)?.get(partition);
          const done = position?.offset ?? null;
          const end = latest.get(partition) ?? 0;
          states.push({
            topic: topic.slice(this.namespace.length),
            partition,
            committed: done,
            latest: end,
            lag: Math.max(0, end - (done ?? earliest.get(partition) ?? 0)),
            ...(position?.replayUntil === undefined ? {} : { replayUntil: position.replayUntil }),
          });
        }
      }
      return { group, members, partitions: states };
    } catch (error) {
      throw toHeraldError(error, `cannot describe group "${group}"`, { group });
    }
  }

  /**
   * Moves a group's committed offsets (see EventLog.resetGroup) with Kafka's own admin
   * protocol, as `kafka-consumer-groups.sh --reset-offsets` does: an OffsetCommit outside any
   * generation (generation -1, no member id). Refused with CONFLICT while the group has members;
   * the coordinator itself accepts such a commit only from a group without members, so a
   * consumer that joins between that check and the commit makes the broker refuse it, and the
   * reset fails with CONFLICT having changed nothing. What the group had handled before is
   * kept as a replay mark in each committed offset's metadata (offset-metadata.ts), which
   * `describeGroup` and the group's members read back. `record` is UNSUPPORTED: Kafka keeps no
   * documents beside its topics.
   */
  async resetGroup(group: string, options: ResetGroupOptions): Promise<readonly GroupResetPlan[]> {
    this.#assertOpen();
    if (typeof group !== 'string' || group.length === 0) throw invalid('group must be a non-empty string');
    if (options.record !== undefined) {
      throw new HeraldError(
        'UNSUPPORTED',
        'Kafka keeps no documents beside its topics: a record cannot be stored with the reset',
      );
    }
    const { to, dryRun = false } = options;
    const byOffsets = typeof to === 'object' && to !== null && 'offsets' in to;
    if (!byOffsets) checkStartPosition(to);
    const wireGroup = this.namespace + group;
    const [committed, described] = await Promise.all([
      this.#committed(wireGroup),
      this.#describeWireGroup(wireGroup),
    ]).catch((error: unknown) => {
      throw toHeraldError(error, `cannot describe group "${group}"`, { group });
    });
    const known = new Set<string>();
    for (const wireTopic of committed.keys()) if (this.#inNamespace(wireTopic)) known.add(wireTopic);
    for (const member of described?.members.values() ?? [])
      for (const wireTopic of member.metadata?.topics ?? [])
        if (this.#inNamespace(wireTopic)) known.add(wireTopic);
    const topics =
      options.topics ?? [...known].map((wireTopic) => wireTopic.slice(this.namespace.length)).sort();
    if (topics.length === 0)
      throw invalid(`group "${group}" has no positions; name the topics to reset`, { group });

    const plan: GroupResetPlan[] = [];
    const marks: (number | undefined)[] = [];
    for (const name of topics) {
      const count = await this.#partitionCount(name);
      const wireName = this.#namespaced(name);
      const wanted = byOffsets ? to.offsets.filter((p) => p.topic === name) : [];
      const partitions = Array.from({ length: count }, (_, partition) => partition).filter(
        (partition) => !byOffsets || wanted.some((p) => p.partition === partition),
      );
      if (partitions.length === 0) continue;
      try {
        const [earliest, latest, at] = await Promise.all([
          this.#wire.listOffsets(wireName, partitions, EARLIEST),
          this.#wire.listOffsets(wireName, partitions, LATEST),
          typeof to === 'object' && to !== null && 'timestamp' in to
            ? this.#wire.listOffsets(wireName, partitions, BigInt(Math.max(0, Math.floor(to.timestamp))))
            : undefined,
        ]);
        for (const partition of partitions) {
          const low = earliest.get(partition) ?? 0;
          const end = latest.get(partition) ?? 0;
          let target: number;
          if (byOffsets) {
            const offset = wanted.find((p) => p.partition === partition)!.offset;
            target = Math.max(checkCommitOffset({ topic: name, partition, offset }, end), low);
          } else if (to === 'earliest') target = low;
          else if (to === 'latest') target = end;
          else target = at?.get(partition) ?? end;
          const current = committed.get(wireName)?.get(partition);
          const from = current?.offset ?? null;
          plan.push({ topic: name, partition, from, to: target });
          // Below where the group was is a replay; an earlier reset's mark is kept (the higher wins).
          const mark = from !== null && from > target ? from : undefined;
          marks.push(
            mark === undefined && current?.replayUntil === undefined
              ? undefined
              : Math.max(mark ?? 0, current?.replayUntil ?? 0),
          );
        }
      } catch (error) {
        throw toHeraldError(error, `cannot plan the reset of group "${group}" on topic "${name}"`, {
          group,
          topic: name,
        });
      }
    }
    if (dryRun || plan.length === 0) return plan;

    const members = described?.members.size ?? 0;
    if (members > 0) {
      throw new HeraldError(
        'CONFLICT',
        `group "${group}" has ${members} live member(s); stop its consumers before resetting`,
        { details: { group, members } },
      );
    }
    const byTopic = new Map<
      string,
      {
        partitionIndex: number;
        committedOffset: bigint;
        committedLeaderEpoch: number;
        committedMetadata: string | null;
      }[]
    >();
    plan.forEach((step, i) => {
      const wireName = this.#namespaced(step.topic);
      byTopic.set(wireName, [
        ...(byTopic.get(wireName) ?? []),
        {
          partitionIndex: step.partition,
          committedOffset: BigInt(step.to),
          committedLeaderEpoch: -1,
          committedMetadata: encodeOffsetMetadata(marks[i]),
        },
      ]);
    });
    try {
      await this.#wire.coordinatorRequest(
        wireGroup,
        'OffsetCommit',
        wireGroup,
        -1,
        '',
        null,
        [...byTopic].map(([name, partitions]) => ({ name, partitions })),
      );
    } catch (error) {
      if (hasKafkaError(error, ...GROUP_MEMBERSHIP_ERRORS)) {
        throw new HeraldError(
          'CONFLICT',
          `group "${group}" got a member while it was being reset; stop its consumers and run the reset again`,
          { cause: error, details: { group } },
        );
      }
      throw toHeraldError(error, `cannot reset group "${group}"`, { group });
    }
    return plan;
  }

  /** The coordinator's description of a group (members and their subscriptions); undefined when it has none. */
  async #describeWireGroup(wireGroup: string) {
    try {
      return (await this.#admin.describeGroups({ groups: [wireGroup] })).get(wireGroup);
    } catch (error) {
      if (hasKafkaError(error, 'GROUP_ID_NOT_FOUND')) return undefined;
      throw error;
    }
  }

  /**
   * Closes every subscription (each calls `onRevoked` for what it owns and leaves its group),
   * then the producer and admin connections. Later calls refuse with `CLOSED`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()));
    await Promise.allSettled([this.#producer.close(true), this.#admin.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#closed || this.#crashed) {
      throw new HeraldError(
        'CLOSED',
        this.#crashed ? 'the Kafka log client has crashed' : 'the Kafka log is closed',
      );
    }
  }

  #namespaced(topic: string): string {
    return this.namespace + topic;
  }

  #inNamespace(wireName: string): boolean {
    return wireName.startsWith(this.namespace) && wireName.length > this.namespace.length;
  }

  /** A valid Herald topic name for this namespace, as named on the cluster; else INVALID_ARGUMENT. */
  #checkTopicName(name: string): string {
    assertTopicName(name, MAX_TOPIC_NAME_LENGTH - this.namespace.length);
    return this.#namespaced(name);
  }

  /** A name to look up: one that cannot exist on Kafka is simply unknown. */
  #lookupName(name: string): string {
    if (!isTopicName(name, MAX_TOPIC_NAME_LENGTH - this.namespace.length)) {
      throw new HeraldError('UNKNOWN_TOPIC', `topic "${String(name)}" does not exist`, {
        details: { topic: name },
      });
    }
    return this.#namespaced(name);
  }

  async #partitionCount(topic: string): Promise<number> {
    const wireName = this.#lookupName(topic);
    try {
      return (await this.#wire.topic(wireName)).partitionsCount;
    } catch (error) {
      throw toHeraldError(error, `cannot look up topic "${topic}"`, { topic });
    }
  }

  /** Validates and encodes every event before sending any, so one bad event sends none. */
  async #append(
    topic: string,
    events: readonly CloudEvent[],
    partition: number | undefined,
  ): Promise<AppendResult[]> {
    const count = await this.#partitionCount(topic);
    if (partition !== undefined) checkPartition(topic, partition, count);
    const wireName = this.#namespaced(topic);
    const timestamp = Date.now();
    const producerTimestamp = BigInt(timestamp);
    let bytes = 0;
    const records = events.map((event) => {
      const record = encodeForProducer(event);
      assertRecordSize(event, record.bytes, this.capabilities.maxRecordBytes, 'Kafka');
      return record;
    });
    const messages: MessageToProduce[] = events.map((event, i) => {
      const record = records[i]!;
      bytes += record.bytes + RECORD_WIRE_OVERHEAD + HEADER_WIRE_OVERHEAD * record.headers.size;
      const message: MessageToProduce = {
        topic: wireName,
        partition: this.#chooser.choose(topic, count, event, partition),
        headers: record.headers,
        timestamp: producerTimestamp,
      };
      if (record.key !== null) message.key = record.key;
      if (record.value !== null) message.value = record.value;
      return message;
    });
    let placed;
    try {
      placed = await this.#produce(messages, bytes);
    } catch (error) {
      if (this.#closed || this.#crashed)
        throw new HeraldError('CLOSED', 'the Kafka log was closed during the append', { cause: error });
      throw toHeraldError(error, `append to "${topic}" was not acknowledged`, { topic });
    }
    return messages.map((message, i) => {
      const p = message.partition!;
      const placement = placed[i];
      if (placement === undefined)
        throw new HeraldError('BACKEND_UNAVAILABLE', `the broker did not report an offset for ${topic}/${p}`);
      return { topic, partition: p, offset: placement.offset, timestamp: placement.time ?? timestamp };
    });
  }

  /**
   * Sends one append's records and resolves with where each landed (undefined for a record
   * whose partition the broker did not report). One produce request is in flight at a time;
   * appends made meanwhile wait and then go together in the next request (up to
   * COALESCE_MAX_BYTES and COALESCE_MAX_RECORDS), as Kafka's own producer batches what is sent
   * while a request is out. A broker handles one request per connection at a time, so one
   * request per append would cap a busy process at a few thousand appends per second and let a
   * queue of tiny requests build up behind any pause. A lone append is sent at once. Order is
   * kept: requests go out in the order the appends were made, and each append's records stay
   * together, in order, in one record batch per partition.
   */
  #produce(messages: MessageToProduce[], bytes: number): Promise<readonly (Placement | undefined)[]> {
    return new Promise((resolve, reject) => {
      this.#produceQueue.push({ messages, bytes, resolve, reject });
      if (!this.#producing) void this.#sendQueued();
    });
  }

  async #sendQueued(): Promise<void> {
    this.#producing = true;
    try {
      while (this.#produceQueue.length > 0) {
        const group = this.#takeQueued();
        let produced;
        try {
          produced = await this.#producer.send({
            messages: group.length === 1 ? group[0]!.messages : group.flatMap((pending) => pending.messages),
          });
        } catch (error) {
          for (const pending of group) pending.reject(error);
          continue;
        }
        // One record batch per partition: its records have consecutive offsets from the batch's
        // base offset, in request order, and share the batch's append time.
        const batches = new Map<string, { base: number; time: number | undefined }>();
        for (const entry of produced.offsets ?? []) {
          batches.set(`${entry.topic}\u0000${entry.partition}`, {
            base: Number(entry.offset),
            time: this.#producer.appendTime(entry.topic, entry.partition, entry.offset),
          });
        }
        const next = new Map<string, number>();
        for (const pending of group) {
          pending.resolve(
            pending.messages.map((message) => {
              const key = `${message.topic}\u0000${message.partition}`;
              const batch = batches.get(key);
              if (batch === undefined) return undefined;
              const index = next.get(key) ?? 0;
              next.set(key, index + 1);
              return { offset: batch.base + index, time: batch.time };
            }),
          );
        }
      }
    } finally {
      this.#producing = false;
    }
  }

  /** The appends the next request carries: the oldest waiting, and those after it that fit. */
  #takeQueued(): PendingProduce[] {
    const group = [this.#produceQueue.shift()!];
    const maxBytes = Math.min(COALESCE_MAX_BYTES, this.capabilities.maxRecordBytes);
    let bytes = group[0]!.bytes;
    let records = group[0]!.messages.length;
    while (this.#produceQueue.length > 0) {
      const pending = this.#produceQueue[0]!;
      if (bytes + pending.bytes > maxBytes || records + pending.messages.length > COALESCE_MAX_RECORDS) break;
      group.push(this.#produceQueue.shift()!);
      bytes += pending.bytes;
      records += pending.messages.length;
    }
    return group;
  }

  /** Waits until the new topic has a leader for every partition, so every client can use it at once. */
  async #whenReady(wireName: string, partitions: number): Promise<void> {
    const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
    while (true) {
      try {
        const topic = await this.#wire.topic(wireName, true);
        if (
          topic.partitionsCount === partitions &&
          topic.partitions.every((p) => p !== undefined && p.leader >= 0)
        )
          return;
      } catch (error) {
        if (!isHeraldError(error, 'UNKNOWN_TOPIC'))
          throw toHeraldError(error, `topic "${wireName}" was created but cannot be read`);
      }
      if (Date.now() > deadline) {
        throw new HeraldError(
          'TIMEOUT',
          `topic "${wireName}" was created but has no leaders after ${TOPIC_READY_TIMEOUT_MS} ms`,
        );
      }
      await sleep(50);
    }
  }

  async #retention(wireNames: readonly string[]): Promise<Map<string, RetentionPolicy>> {
    const described = await this.#admin.describeConfigs({
      resources: wireNames.map((resourceName) => ({
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName,
        configurationKeys: ['retention.ms', 'retention.bytes'],
      })),
    });
    return new Map(
      described.map((resource) => [
        resource.resourceName,
        retentionOf(resource.configs.map((config) => [config.name, config.value])),
      ]),
    );
  }

  /**
   * The group's committed offsets by wire topic and partition (only partitions it committed),
   * with the replay mark kept in each offset's metadata.
   */
  async #committed(wireGroup: string): Promise<Map<string, Map<number, CommittedOffset>>> {
    const committed = new Map<string, Map<number, CommittedOffset>>();
    let groups;
    try {
      groups = await this.#admin.listConsumerGroupOffsets({ groups: [wireGroup] });
    } catch (error) {
      if (hasKafkaError(error, 'GROUP_ID_NOT_FOUND')) return committed;
      throw error;
    }
    for (const group of groups) {
      for (const topic of group.topics) {
        for (const partition of topic.partitions) {
          if (partition.committedOffset < 0n) continue;
          const byPartition = committed.get(topic.name) ?? new Map<number, CommittedOffset>();
          byPartition.set(partition.partitionIndex, {
            offset: Number(partition.committedOffset),
            replayUntil: parseOffsetMetadata(partition.metadata),
          });
          committed.set(topic.name, byPartition);
        }
      }
    }
    return committed;
  }

  /** The broker's bounds on classic group session timeouts (6 s to 30 min by default). */
  #groupSessionBounds(): Promise<SessionBounds> {
    this.#sessionBounds ??= (async () => {
      try {
        const metadata = await this.#wire.metadata([]);
        const broker = [...metadata.brokers.keys()][0];
        if (broker === undefined) return { min: 1, max: Number.MAX_SAFE_INTEGER };
        const [described] = await this.#admin.describeConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.BROKER,
              resourceName: String(broker),
              configurationKeys: ['group.min.session.timeout.ms', 'group.max.session.timeout.ms'],
            },
          ],
        });
        const value = (name: string, fallback: number): number => {
          const found = Number(described?.configs.find((config) => config.name === name)?.value);
          return Number.isSafeInteger(found) && found > 0 ? found : fallback;
        };
        return {
          min: value('group.min.session.timeout.ms', 1),
          max: value('group.max.session.timeout.ms', Number.MAX_SAFE_INTEGER),
        };
      } catch {
        // Not allowed to read broker configs: the broker itself refuses a timeout out of bounds at JoinGroup.
        return { min: 1, max: Number.MAX_SAFE_INTEGER };
      }
    })();
    return this.#sessionBounds;
  }
}

/**
 * Opens a Kafka log client and checks that a broker answers (BACKEND_UNAVAILABLE otherwise).
 *
 * @example
 * await using log = await openKafkaLog({ brokers: ['127.0.0.1:9092'], clientId: 'orders' });
 * await log.createTopic('orders', { partitions: 8, retention: { ms: 7 * 86_400_000 } });
 */
export async function openKafkaLog(options: KafkaLogOptions): Promise<KafkaLog> {
  const log = new KafkaLog(options);
  try {
    await log.connect();
  } catch (error) {
    await log.close();
    throw error;
  }
  return log;
}

/**
 * Opens the log a `kafka://host:port[,host:port]?clientId=…` URL names (see `parseKafkaUrl`).
 * This is what `openEventLog('kafka://…')` calls.
 */
export async function openLogFromUrl(url: string): Promise<KafkaLog> {
  return openKafkaLog(parseKafkaUrl(url));
}

function toStoredEvent(topic: string, partition: number, record: FetchedRecord): StoredEvent {
  let event: CloudEvent;
  try {
    event = decodeCloudEvent(record);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new HeraldError(
      'DECODE_FAILED',
      `record ${topic}/${partition}@${record.offset} is not a CloudEvent: ${reason}`,
      {
        cause: error,
        // What a tool needs to show the record as it is (`herald tail` prints it, marked).
        details: {
          topic,
          partition,
          offset: record.offset,
          timestamp: record.timestamp,
          record: {
            key: record.key?.toString('base64') ?? null,
            value: record.value?.toString('base64') ?? null,
            headers: record.headers.map(([name, value]) => [
              name?.toString('utf8') ?? null,
              value?.toString('base64') ?? null,
            ]),
          },
        } satisfies ForeignRecordDetails,
      },
    );
  }
  // A new object nobody else holds: it becomes the stored event rather than being copied into one.
  return Object.assign(event, { topic, partition, offset: record.offset, timestamp: record.timestamp });
}

function retentionOf(configs: readonly (readonly [string, string | null | undefined])[]): RetentionPolicy {
  const retention: { ms?: number; bytes?: number } = {};
  for (const [name, value] of configs) {
    const number = Number(value);
    if (!Number.isSafeInteger(number) || number < 0) continue;
    if (name === 'retention.ms') retention.ms = number;
    if (name === 'retention.bytes') retention.bytes = number;
  }
  return retention;
}

function invalid(message: string, details: Record<string, unknown> = {}): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', message, { details });
}
