import { randomUUID } from 'node:crypto';
import { PartitionChooser } from './backend/partition-chooser.ts';
import { assertRecordSize, recordBytes } from './backend/record-size.ts';
import { subscribeSettings } from './backend/subscribe-settings.ts';
import {
  assertTopicName,
  checkPartition,
  checkPartitionCount,
  checkReadOptions,
  checkRetention,
} from './backend/validation.ts';
import { OPTIONAL_ATTRIBUTES, assertValidEnvelope } from './envelope.ts';
import {
  addMember,
  assignTargets,
  coordinationStep,
  describeMembers,
  emptyGroup,
  reapExpired,
  releasePartitions,
  removeMember,
  renewLease,
} from './backend/group-protocol.ts';
import { commitRequest } from './backend/group-membership.ts';
import type { GroupRecord, PartitionRecord } from './backend/group-protocol.ts';
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
  StartPosition,
  SubscribeOptions,
  Subscription,
  TopicDescription,
  TopicInfo,
  TopicPartition,
} from './event-log.ts';
import { DeliveryQueue } from './backend/delivery-queue.ts';

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
 * ## Consumer-group protocol (core's group-protocol.ts, shared with SQLite and NATS)
 *
 * State per group: the protocol's record (members with their leases; per partition its
 * owner, target and epoch; a generation bumped on every membership change), changed here
 * synchronously, plus the committed offsets ((topic, partition) → next offset to read, only
 * ever increasing).
 *
 * 1. Expiry ("reap"): a member whose `lastHeartbeat` is older than its `sessionTimeoutMs` is
 *    dead. Every group operation reaps first: it deletes dead members and their owner rows
 *    and bumps the generation. A member heartbeating late reaps itself, so a member paused
 *    past its session timeout is fenced even if nobody else noticed.
 * 2. Join / leave bump the generation. Leaving deletes the member's owner rows at once, so
 *    the others take over without waiting for a timeout.
 * 3. Target assignment = `assignPartitions(live members, partitions of their topics)`; every
 *    member computes the same answer from the same membership.
 * 4. Each member reconciles what it owns with its target, after every membership change and
 *    on every heartbeat (interval ≈ sessionTimeoutMs / 3):
 *    a. partitions it owns but is no longer targeted for: stop delivering them, drop what is
 *       buffered for them, await `onRevoked`, then delete its owner rows (release);
 *    b. partitions it is targeted for and nobody owns: insert an owner row with a fresh epoch
 *       (claim), start reading at the committed offset (else `startAt`), call `onAssigned`.
 *    A partition owned by another live member is never claimed: ownership moves only by
 *    release, leave or expiry, so no partition is delivered by two live members.
 * 5. Commit succeeds only while the owner row of each partition is (this member, the epoch
 *    under which the committed events were delivered); otherwise `FENCED`. A stale member
 *    therefore never moves the group's position, even after it rejoined and got the same
 *    partition back under a new epoch. A commit lower than the committed offset is ignored.
 * 6. A member that finds it was expired (its heartbeat or commit is refused) drops all its
 *    partitions, calls `onRevoked` for them after the fact (commits for them throw
 *    `FENCED`), and rejoins as a fresh member with the same id.
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
      `unsupported memory log URL "${url}": expected "memory:" or "memory:<name>" (letters, digits, ".", "_", "-")`,
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
  /** The record's partitions by `tpKey`, rebuilt whenever they change. */
  owners: Map<string, PartitionRecord>;
  readonly committed: Map<string, number>;
}

interface NewMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
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

const tpKey = (topic: string, partition: number): string => `${topic}#${partition}`;

