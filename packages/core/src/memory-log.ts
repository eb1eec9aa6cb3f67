import { redactUrl } from './redact-url.ts';
import { ClaimHistory } from './backend/claim-history.ts';
import type { DeliveryClaim } from './backend/claim-history.ts';
import { DeliveryQueue } from './backend/delivery-queue.ts';
import type { GroupCell, GroupStep } from './backend/group-cell.ts';
import { GroupMembership, commitRequest } from './backend/group-membership.ts';
import {
  assignTargets,
  describeMembers,
  emptyGroup,
  ownershipChanges,
  reapExpired,
} from './backend/group-protocol.ts';
import type { GroupRecord, HeldClaim, PartitionRecord } from './backend/group-protocol.ts';
import { PartitionChooser } from './backend/partition-chooser.ts';
import { assertRecordSize, recordBytes } from './backend/record-size.ts';
import { subscribeSettings } from './backend/subscribe-settings.ts';
import { telemetryOf } from './backend/telemetry-of.ts';
import type { SubscribeSettings } from './backend/subscribe-settings.ts';
import {
  compareTopicPartitions,
  parseTopicPartitionKey,
  topicPartitionKey,
} from './backend/topic-partition-key.ts';
import {
  assertTopicName,
  checkCommitOffset,
  checkPartition,
  checkPartitionCount,
  checkReadOptions,
  checkRetention,
} from './backend/validation.ts';
import { OPTIONAL_ATTRIBUTES, assertValidEnvelope } from './envelope.ts';
import type { CloudEvent, StoredEvent } from './envelope.ts';
import { HeraldError } from './errors.ts';
import { faultInjection } from './event-log.ts';
import type {
  AppendOptions,
  AppendResult,
  CreateTopicOptions,
  EventLog,
  FaultInjectable,
  GroupDescription,
  GroupMember,
  GroupPartitionState,
  LogCapabilities,
  PartitionOffset,
  ReadOptions,
  ReadPosition,
  RetentionPolicy,
  SubscribeOptions,
  Subscription,
  TopicDescription,
  TopicInfo,
  TopicPartition,
} from './event-log.ts';

/*
 * The in-memory log. One `Broker` holds the state that a real broker (or the SQLite file)
 * holds: topics with their events, and consumer groups. Each `MemoryLog` is a client of a
 * broker, the way a process is a client of Kafka or of the shared SQLite file; several clients
 * on one broker share topics and groups.
 *
 * Every broker operation below is synchronous and therefore atomic; in the SQLite backend each
 * one is a single write transaction over the tables named in its comment. Broker operations
 * never call back into clients synchronously: notifications are queued as microtasks, as if
 * they crossed a network.
 *
 * ## Consumer groups (core's group protocol, as on SQLite and NATS)
 *
 * State per group: the protocol's record (members with their leases; per partition its
 * owner, target and epoch; a generation bumped on every membership change) plus the committed
 * offsets ((topic, partition) → next offset to read, only ever increasing). The broker applies
 * core's steps to the record synchronously — that is its group cell (`Broker.cell`) — and a
 * subscription's member side is core's `GroupMembership` over that cell, the same code the
 * durable backends run:
 *
 * - A member heartbeats every third of its session timeout; each round renews its lease,
 *   expires the others whose lease ran out, assigns targets after a membership change and
 *   claims the free partitions targeted at it. Members are woken at once when the membership
 *   changes or a partition changes hands, so a handover does not wait for a heartbeat.
 * - A partition moves in two steps: its owner stops delivering it, awaits `onRevoked`, then
 *   frees it; its target claims it once free (epoch + 1) and reads from the committed offset.
 * - A commit succeeds only while the member owns each partition under the epoch it claimed
 *   with, and only for events delivered under that claim (core's `DeliveryClaim`); otherwise
 *   `FENCED`. A commit lower than the committed offset is ignored.
 * - A member that finds itself gone from the record (another member expired it) drops
 *   everything silently and joins again as a new member. A member that heartbeats late but was
 *   expired by nobody keeps its lease and its partitions, as on every backend.
 * - `describeGroup` expires members whose lease ran out before it answers, as whoever writes
 *   the record next would.
 */

/** Largest record the memory log accepts by default, like Kafka's default `message.max.bytes`. */
const DEFAULT_MAX_RECORD_BYTES = 1_048_576;
const BROKER_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * The shared state of in-memory logs: topics, events and consumer groups. Clients opened on
 * the same broker share one log, as processes sharing a real broker do.
 * Create one with {@link createMemoryBroker}; pass it to {@link openMemoryLog}.
 */
export interface MemoryBroker {
  readonly kind: 'herald.memory-broker';
}

/** Creates an empty broker that several {@link openMemoryLog} clients can share. */
export function createMemoryBroker(): MemoryBroker {
  return new Broker();
}

export interface MemoryLogOptions {
  /** The broker to connect to; without one, the client gets a private broker. */
  readonly broker?: MemoryBroker;
  /** Shown as `clientId` of this client's group members. */
  readonly clientId?: string;
  /** Records larger than this are refused with `TOO_LARGE`. Default 1 MiB. */
  readonly maxRecordBytes?: number;
}

/**
 * Opens an in-memory log client. Nothing survives the broker: `capabilities.durable` is false.
 *
 * @example
 * const broker = createMemoryBroker();
 * await using producer = await openMemoryLog({ broker });
 * await using consumer = await openMemoryLog({ broker }); // sees the producer's topics and events
 */
export async function openMemoryLog(options: MemoryLogOptions = {}): Promise<MemoryLog> {
  return Promise.resolve(new MemoryLog(options));
}

const namedBrokers = new Map<string, Broker>();

/**
 * Opens a memory log by URL: `memory:` gets a fresh private broker; `memory:<name>` the broker
 * of that name, shared by every client in this process that opens the same name, for the
 * lifetime of the process. Names use letters, digits, `.`, `_` and `-`.
 * This is what `openEventLog('memory:…')` calls.
 */
export async function openLogFromUrl(url: string): Promise<MemoryLog> {
  const match = /^memory:(.*)$/is.exec(url);
  const name = match?.[1];
  if (name === undefined || (name !== '' && !BROKER_NAME.test(name))) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `unsupported memory log URL "${redactUrl(url)}": expected "memory:" or "memory:<name>" (letters, digits, ".", "_", "-")`,
    );
  }
  if (name === '') return openMemoryLog();
  let broker = namedBrokers.get(name);
  if (broker === undefined) {
    broker = new Broker();
    namedBrokers.set(name, broker);
  }
  return openMemoryLog({ broker });
}

// ---------------------------------------------------------------------------------------------
// Broker: topics, events, groups.

interface TopicState {
  readonly name: string;
  readonly retention: RetentionPolicy;
  /** Per partition, the events by offset (no retention: offset = index). */
  readonly partitions: StoredEvent[][];
}

interface GroupState {
  record: GroupRecord;
  /** The record's partitions by `topicPartitionKey`, rebuilt whenever they change. */
  owners: Map<string, PartitionRecord>;
  readonly committed: Map<string, number>;
}

interface BrokerListener {
  readonly topics: ReadonlySet<string>;
  readonly group: string;
  /** Events were appended to one of `topics`. */
  onAppend(): void;
  /** The group's membership or ownership changed. */
  onGroupChange(): void;
}

interface CommitPosition extends PartitionOffset {
  readonly epoch: number;
}

class Broker implements MemoryBroker {
  readonly kind = 'herald.memory-broker';
  readonly topics = new Map<string, TopicState>();
  readonly groups = new Map<string, GroupState>();
  readonly listeners = new Set<BrokerListener>();

  topic(name: string): TopicState {
    const topic = this.topics.get(name);
    if (topic === undefined) {
      throw new HeraldError('UNKNOWN_TOPIC', `topic "${name}" does not exist`, { details: { topic: name } });
    }
    return topic;
  }