const compareTp = (a: TopicPartition, b: TopicPartition): number =>
  a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1;

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
    this.notify((listener) => listener.topics.has(topic), 'append');
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

  /** Protocol step 1: expired members (the caller too) are removed and their partitions freed. */
  reap(name: string, now: number): void {
    const group = this.group(name);
    this.change(name, group, reapExpired(group.record, now));
  }

  /** Protocol step 2. */
  join(name: string, member: NewMember): void {
    const now = Date.now();
    this.reap(name, now);
    const group = this.group(name);
    const { memberId, ...lease } = member;
    this.change(
      name,
      group,
      addMember(group.record, memberId, { ...lease, heartbeatAt: now, joinedAt: now }),
    );
  }

  /** Protocol step 2: the member's partitions are free at once. */
  leave(name: string, memberId: string): void {
    const group = this.group(name);
    this.change(name, group, removeMember(group.record, memberId));
  }

  /** False when the member has expired (possibly reaped by this very call): it must rejoin. */
  heartbeat(name: string, memberId: string): boolean {
    const now = Date.now();
    this.reap(name, now);
    const group = this.group(name);
    if (!this.isMember(name, memberId)) return false;
    group.record = renewLease(group.record, memberId, now);
    return true;
  }

  isMember(name: string, memberId: string): boolean {
    return memberId in this.group(name).record.members;
  }

  /** Protocol step 3: the partitions the current generation's assignment targets at the member. */
  target(name: string, memberId: string): TopicPartition[] {
    return this.group(name)
      .record.partitions.filter((p) => p.target === memberId)
      .map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  /** Protocol step 4b: claims every free partition targeted at the member, each under a fresh epoch. */
  claim(name: string, memberId: string): readonly PartitionRecord[] {
    const now = Date.now();
    this.reap(name, now);
    const group = this.group(name);
    if (!this.isMember(name, memberId)) return [];
    const step = coordinationStep(group.record, memberId, now, this.partitionCounts(group.record));
    this.change(name, group, step.record);
    return step.claims;
  }

  /** Protocol step 4a: frees the partitions still held under the given epochs; wakes waiting claimers. */
  release(
    name: string,
    memberId: string,
    held: readonly { readonly topic: string; readonly partition: number; readonly epoch: number }[],
  ): void {
    const group = this.group(name);
    this.change(name, group, releasePartitions(group.record, memberId, held));
    this.notify((listener) => listener.group === name, 'group');
  }

  owns(name: string, memberId: string, key: string, epoch: number): boolean {
    const owner = this.group(name).owners.get(key);
    return owner?.owner === memberId && owner.epoch === epoch;
  }

  /** Protocol step 5: all positions or none. */
  commit(name: string, memberId: string, positions: readonly CommitPosition[]): void {
    this.reap(name, Date.now());
    const group = this.group(name);
    for (const position of positions) {
      if (!this.owns(name, memberId, tpKey(position.topic, position.partition), position.epoch)) {
        throw new HeraldError(
          'FENCED',
          `member ${memberId} no longer owns ${position.topic}/${position.partition} in group "${name}"`,
          { details: { group: name, memberId, topic: position.topic, partition: position.partition } },
        );
      }
      const latest = this.partition(position.topic, position.partition).length;
      if (position.offset > latest) {
        throw new HeraldError(
          'INVALID_ARGUMENT',
          `cannot commit offset ${position.offset} beyond the end (${latest}) of ${position.topic}/${position.partition}`,
          { details: { topic: position.topic, partition: position.partition } },
        );
      }
    }
    for (const position of positions) {
      const key = tpKey(position.topic, position.partition);
      const current = group.committed.get(key);
      if (current === undefined || position.offset > current) group.committed.set(key, position.offset);
    }
  }

  committed(name: string, topic: string, partition: number): number | undefined {
    return this.groups.get(name)?.committed.get(tpKey(topic, partition));
  }

  describe(name: string): GroupDescription {
    if (!this.groups.has(name)) return { group: name, members: [], partitions: [] };
    this.reap(name, Date.now());
    const group = this.group(name);
    const members: GroupMember[] = describeMembers(group.record).sort((a, b) =>
      a.memberId < b.memberId ? -1 : 1,
    );
    const keys = new Set<string>(group.committed.keys());
    for (const tp of this.partitionsOf(group.record)) keys.add(tpKey(tp.topic, tp.partition));
    const partitions: GroupPartitionState[] = [...keys]
      .map(parseTpKey)
      .sort(compareTp)
      .map(({ topic, partition }) => {
        const committed = group.committed.get(tpKey(topic, partition)) ?? null;
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
  private partitionsOf(record: GroupRecord): TopicPartition[] {
    const topics = new Set(Object.values(record.members).flatMap((member) => member.topics));
    return [...topics].flatMap((topic) =>
      this.topic(topic).partitions.map((_, partition) => ({ topic, partition })),
    );
  }

  private partitionCounts(record: GroupRecord): Map<string, number> {
    const topics = new Set(Object.values(record.members).flatMap((member) => member.topics));
    return new Map([...topics].map((topic) => [topic, this.topic(topic).partitions.length]));
  }

  /**
   * Stores the outcome of a protocol step. A new generation gets its targets at once (every
   * partition count is known here) and wakes the group's members.
   */
  private change(name: string, group: GroupState, next: GroupRecord): void {
    if (next === group.record) return;
    const membershipChanged = next.generation !== group.record.generation;
    const assigned =
      next.generation === next.assignedGeneration ? next : assignTargets(next, this.partitionCounts(next));
    if (assigned.partitions !== group.record.partitions) {
      group.owners = new Map(assigned.partitions.map((p) => [tpKey(p.topic, p.partition), p]));
    }
    group.record = assigned;
    if (membershipChanged) this.notify((listener) => listener.group === name, 'group');
  }

  private notify(select: (listener: BrokerListener) => boolean, what: 'append' | 'group'): void {
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

function parseTpKey(key: string): TopicPartition {
  const at = key.lastIndexOf('#');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
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
  private readonly client: ClientState;
  private readonly broker: Broker;
  private readonly chooser = new PartitionChooser();

  constructor(options: MemoryLogOptions = {}) {
    const broker = options.broker ?? new Broker();
    if (!(broker instanceof Broker)) throw invalid('broker must come from createMemoryBroker()');
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 1) {
      throw invalid(`maxRecordBytes must be a positive integer, got ${String(maxRecordBytes)}`);
    }
    this.broker = broker;
    this.clientId = options.clientId ?? `memory-client-${++clientCount}`;
    this.client = {
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
    });
    this[faultInjection] = {
      crash: () => this.crash(),
      freeze: () => this.freeze(),
      thaw: () => this.thaw(),
    };
  }

  async createTopic(name: string, options: CreateTopicOptions): Promise<TopicInfo> {
    this.assertOpen();
    assertTopicName(name);
    const partitions = checkPartitionCount(options?.partitions);
    const retention = checkRetention(options.retention);
    if (this.broker.topics.has(name)) {
      throw new HeraldError('TOPIC_EXISTS', `topic "${name}" already exists`, { details: { topic: name } });
    }
    const topic: TopicState = {
      name,
      retention: Object.freeze(retention),
      partitions: Array.from({ length: partitions }, () => []),
    };
    this.broker.topics.set(name, topic);
    return Promise.resolve(topicInfo(topic));
  }

  async listTopics(): Promise<readonly TopicInfo[]> {
    this.assertOpen();
    return Promise.resolve(
      [...this.broker.topics.values()].map(topicInfo).sort((a, b) => (a.name < b.name ? -1 : 1)),
    );
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.assertOpen();
    const topic = this.broker.topic(name);
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
    this.assertOpen();
    const placed = this.place(topic, [event], options.partition);
    return Promise.resolve(this.broker.append(topic, placed)[0]!);
  }

  async appendBatch(topic: string, events: readonly CloudEvent[]): Promise<readonly AppendResult[]> {
    this.assertOpen();
    if (!Array.isArray(events)) throw invalid('appendBatch expects an array of events');
    if (events.length === 0) {
      this.broker.topic(topic);
      return Promise.resolve([]);
    }
    return Promise.resolve(this.broker.append(topic, this.place(topic, events, undefined)));
  }

  async read(topic: string, options: ReadOptions): Promise<readonly StoredEvent[]> {
    this.assertOpen();
    const count = this.broker.topic(topic).partitions.length;
    const { partition, from, limit } = checkReadOptions(topic, options, count);
    const events = this.broker.partition(topic, partition);
    const start = this.broker.resolve(topic, partition, from);
    return Promise.resolve(events.slice(start, start + limit).map(copyStored));
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const settings = subscribeSettings(options);
    for (const topic of settings.topics) this.broker.topic(topic);
    const subscription = new MemorySubscription(this.client, settings);
    this.client.subscriptions.add(subscription);
    await subscription.start();
    return subscription;
  }

  async listGroups(): Promise<readonly string[]> {
    this.assertOpen();
    return Promise.resolve(this.broker.listGroups());
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    this.assertOpen();
    return Promise.resolve(this.broker.describe(group));
  }

  /**
   * Closes every subscription (each calls `onRevoked` for what it owns and leaves its group),
   * then refuses further use with `CLOSED`. After `crash()` it only releases local resources:
   * a killed process leaves nothing behind but members that will expire.
   */
  async close(): Promise<void> {
    if (this.client.closed) return;
    this.client.closed = true;
    this.client.frozen = false;
    await Promise.all([...this.client.subscriptions].map((subscription) => subscription.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private assertOpen(): void {
    assertClientOpen(this.client);
  }

  /** Validates every event (nothing is stored if one is invalid) and picks each one's partition. */
  private place(
    topic: string,
    events: readonly CloudEvent[],
    partition: number | undefined,
  ): { event: CloudEvent; partition: number }[] {
    const count = this.broker.topic(topic).partitions.length;
    if (partition !== undefined) checkPartition(topic, partition, count);
    for (const event of events) {
      assertValidEnvelope(event);
      assertRecordSize(event, recordBytes(event), this.capabilities.maxRecordBytes, 'memory');
    }
    return events.map((event) => ({ event, partition: this.chooser.choose(topic, count, event, partition) }));
  }

  private crash(): void {
    this.client.crashed = true;
    for (const subscription of this.client.subscriptions) subscription.stopTimers();
  }

  private freeze(): void {
    this.client.frozen = true;
  }

  private thaw(): void {
    if (!this.client.frozen) return;
    this.client.frozen = false;
    for (const subscription of this.client.subscriptions) subscription.resume();
  }
}

function topicInfo(topic: TopicState): TopicInfo {
  return { name: topic.name, partitions: topic.partitions.length, retention: { ...topic.retention } };
}

// ---------------------------------------------------------------------------------------------
// Subscription: one group member.

interface HeldPartition {
  readonly tp: TopicPartition;
  readonly key: string;
  readonly epoch: number;
  /** Next offset to fetch (ahead of the committed offset by what was delivered). */
  position: number;
  /** `onRevoked` is running: nothing more is delivered from it; commits still succeed. */
  revoking: boolean;
}

interface MemberSettings extends SubscribeOptions {
  readonly startAt: StartPosition;
  readonly sessionTimeoutMs: number;
  readonly maxBufferedEvents: number;
}

class MemorySubscription implements Subscription {
  readonly group: string;
  readonly memberId: string;
  private readonly client: ClientState;
  private readonly broker: Broker;
  private readonly settings: MemberSettings;
  private readonly listener: BrokerListener;
  private readonly held = new Map<string, HeldPartition>();
  /** Partitions lost by expiry, awaiting their after-the-fact `onRevoked`. */
  private lost: TopicPartition[] = [];
  /** Events fetched ahead of the consumer; failures of `onRevoked`/`onAssigned` are thrown there. */
  private readonly queue: DeliveryQueue;
  /** The ownership epoch each delivered event was delivered under (protocol step 5). */
  private readonly deliveredUnder = new WeakMap<StoredEvent, number>();
  private state: 'active' | 'closing' | 'closed' = 'active';
  private closing: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private reconciling: Promise<void> | undefined;
  private dirty = false;
  private nextPartition = 0;
  private readonly abort = (): void => void this.close();

  constructor(client: ClientState, settings: MemberSettings) {
    this.client = client;
    this.broker = client.broker;
    this.settings = settings;
    this.group = settings.group;
    this.memberId = `${client.clientId}-${randomUUID()}`;
    this.listener = {
      topics: new Set(settings.topics),
      group: settings.group,
      onAppend: () => this.wake(),
      onGroupChange: () => void this.reconcile(),
    };
    this.queue = new DeliveryQueue(
      {
        deliverable: () => !this.paused,
        assertUsable: () => this.assertUsable(),
        fill: () => this.fill(),
      },
      settings.maxBufferedEvents,
    );
  }

  /** Joins the group and claims what is free; partitions held by others arrive once they release them. */
  async start(): Promise<void> {
    this.broker.listeners.add(this.listener);
    this.join();
    const interval = Math.max(1, Math.floor(this.settings.sessionTimeoutMs / 3));
    this.timer = setInterval(() => this.heartbeat(), interval);
    this.settings.signal?.addEventListener('abort', this.abort, { once: true });
    await this.reconcile();
  }

  assignment(): readonly TopicPartition[] {
    return [...this.held.values()].filter((held) => !held.revoking).map((held) => held.tp);
  }

  [Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
    return this.queue.events();
  }

  batches(): AsyncIterable<readonly StoredEvent[]> {
    return this.queue.batches();
  }

  async commit(positions: StoredEvent | readonly PartitionOffset[]): Promise<void> {
    this.assertUsable();
    const { positions: requested, event } = commitRequest(positions);
    const deliveredUnder = event === undefined ? undefined : this.deliveredUnder.get(event);
    const commits: CommitPosition[] = [];
    for (const position of requested) {
      const held = this.held.get(tpKey(position.topic, position.partition));
      if (held === undefined || (deliveredUnder !== undefined && deliveredUnder !== held.epoch)) {
        throw new HeraldError(
          'FENCED',
          `member ${this.memberId} does not own ${position.topic}/${position.partition} in group "${this.group}"` +
            (held === undefined ? '' : ' under the assignment that delivered this event'),
          {
            details: {
              group: this.group,
              memberId: this.memberId,
              topic: position.topic,
              partition: position.partition,
            },
          },
        );
      }
      commits.push({ ...position, epoch: held.epoch });
    }
    try {
      this.broker.commit(this.group, this.memberId, commits);
    } catch (error) {
      if (error instanceof HeraldError && error.code === 'FENCED') this.markLost();
      throw error;
    }
    return Promise.resolve();
  }

  /**
   * Stops delivery, calls `onRevoked` for the partitions it owns (their work in flight can
   * still be committed), then leaves the group so that other members take them over at once.
   */
  async close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Called by crash(): no more heartbeats, as in a killed process. */
  stopTimers(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Called by thaw(): heartbeat at once (finding out whether it expired meanwhile), then deliver again. */
  resume(): void {
    this.heartbeat();
    this.wake();
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    this.stopTimers();
    this.settings.signal?.removeEventListener('abort', this.abort);
    this.queue.close();
    if (!this.client.crashed) {
      await this.reconciling;
      const owned = [...this.held.values()];
      if (owned.length > 0 && this.broker.isMember(this.group, this.memberId)) {
        await this.callback(() => this.settings.onRevoked?.(owned.map((held) => held.tp)));
      }
      this.broker.leave(this.group, this.memberId);
    }
    this.held.clear();
    this.broker.listeners.delete(this.listener);
    this.state = 'closed';
    this.client.subscriptions.delete(this);
  }

  private get paused(): boolean {
    return this.client.crashed || this.client.frozen;
  }

  /** While closing, `onRevoked` may still commit, even when the whole log is closing. */
  private assertUsable(): void {
    if (this.state === 'closed')
      throw new HeraldError('CLOSED', `the subscription of group "${this.group}" is closed`);
    if (this.client.crashed) assertClientOpen(this.client);
  }

  private join(): void {
    const { group, topics, sessionTimeoutMs } = this.settings;
    this.broker.join(group, {
      memberId: this.memberId,
      clientId: this.client.clientId,
      topics,
      sessionTimeoutMs,
    });
  }

  private heartbeat(): void {
    if (this.paused || this.state !== 'active') return;
    if (!this.broker.heartbeat(this.group, this.memberId)) this.markLost();
    void this.reconcile();
  }

  /** Protocol step 6, the synchronous half: stop delivering everything at once. */
  private markLost(): void {
    for (const held of this.held.values()) if (!held.revoking) this.lost.push(held.tp);
    this.held.clear();
    this.queue.clear();
  }

  /** Runs reconciliation passes until nothing changed during the last one; never rejects. */
  private reconcile(): Promise<void> {
    this.dirty = true;
    if (this.reconciling === undefined) {
      this.reconciling = this.reconcileLoop().finally(() => {
        this.reconciling = undefined;
        if (this.dirty && this.state === 'active' && !this.paused) void this.reconcile();
      });
    }
    return this.reconciling;
  }

  private async reconcileLoop(): Promise<void> {
    await Promise.resolve();
    while (this.dirty && this.state === 'active' && !this.paused) {
      this.dirty = false;
      await this.reconcileOnce();
    }
  }

  /** Protocol steps 4 and 6, one pass. */
  private async reconcileOnce(): Promise<void> {
    if (!this.broker.isMember(this.group, this.memberId)) {
      this.markLost();
      const lost = this.lost;
      this.lost = [];
      if (lost.length > 0) await this.callback(() => this.settings.onRevoked?.(lost));
      if (this.state !== 'active' || this.paused) return;
      this.join();
    }

    const target = new Set(
      this.broker.target(this.group, this.memberId).map((tp) => tpKey(tp.topic, tp.partition)),
    );
    const revoke = [...this.held.values()].filter((held) => !target.has(held.key));
    if (revoke.length > 0) {
      for (const held of revoke) held.revoking = true;
      this.queue.dropPartitions(revoke.map((held) => held.tp));
      await this.callback(() => this.settings.onRevoked?.(revoke.map((held) => held.tp)));
      if (this.client.crashed) return;
      this.broker.release(
        this.group,
        this.memberId,
        revoke.map((held) => ({ ...held.tp, epoch: held.epoch })),
      );
      for (const held of revoke) if (this.held.get(held.key) === held) this.held.delete(held.key);
      this.dirty = true;
      return;
    }

    const claimed: TopicPartition[] = [];
    for (const { topic, partition, epoch } of this.broker.claim(this.group, this.memberId)) {
      const tp = { topic, partition };
      const key = tpKey(topic, partition);
      const committed = this.broker.committed(this.group, tp.topic, tp.partition);
      const position = committed ?? this.broker.resolve(tp.topic, tp.partition, this.settings.startAt);
      this.held.set(key, { tp, key, epoch, position, revoking: false });
      claimed.push(tp);
    }
    if (claimed.length > 0) {
      await this.callback(() => this.settings.onAssigned?.(claimed));
      this.wake();
    }
  }

  private async callback(run: () => void | Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      void this.queue.fail(error);
    }
  }

  private wake(): void {
    this.queue.wake();
  }

  /** The queue is empty: fetches up to `maxBufferedEvents` from owned partitions, taking turns between them. */
  private fill(): void {
    const partitions = [...this.held.values()].filter((held) => !held.revoking);
    if (partitions.length === 0) return;
    if (partitions.some((held) => !this.broker.owns(this.group, this.memberId, held.key, held.epoch))) {
      // Ownership only disappears when this member expired: it must not deliver anything more.
      this.markLost();
      void this.reconcile();
      return;
    }
    let budget = this.queue.room;
    const share = Math.max(1, Math.ceil(budget / partitions.length));
    const first = this.nextPartition++ % partitions.length;
    for (let i = 0; i < partitions.length && budget > 0; i++) {
      const held = partitions[(first + i) % partitions.length]!;
      const events = this.broker.partition(held.tp.topic, held.tp.partition);
      const slice = events.slice(held.position, held.position + Math.min(share, budget));
      for (const event of slice) {
        const copy = copyStored(event);
        this.deliveredUnder.set(copy, held.epoch);
        this.queue.push(copy);
      }
      held.position += slice.length;
      budget -= slice.length;
    }
  }
}