  partition(topic: string, partition: number): StoredEvent[] {
    const state = this.topic(topic);
    const events = state.partitions[partition];
    if (events === undefined || !Number.isInteger(partition)) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `topic "${topic}" has partitions 0..${state.partitions.length - 1}, not ${String(partition)}`,
        { details: { topic, partition } },
      );
    }
    return events;
  }

  /** Appends validated, copied events; all or nothing because nothing here can fail. */
  append(
    topic: string,
    placed: readonly { readonly event: CloudEvent; readonly partition: number }[],
  ): AppendResult[] {
    const state = this.topic(topic);
    const results = placed.map(({ event, partition }) => {
      const events = state.partitions[partition]!;
      const previous = events.at(-1)?.timestamp ?? 0;
      // Timestamps never decrease within a partition, so a timestamp seek is a binary search.
      const timestamp = Math.max(Date.now(), previous);
      const offset = events.length;
      events.push(Object.freeze(copyEvent(event, { topic, partition, offset, timestamp })));
      return { topic, partition, offset, timestamp };
    });
    this.#notify((listener) => listener.topics.has(topic), 'append');
    return results;
  }

  /** First offset at or after `position` in one partition. */
  resolve(topic: string, partition: number, position: ReadPosition): number {
    const events = this.partition(topic, partition);
    if (position === 'earliest') return 0;
    if (position === 'latest') return events.length;
    if ('offset' in position) return Math.min(position.offset, events.length);
    let low = 0;
    let high = events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (events[middle]!.timestamp < position.timestamp) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  group(name: string): GroupState {
    let group = this.groups.get(name);
    if (group === undefined) {
      group = { record: emptyGroup(name), owners: new Map(), committed: new Map() };
      this.groups.set(name, group);
    }
    return group;
  }

  /** Removes the group's expired members, as whoever writes the record next would. */
  reap(name: string, now: number): void {
    const group = this.group(name);
    this.#change(name, group, reapExpired(group.record, now));
  }

  /** The group's record as core's group cell: every step applies synchronously, hence atomically. */
  cell(name: string): GroupCell {
    return {
      update: <T>(step: GroupStep<T>): Promise<T> => {
        const group = this.group(name);
        const { record, result } = step(group.record, this.#partitionCounts(group.record));
        if (record !== undefined) this.#change(name, group, record);
        return Promise.resolve(result);
      },
    };
  }

  isMember(name: string, memberId: string): boolean {
    return memberId in this.group(name).record.members;
  }

  owns(name: string, memberId: string, key: string, epoch: number): boolean {
    const owner = this.group(name).owners.get(key);
    return owner?.owner === memberId && owner.epoch === epoch;
  }

  /**
   * Commits all positions or none, only while the member owns each partition under the epoch
   * it claimed with; false (nothing written) when it does not. A lower offset than the
   * committed one is ignored.
   */
  commit(name: string, memberId: string, positions: readonly CommitPosition[]): boolean {
    const group = this.group(name);
    for (const position of positions) {
      const key = topicPartitionKey(position.topic, position.partition);
      if (!this.owns(name, memberId, key, position.epoch)) return false;
      checkCommitOffset(position, this.partition(position.topic, position.partition).length);
    }
    for (const position of positions) {
      const key = topicPartitionKey(position.topic, position.partition);
      const current = group.committed.get(key);
      if (current === undefined || position.offset > current) group.committed.set(key, position.offset);
    }
    return true;
  }

  committed(name: string, topic: string, partition: number): number | undefined {
    return this.groups.get(name)?.committed.get(topicPartitionKey(topic, partition));
  }

  describe(name: string): GroupDescription {
    if (!this.groups.has(name)) return { group: name, members: [], partitions: [] };
    this.reap(name, Date.now());
    const group = this.group(name);
    const members: GroupMember[] = describeMembers(group.record).sort((a, b) =>
      a.memberId < b.memberId ? -1 : 1,
    );
    const keys = new Set<string>(group.committed.keys());
    for (const tp of this.#partitionsOf(group.record)) keys.add(topicPartitionKey(tp.topic, tp.partition));
    const partitions: GroupPartitionState[] = [...keys]
      .map(parseTopicPartitionKey)
      .sort(compareTopicPartitions)
      .map(({ topic, partition }) => {
        const committed = group.committed.get(topicPartitionKey(topic, partition)) ?? null;
        const latest = this.partition(topic, partition).length;
        // Nothing committed yet: every retained event (from earliest, 0 here) is still to be handled.
        return { topic, partition, committed, latest, lag: latest - (committed ?? 0) };
      });
    return { group: name, members, partitions };
  }

  listGroups(): string[] {
    return [...this.groups]
      .filter(([, group]) => Object.keys(group.record.members).length > 0 || group.committed.size > 0)
      .map(([name]) => name)
      .sort();
  }

  /** Every partition of the topics the group's members subscribe to. */
  #partitionsOf(record: GroupRecord): TopicPartition[] {
    const topics = new Set(Object.values(record.members).flatMap((member) => member.topics));
    return [...topics].flatMap((topic) =>
      this.topic(topic).partitions.map((_, partition) => ({ topic, partition })),
    );
  }

  #partitionCounts(record: GroupRecord): Map<string, number> {
    const topics = new Set(Object.values(record.members).flatMap((member) => member.topics));
    return new Map([...topics].map((topic) => [topic, this.topic(topic).partitions.length]));
  }

  /**
   * Stores the outcome of a protocol step. A new generation gets its targets at once (every
   * partition count is known here) and wakes the group's members.
   */
  #change(name: string, group: GroupState, next: GroupRecord): void {
    if (next === group.record) return;
    // Members are woken by a membership change and by a partition changing hands (a release
    // lets its target claim it); not by heartbeats.
    const wake =
      next.generation !== group.record.generation ||
      next.partitions.length !== group.record.partitions.length ||
      next.partitions.some((p, i) => p.owner !== group.record.partitions[i]?.owner);
    const assigned =
      next.generation === next.assignedGeneration ? next : assignTargets(next, this.#partitionCounts(next));
    if (assigned.partitions !== group.record.partitions) {
      group.owners = new Map(assigned.partitions.map((p) => [topicPartitionKey(p.topic, p.partition), p]));
    }
    group.record = assigned;
    if (wake) this.#notify((listener) => listener.group === name, 'group');
  }

  #notify(select: (listener: BrokerListener) => boolean, what: 'append' | 'group'): void {
    const selected = [...this.listeners].filter(select);
    if (selected.length === 0) return;
    queueMicrotask(() => {
      for (const listener of selected) {
        if (what === 'append') listener.onAppend();
        else listener.onGroupChange();
      }
    });
  }
}

type Position = Pick<StoredEvent, 'topic' | 'partition' | 'offset' | 'timestamp'>;

/**
 * A fresh object with only the CloudEvent attributes of `event` (never other properties it may
 * carry, such as the position of a re-appended StoredEvent), its own extensions object and its
 * own copy of the data bytes, so neither the caller nor a reader can change what is stored.
 */
function copyEvent(event: CloudEvent, position: Position): StoredEvent {
  const copy: Record<string, unknown> = {
    specversion: event.specversion,
    id: event.id,
    source: event.source,
    type: event.type,
  };
  for (const name of OPTIONAL_ATTRIBUTES) if (event[name] !== undefined) copy[name] = event[name];
  if (event.extensions !== undefined && Object.keys(event.extensions).length > 0) {
    copy['extensions'] = { ...event.extensions };
  }
  if (event.data !== undefined) copy['data'] = new Uint8Array(event.data);
  copy['topic'] = position.topic;
  copy['partition'] = position.partition;
  copy['offset'] = position.offset;
  copy['timestamp'] = position.timestamp;
  return copy as unknown as StoredEvent;
}

/** A stored event's own copy, for handing to a reader. */
const copyStored = (event: StoredEvent): StoredEvent => copyEvent(event, event);

function invalid(message: string, details: Record<string, unknown> = {}): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', message, { details });
}

// ---------------------------------------------------------------------------------------------
// Client.

let clientCount = 0;

/** What a client's subscriptions share with it. */
interface ClientState {
  readonly broker: Broker;
  readonly clientId: string;
  closed: boolean;
  /** Fault injection: as after kill -9. */
  crashed: boolean;
  /** Fault injection: as under SIGSTOP, until thawed. */
  frozen: boolean;
  readonly subscriptions: Set<MemorySubscription>;
}

function assertClientOpen(client: ClientState): void {
  if (client.closed || client.crashed) {
    throw new HeraldError(
      'CLOSED',
      client.crashed ? 'the memory log client has crashed' : 'the memory log is closed',
    );
  }
}

/**
 * An EventLog kept in memory, for tests, examples and `HERALD_LOG=memory:`. It implements the
 * full contract — partitions, consumer groups with rebalancing, session timeouts and fencing —
 * so code tested against it behaves the same on the durable backends. Retention policies are
 * stored but not enforced (`capabilities.retention` is false).
 *
 * Breaking out of a `for await` over a subscription does not close it; `close()` (or
 * `await using`) does.
 */
export class MemoryLog implements EventLog, FaultInjectable {
  readonly capabilities: LogCapabilities;
  /** Shown as the `clientId` of this client's group members. */
  readonly clientId: string;
  readonly [faultInjection]: FaultInjectable[typeof faultInjection];
  readonly #client: ClientState;
  readonly #broker: Broker;
  readonly #chooser = new PartitionChooser();

  constructor(options: MemoryLogOptions = {}) {
    const broker = options.broker ?? new Broker();
    if (!(broker instanceof Broker)) throw invalid('broker must come from createMemoryBroker()');
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 1) {
      throw invalid(`maxRecordBytes must be a positive integer, got ${String(maxRecordBytes)}`);
    }
    this.#broker = broker;
    this.clientId = options.clientId ?? `memory-client-${++clientCount}`;
    this.#client = {
      broker,
      clientId: this.clientId,
      closed: false,
      crashed: false,
      frozen: false,
      subscriptions: new Set(),
    };
    this.capabilities = Object.freeze({
      durable: false,
      multiProcess: false,
      timestampSeek: true,
      retention: false,
      maxRecordBytes,
      commitIntervalMs: 100,
      telemetry: telemetryOf('herald_memory'),
    });
    this[faultInjection] = {
      crash: () => this.#crash(),
      freeze: () => this.#freeze(),
      thaw: () => this.#thaw(),
    };
  }

  async createTopic(name: string, options: CreateTopicOptions): Promise<TopicInfo> {
    this.#assertOpen();
    assertTopicName(name);
    const partitions = checkPartitionCount(options?.partitions);
    const retention = checkRetention(options.retention);
    if (this.#broker.topics.has(name)) {
      throw new HeraldError('TOPIC_EXISTS', `topic "${name}" already exists`, { details: { topic: name } });
    }
    const topic: TopicState = {
      name,
      retention: Object.freeze(retention),
      partitions: Array.from({ length: partitions }, () => []),
    };
    this.#broker.topics.set(name, topic);
    return Promise.resolve(topicInfo(topic));
  }

  async listTopics(): Promise<readonly TopicInfo[]> {
    this.#assertOpen();
    return Promise.resolve(
      [...this.#broker.topics.values()].map(topicInfo).sort((a, b) => (a.name < b.name ? -1 : 1)),
    );
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.#assertOpen();
    const topic = this.#broker.topic(name);
    return Promise.resolve({
      ...topicInfo(topic),
      partitionInfo: topic.partitions.map((events, partition) => ({
        partition,
        earliest: 0,
        latest: events.length,
      })),
    });
  }

  async append(topic: string, event: CloudEvent, options: AppendOptions = {}): Promise<AppendResult> {
    this.#assertOpen();
    const placed = this.#place(topic, [event], options.partition);
    return Promise.resolve(this.#broker.append(topic, placed)[0]!);
  }

  async appendBatch(topic: string, events: readonly CloudEvent[]): Promise<readonly AppendResult[]> {
    this.#assertOpen();
    if (!Array.isArray(events)) throw invalid('appendBatch expects an array of events');
    if (events.length === 0) {
      this.#broker.topic(topic);
      return Promise.resolve([]);
    }
    return Promise.resolve(this.#broker.append(topic, this.#place(topic, events, undefined)));
  }

  async read(topic: string, options: ReadOptions): Promise<readonly StoredEvent[]> {
    this.#assertOpen();
    const count = this.#broker.topic(topic).partitions.length;
    const { partition, from, limit } = checkReadOptions(topic, options, count);
    const events = this.#broker.partition(topic, partition);
    const start = this.#broker.resolve(topic, partition, from);
    return Promise.resolve(events.slice(start, start + limit).map(copyStored));
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#assertOpen();
    const settings = subscribeSettings(options);
    for (const topic of settings.topics) this.#broker.topic(topic);
    const subscription = new MemorySubscription(this.#client, settings);
    this.#client.subscriptions.add(subscription);
    await subscription.start();
    return subscription;
  }

  async listGroups(): Promise<readonly string[]> {
    this.#assertOpen();
    return Promise.resolve(this.#broker.listGroups());
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    this.#assertOpen();
    return Promise.resolve(this.#broker.describe(group));
  }

  /**
   * Closes every subscription (each calls `onRevoked` for what it owns and leaves its group),
   * then refuses further use with `CLOSED`. After `crash()` it only releases local resources:
   * a killed process leaves nothing behind but members that will expire.
   */
  async close(): Promise<void> {
    if (this.#client.closed) return;
    this.#client.closed = true;
    this.#client.frozen = false;
    await Promise.all([...this.#client.subscriptions].map((subscription) => subscription.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    assertClientOpen(this.#client);
  }

  /** Validates every event (nothing is stored if one is invalid) and picks each one's partition. */
  #place(
    topic: string,
    events: readonly CloudEvent[],
    partition: number | undefined,
  ): { event: CloudEvent; partition: number }[] {
    const count = this.#broker.topic(topic).partitions.length;
    if (partition !== undefined) checkPartition(topic, partition, count);
    for (const event of events) {
      assertValidEnvelope(event);
      assertRecordSize(event, recordBytes(event), this.capabilities.maxRecordBytes, 'memory');
    }
    return events.map((event) => ({
      event,
      partition: this.#chooser.choose(topic, count, event, partition),
    }));
  }

  #crash(): void {
    this.#client.crashed = true;
    for (const subscription of this.#client.subscriptions) subscription.stopTimers();
  }

  #freeze(): void {
    this.#client.frozen = true;
  }

  #thaw(): void {
    if (!this.#client.frozen) return;
    this.#client.frozen = false;
    for (const subscription of this.#client.subscriptions) subscription.resume();
  }
}

function topicInfo(topic: TopicState): TopicInfo {
  return { name: topic.name, partitions: topic.partitions.length, retention: { ...topic.retention } };
}

// ---------------------------------------------------------------------------------------------
// Subscription: one group member.

interface HeldPartition extends HeldClaim {
  readonly tp: TopicPartition;
  readonly key: string;
  /** Next offset to fetch (ahead of the committed offset by what was delivered). */
  position: number;
  /** `onRevoked` is running or done: nothing more is delivered from it; commits still succeed. */
  revoking: boolean;
  /** `onRevoked` has finished: the partition only waits to be freed in the record. */
  released: boolean;
  /** What this claim delivered, to tell its events from an earlier claim's on commit. */
  readonly claim: DeliveryClaim;
}

/**
 * One group member: core's {@link GroupMembership} over the broker's group cell, so the memory
 * log follows the member rules of the durable backends (heartbeat rounds, two-step handover,
 * a fresh member id after an expiry, commit fencing by claim).
 */
class MemorySubscription implements Subscription {
  readonly group: string;
  readonly #client: ClientState;
  readonly #broker: Broker;
  readonly #settings: SubscribeSettings;
  readonly #listener: BrokerListener;
  readonly #membership: GroupMembership;
  readonly #held = new Map<string, HeldPartition>();
  readonly #claims = new ClaimHistory();
  /** Events fetched ahead of the consumer; failures of `onRevoked`/`onAssigned` are thrown there. */
  readonly #queue: DeliveryQueue;
  #state: 'active' | 'closing' | 'closed' = 'active';
  #closing: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #coordinating: Promise<void> | undefined;
  #dirty = false;
  #wantBeat = false;
  #nextPartition = 0;
  readonly #abort = (): void => void this.close();

  constructor(client: ClientState, settings: SubscribeSettings) {
    this.#client = client;
    this.#broker = client.broker;
    this.#settings = settings;
    this.group = settings.group;
    this.#listener = {
      topics: new Set(settings.topics),
      group: settings.group,
      onAppend: () => this.#wake(),
      onGroupChange: () => void this.#coordinate(false),
    };
    this.#queue = new DeliveryQueue(
      {
        deliverable: () => !this.#paused,
        assertUsable: () => this.#assertUsable(),
        fill: () => this.#fill(),
      },
      settings.maxBufferedEvents,
    );
    this.#membership = new GroupMembership(this.#broker.cell(settings.group), {
      group: settings.group,
      clientId: client.clientId,
      topics: settings.topics,
      sessionTimeoutMs: settings.sessionTimeoutMs,
    });
  }

  get memberId(): string {
    return this.#membership.memberId;
  }

  /** Joins the group and claims what is free; partitions held by others arrive once they release them. */
  async start(): Promise<void> {
    this.#broker.listeners.add(this.#listener);
    await this.#membership.join();
    this.#timer = setInterval(() => void this.#coordinate(true), this.#membership.heartbeatMs);
    this.#settings.signal?.addEventListener('abort', this.#abort, { once: true });
    await this.#coordinate(true);
  }

  assignment(): readonly TopicPartition[] {
    return [...this.#held.values()].filter((held) => !held.revoking).map((held) => held.tp);
  }

  [Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
    return this.#queue.events();
  }

  batches(): AsyncIterable<readonly StoredEvent[]> {
    return this.#queue.batches();
  }

  async commit(positions: StoredEvent | readonly PartitionOffset[]): Promise<void> {
    this.#assertUsable();
    const { positions: requested, event } = commitRequest(positions);
    const commits = requested.map((position) => {
      const held = this.#held.get(topicPartitionKey(position.topic, position.partition));
      if (held === undefined || (event !== undefined && !held.claim.owns(event))) {
        throw this.#membership.fenced(position);
      }
      return { ...position, epoch: held.epoch };
    });
    if (!this.#broker.commit(this.group, this.#membership.memberId, commits)) {
      // Ownership moved without this member noticing yet: find out what it still holds.
      void this.#coordinate(false);
      throw this.#membership.fenced(requested[0]!);
    }
    return Promise.resolve();
  }

  /**
   * Stops delivery, calls `onRevoked` for the partitions it owns (their work in flight can
   * still be committed), then leaves the group so that other members take them over at once.
   */
  async close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Called by crash(): no more heartbeats, as in a killed process. */
  stopTimers(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Called by thaw(): heartbeat at once (finding out whether it expired meanwhile), then deliver again. */
  resume(): void {
    this.#membership.heartbeatNow();
    void this.#coordinate(true);
    this.#wake();
  }

  async #shutdown(): Promise<void> {
    this.#state = 'closing';
    this.stopTimers();
    this.#settings.signal?.removeEventListener('abort', this.#abort);
    this.#queue.close();
    if (!this.#client.crashed) {
      await this.#coordinating;
      const owned = [...this.#held.values()].filter((held) => !held.revoking);
      if (owned.length > 0 && this.#broker.isMember(this.group, this.#membership.memberId)) {
        await this.#queue.runCallback(() => this.#settings.onRevoked?.(owned.map((held) => held.tp)));
      }
      await this.#membership.leave();
    }
    this.#held.clear();
    this.#broker.listeners.delete(this.#listener);
    this.#state = 'closed';
    this.#client.subscriptions.delete(this);
  }

  get #paused(): boolean {
    return this.#client.crashed || this.#client.frozen;
  }

  get #running(): boolean {
    return this.#state === 'active' && !this.#paused;
  }

  /** While closing, `onRevoked` may still commit, even when the whole log is closing. */
  #assertUsable(): void {
    if (this.#state === 'closed')
      throw new HeraldError('CLOSED', `the subscription of group "${this.group}" is closed`);
    if (this.#client.crashed) assertClientOpen(this.#client);
  }

  /** Runs coordination rounds one at a time until none is wanted; a stalled member runs none. */
  #coordinate(beat: boolean): Promise<void> {
    this.#dirty = true;
    this.#wantBeat ||= beat;
    this.#coordinating ??= (async () => {
      await Promise.resolve();
      try {
        while (this.#dirty && this.#running) {
          this.#dirty = false;
          const heartbeat = this.#wantBeat;
          this.#wantBeat = false;
          await this.#coordinateOnce(heartbeat);
        }
      } finally {
        this.#coordinating = undefined;
      }
    })();
    return this.#coordinating;
  }

  /** One round of core's member side, then its local consequences. */
  async #coordinateOnce(beat: boolean): Promise<void> {
    const round = await this.#membership.coordinate({ beat, mayWrite: () => this.#running });
    if (!this.#running || round.kind === 'skipped') return;
    if (round.kind === 'expired') {
      // Our lease expired while we were stalled: everything we held belongs to others now.
      this.#held.clear();
      this.#queue.clear();
      await this.#membership.rejoin();
      this.#dirty = true;
      return;
    }
    const assigned: TopicPartition[] = [];
    for (const { topic, partition, epoch } of round.claims) {
      const tp = { topic, partition };
      const key = topicPartitionKey(topic, partition);
      const committed = this.#broker.committed(this.group, topic, partition);
      const position = committed ?? this.#broker.resolve(topic, partition, this.#settings.startAt);
      const claim = this.#claims.claim(key);
      this.#held.set(key, { tp, key, epoch, position, revoking: false, released: false, claim });
      assigned.push(tp);
    }
    const changes = ownershipChanges(round.record, this.#membership.memberId, this.#held);
    for (const key of changes.lost) {
      // Taken from us without a handover (our lease expired): drop silently.
      this.#queue.dropPartitions([this.#held.get(key)!.tp]);
      this.#held.delete(key);
    }
    const revoke = changes.revoke.map((key) => this.#held.get(key)!);
    for (const held of revoke) held.revoking = true;
    this.#queue.dropPartitions(revoke.map((held) => held.tp));
    if (changes.stray.length > 0 || [...this.#held.values()].some((held) => held.released)) {
      await this.#free(changes.stray);
    }
    if (revoke.length > 0) void this.#handOver(revoke);
    if (assigned.length > 0) {
      await this.#queue.runCallback(() => this.#settings.onAssigned?.(assigned));
      this.#wake();
    }
  }

  /** Step 1 of a handover: let the consumer finish (`onRevoked`), then free the partitions. */
  async #handOver(partitions: readonly HeldPartition[]): Promise<void> {
    await this.#queue.runCallback(() => this.#settings.onRevoked?.(partitions.map((held) => held.tp)));
    for (const held of partitions) held.released = true;
    // A stalled member writes nothing: its next round after thaw() frees them.
    if (this.#running) await this.#free([]);
  }

  /** Frees, in one step, the released partitions and the given strays this member still owns. */
  async #free(stray: readonly PartitionRecord[]): Promise<void> {
    const released = [...this.#held.values()].filter((held) => held.released);
    await this.#membership.release([
      ...released.map((held) => ({ ...held.tp, epoch: held.epoch })),
      ...stray.map(({ topic, partition, epoch }) => ({ topic, partition, epoch })),
    ]);
    for (const held of released) if (this.#held.get(held.key) === held) this.#held.delete(held.key);
  }

  #wake(): void {
    this.#queue.wake();
  }

  /** The queue is empty: fetches up to `maxBufferedEvents` from owned partitions, taking turns between them. */
  #fill(): void {
    const deliverable = [...this.#held.values()].filter((held) => !held.revoking);
    const partitions = deliverable.filter((held) =>
      this.#broker.owns(this.group, this.#membership.memberId, held.key, held.epoch),
    );
    // Ownership only disappears without a handover when this member expired: deliver nothing
    // more from what it lost, and find out.
    if (partitions.length < deliverable.length) void this.#coordinate(false);
    if (partitions.length === 0) return;
    let budget = this.#queue.room;
    const share = Math.max(1, Math.ceil(budget / partitions.length));
    const first = this.#nextPartition++ % partitions.length;
    for (let i = 0; i < partitions.length && budget > 0; i++) {
      const held = partitions[(first + i) % partitions.length]!;
      const events = this.#broker.partition(held.tp.topic, held.tp.partition);
      const slice = events.slice(held.position, held.position + Math.min(share, budget));
      for (const event of slice) {
        const copy = copyStored(event);
        held.claim.delivered(copy);
        this.#queue.push(copy);
      }
      held.position += slice.length;
      budget -= slice.length;
    }
  }
}
