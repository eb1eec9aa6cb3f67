import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError, isHeraldError } from '@herald/core';
import { ClaimHistory } from '@herald/core/backend';
import type { DeliveryClaim, SubscribeSettings } from '@herald/core/backend';
import type {
  PartitionOffset,
  ReadPosition,
  StartPosition,
  StoredEvent,
  Subscription,
  TopicPartition,
} from '@herald/core';
import { DeliveryQueue } from '@herald/core/backend';
import type { JetStreamClient, JetStreamManager, StreamState } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection, Subscription as CoreSubscription } from '@nats-io/transport-node';
import {
  GroupMembership,
  commitRequest,
  ownershipChanges,
  raiseEpoch,
  topicPartitionKey,
} from '@herald/core/backend';
import type { GroupRecord, PartitionRecord } from '@herald/core/backend';
import type { KvBucket } from './kv-bucket.ts';
import { kvGroupCell, parseOffset, serializeOffset } from './kv-group-cell.ts';
import type { OffsetRecord } from './kv-group-cell.ts';
import { toHeraldError } from './nats-errors.ts';
import type { NatsNames } from './nats-names.ts';
import { PartitionFeed } from './partition-feed.ts';
import type { FeedHost } from './partition-feed.ts';
import type { TopicRecord } from './topic-record.ts';

/*
 * A consumer-group member on NATS. Coordination is core's group protocol (group-protocol.ts)
 * with the group's record in one KV key, changed only by compare-and-set (kv-group-cell.ts):
 *
 * - The member heartbeats (rewrites the record with its `heartbeatAt`) every third of its
 *   session timeout; a heartbeat also expires other members, assigns partitions after a
 *   membership change, and claims free partitions targeted at this member.
 * - Every write to the record is also a NATS message on the key's subject; members subscribe
 *   to it and re-read the record when it changes, so a handover takes a few round trips, not a
 *   heartbeat. (The message is only a hint: a write that lost its compare-and-set is seen too.)
 * - Handover is two-step: the owner stops delivering, awaits `onRevoked`, then frees the
 *   partition; the target claims it only when it is free.
 * - Fencing: before reading a claimed partition, the new owner raises the epoch in the
 *   partition's offset record. A commit is a compare-and-set on that record that requires the
 *   committer's epoch, so a member that lost a partition (paused past its session timeout)
 *   gets FENCED and never moves the group's position, even before it notices. An event
 *   delivered under an earlier claim stays uncommittable after the member claims the
 *   partition again (core's `DeliveryClaim`).
 */

/** A partition's position: the earliest retained offset and the next offset to be written. */
export interface StreamPosition {
  readonly earliest: number;
  readonly latest: number;
  readonly state: StreamState;
}

/** @internal What a subscription needs from its log. */
export interface NatsLogInternals {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: NatsNames;
  readonly groups: KvBucket;
  readonly clientId: string;
  topic(name: string): Promise<TopicRecord>;
  ensureStream(topic: TopicRecord, partition: number): Promise<StreamState>;
  position(topic: TopicRecord, partition: number): Promise<StreamPosition>;
  resolveStart(topic: TopicRecord, partition: number, from: ReadPosition): Promise<number>;
  toStoredEvent(
    topic: string,
    partition: number,
    headers: MsgHdrs | undefined,
    data: Uint8Array,
    sequence: number,
    timestamp: number,
  ): StoredEvent;
}

interface Owned {
  readonly topic: string;
  readonly partition: number;
  /** The epoch this member claimed the partition under; commits carry it. */
  epoch: number;
  /** `activating`: fencing and finding the start; `active`: delivering; `revoking`: handing over. */
  state: 'activating' | 'active' | 'revoking';
  /** `onRevoked` has finished: the partition only waits to be freed in the record. */
  released: boolean;
  /** The next offset to deliver, once active. */
  cursor: number;
  feed: PartitionFeed | undefined;
  /** What this claim delivered, to tell its events from an earlier claim's on commit. */
  readonly claim: DeliveryClaim;
}

/** How often a member re-reads its group while a handover it takes part in is under way. */
const REBALANCE_POLL_MS = 100;

/** The partition's offset record carries a newer epoch than our claim. */
class Superseded extends Error {
  readonly epoch: number;

  constructor(epoch: number) {
    super(`superseded by epoch ${epoch}`);
    this.epoch = epoch;
  }
}

export class NatsSubscription implements Subscription, FeedHost {
  readonly group: string;
  readonly #log: NatsLogInternals;
  readonly #options: SubscribeSettings;
  readonly #topics: readonly string[];
  readonly #maxBuffered: number;
  readonly #startAt: StartPosition;
  readonly #onClosed: () => void;
  readonly #key: string;
  readonly #membership: GroupMembership;
  readonly #owned = new Map<string, Owned>();
  readonly #claims = new ClaimHistory();
  /** Events the feeds delivered ahead of the consumer, and their decoding failures in their place. */
  readonly #queue: DeliveryQueue;
  /** Room in the queue promised to feeds whose pulls are under way. */
  #reserved = 0;
  #state: 'joining' | 'active' | 'frozen' | 'closing' | 'closed' = 'joining';
  /** Just thawed: nothing is delivered until the first coordination has reconciled ownership. */
  #thawing = false;
  #timer: NodeJS.Timeout | undefined;
  #pending = false;
  #coordinating: Promise<void> | undefined;
  #dirty = false;
  #wantWrite = false;
  readonly #roomWaiters = new Set<() => void>();
  #watch: CoreSubscription | undefined;
  #closing: Promise<void> | undefined;
  readonly #activations = new Set<Promise<void>>();
  /** Feeds still removing their consumers; leaving waits for them before the connection closes. */
  readonly #stopping = new Set<Promise<void>>();

  /** `settings` come checked from `subscribeSettings`; whether the topics exist is {@link validate}'s. */
  constructor(log: NatsLogInternals, settings: SubscribeSettings, onClosed: () => void) {
    this.group = settings.group;
    this.#log = log;
    this.#options = settings;
    this.#topics = settings.topics;
    this.#maxBuffered = settings.maxBufferedEvents;
    this.#startAt = settings.startAt;
    this.#onClosed = onClosed;
    this.#key = log.names.groupKey(settings.group);
    this.#queue = new DeliveryQueue(
      {
        deliverable: () => this.#state === 'active' && !this.#thawing,
        taken: () => this.#signalRoom(),
      },
      settings.maxBufferedEvents,
    );
    const cell = kvGroupCell(log.groups, this.#key, settings.group, (names) => this.#partitionCounts(names));
    this.#membership = new GroupMembership(cell, {
      group: settings.group,
      clientId: log.clientId,
      topics: this.#topics,
      sessionTimeoutMs: settings.sessionTimeoutMs,
    });
  }

  get memberId(): string {
    return this.#membership.memberId;
  }

  assignment(): readonly TopicPartition[] {
    return [...this.#owned.values()]
      .filter((o) => o.state === 'active')
      .map((o) => ({ topic: o.topic, partition: o.partition }));
  }

  /** Checks that every topic exists (`UNKNOWN_TOPIC`). */
  async validate(): Promise<void> {
    for (const topic of this.#topics) await this.#log.topic(topic);
  }

  /** Registers this member, takes its first assignment and starts heartbeating. */
  async join(): Promise<void> {
    await this.#register();
    this.#state = 'active';
    this.#watch = this.#log.nc.subscribe(this.#log.groups.subjectOf(this.#key), {
      callback: () => this.#poke(),
    });
    await this.#coordinate(true);
    await Promise.all(this.#activations);
    this.#schedule();
    const signal = this.#options.signal;
    if (signal !== undefined) {
      if (signal.aborted) await this.close();
      else signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  async commit(positions: StoredEvent | readonly PartitionOffset[]): Promise<void> {
    if (this.#state === 'closed') throw new HeraldError('CLOSED', 'the subscription is closed');
    const { positions: list, event } = commitRequest(positions);
    const checked = list.map((p) => {
      const owned = this.#owned.get(topicPartitionKey(p.topic, p.partition));
      if (owned === undefined || owned.state === 'activating') throw this.#fenced(p);
      if (event !== undefined && !owned.claim.owns(event)) throw this.#fenced(p);
      return { position: p, epoch: owned.epoch };
    });
    await Promise.all(checked.map(({ position, epoch }) => this.#commitOne(position, epoch)));
  }

  [Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
    return this.#queue.events();
  }

  batches(): AsyncIterable<readonly StoredEvent[]> {
    return this.#queue.batches();
  }

  close(): Promise<void> {
    this.#closing ??= this.#leave();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The process "died": stop everything and write nothing (the lease will expire). */
  crash(): void {
    this.#state = 'closed';
    this.#stopTimers();
    this.#watch?.unsubscribe();
    for (const owned of this.#owned.values()) owned.feed?.crash();
    this.#queue.close();
    this.#onClosed();
  }

  /** The process "stalled": no heartbeats, no deliveries, until thaw(). */
  freeze(): void {
    if (this.#state !== 'active') return;
    this.#state = 'frozen';
    this.#stopTimers();
    for (const owned of this.#owned.values()) this.#stopFeed(owned);
  }

  thaw(): void {
    if (this.#state !== 'frozen') return;
    this.#state = 'active';
    this.#thawing = true;
    void this.#coordinate(true).finally(() => {
      this.#thawing = false;
      if (this.#state !== 'active') return;
      for (const owned of this.#owned.values()) if (owned.state === 'active') this.#startFeed(owned);
      this.#schedule();
      this.#wake();
    });
  }

  // ---- delivery (FeedHost) ----

  async reserve(feed: PartitionFeed): Promise<number> {
    for (;;) {
      if (feed.stopped) return 0;
      const feeding = [...this.#owned.values()].filter((o) => o.feed !== undefined).length;
      const share = Math.max(1, Math.floor(this.#maxBuffered / Math.max(1, feeding)));
      const room = this.#queue.room - this.#reserved;
      if (room >= 1) {
        const granted = Math.min(room, share);
        this.#reserved += granted;
        return granted;
      }
      await new Promise<void>((resolve) => this.#roomWaiters.add(resolve));
    }
  }

  unreserve(count: number): void {
    if (count <= 0) return;
    this.#reserved -= count;
    this.#signalRoom();
  }

  deliver(feed: PartitionFeed, event: StoredEvent): void {
    this.#reserved--;
    const owned = this.#owned.get(topicPartitionKey(feed.topic, feed.partition));
    if (owned?.feed !== feed || owned.state !== 'active' || feed.stopped) {
      this.#signalRoom();
      return;
    }
    owned.cursor = event.offset + 1;
    owned.claim.delivered(event);
    this.#queue.push(event);
    this.#queue.wake();
  }

  /** Thrown to the consumer in its place, after the events the feed delivered before it. */
  fail(feed: PartitionFeed, error: unknown): Promise<void> {
    return this.#queue.fail(
      isHeraldError(error) ? error : toHeraldError(error, `group "${this.group}": delivery failed`),
      feed,
    );
  }

  #wake(): void {
    this.#queue.wake();
  }

  #signalRoom(): void {
    if (this.#roomWaiters.size === 0) return;
    const waiters = [...this.#roomWaiters];
    this.#roomWaiters.clear();
    for (const resolve of waiters) resolve();
  }

  #startFeed(owned: Owned): void {
    if (this.#state !== 'active' || this.#thawing || owned.state !== 'active' || owned.feed !== undefined)
      return;
    const topic = () => this.#log.topic(owned.topic);
    const feed = new PartitionFeed(
      {
        js: this.#log.js,
        jsm: this.#log.jsm,
        ensureStream: async () => this.#log.ensureStream(await topic(), owned.partition),
        earliest: async () => (await this.#log.position(await topic(), owned.partition)).earliest,
        toStoredEvent: (headers, data, sequence, timestamp) =>
          this.#log.toStoredEvent(owned.topic, owned.partition, headers, data, sequence, timestamp),
      },
      this,
      this.#log.names.stream(owned.topic, owned.partition),
      owned.topic,
      owned.partition,
      owned.cursor,
    );
    owned.feed = feed;
    feed.start();
    // Pulls in progress were sized for fewer partitions: make them ask again for their new share.
    for (const other of this.#owned.values()) if (other !== owned) other.feed?.interrupt();
  }

  #stopFeed(owned: Owned): void {
    const feed = owned.feed;
    owned.feed = undefined;
    this.#signalRoom();
    if (feed === undefined) return;
    const stopping = feed.stop().finally(() => this.#stopping.delete(stopping));
    this.#stopping.add(stopping);
  }

  /** Forgets the partition's events and failures not yet handed out; a feed held back by a failure goes on. */
  #dropBuffered(owned: Owned): void {
    this.#queue.dropPartitions([owned]);
    this.#signalRoom();
  }

  // ---- coordination ----

  get #running(): boolean {
    return this.#state === 'active' || this.#state === 'frozen';
  }

  /** A write to the group record was seen: re-read it. */
  #poke(): void {
    if (this.#state === 'active') void this.#coordinate(false);
  }

  #schedule(): void {
    if (this.#state !== 'active') return;
    clearTimeout(this.#timer);
    const { lastHeartbeat, heartbeatMs } = this.#membership;
    const untilHeartbeat = Math.max(0, lastHeartbeat + heartbeatMs - Date.now());
    const delay = this.#pending ? Math.min(REBALANCE_POLL_MS, untilHeartbeat) : untilHeartbeat;
    this.#timer = setTimeout(() => {
      void this.#coordinate(this.#membership.heartbeatDue()).finally(() => this.#schedule());
    }, delay);
    this.#timer.unref();
  }

  /** Runs coordination rounds one at a time until none is wanted; a failed round waits for the next. */
  #coordinate(write: boolean): Promise<void> {
    this.#dirty = true;
    this.#wantWrite ||= write;
    this.#coordinating ??= (async () => {
      try {
        while (this.#dirty && this.#state === 'active') {
          this.#dirty = false;
          const heartbeat = this.#wantWrite;
          this.#wantWrite = false;
          try {
            await this.#coordinateOnce(heartbeat);
          } catch {
            // The server is unreachable or busy: the next heartbeat tries again; the lease tolerates misses.
          }
        }
      } finally {
        this.#coordinating = undefined;
      }
    })();
    return this.#coordinating;
  }

  async #register(): Promise<void> {
    try {
      await this.#membership.join();
    } catch (error) {
      throw toHeraldError(error, `group "${this.group}": cannot join`);
    }
  }

  /**
   * One coordination round: read the record, run a heartbeat step, write it when it changed
   * something (or a heartbeat is due), then act on the outcome locally. The partitions it
   * claimed are activated in the background (`#activations`).
   */
  async #coordinateOnce(heartbeat: boolean): Promise<void> {
    if (!this.#running) return;
    // A stalled process writes nothing: no heartbeat may keep a frozen member's lease alive.
    const round = await this.#membership.coordinate({
      beat: heartbeat,
      mayWrite: () => this.#state === 'active',
    });
    if (!this.#running || round.kind === 'skipped') return;
    if (round.kind === 'expired') {
      if (this.#state === 'active') await this.#rejoin();
      return;
    }
    this.#apply(round.record, round.claims);
  }

  /** Brings local ownership in line with the record and starts activating new claims. */
  #apply(record: GroupRecord, claims: readonly PartitionRecord[]): void {
    const me = this.#membership.memberId;
    const activating: Owned[] = [];
    for (const claim of claims) {
      const key = topicPartitionKey(claim.topic, claim.partition);
      const previous = this.#owned.get(key);
      if (previous !== undefined) this.#drop(previous);
      const owned: Owned = {
        topic: claim.topic,
        partition: claim.partition,
        epoch: claim.epoch,
        state: 'activating',
        released: false,
        cursor: 0,
        feed: undefined,
        claim: this.#claims.claim(key),
      };
      this.#owned.set(key, owned);
      activating.push(owned);
    }
    const held = new Map(
      [...this.#owned].map(([key, o]) => [key, { epoch: o.epoch, revoking: o.state === 'revoking' }]),
    );
    const changes = ownershipChanges(record, me, held);
    for (const key of changes.lost) {
      // Taken from us without a handover (our lease expired): drop silently.
      this.#drop(this.#owned.get(key)!);
      this.#owned.delete(key);
    }
    const revoke = changes.revoke.map((key) => this.#owned.get(key)!);
    for (const owned of revoke) {
      owned.state = 'revoking';
      this.#stopFeed(owned);
      this.#dropBuffered(owned);
    }
    const stray = changes.stray;
    this.#pending = changes.handover || [...this.#owned.values()].some((o) => o.state !== 'active');
    if (revoke.length > 0) void this.#revoke(revoke);
    if (stray.length > 0 || [...this.#owned.values()].some((o) => o.released)) void this.#free(stray);
    if (activating.length > 0) {
      const activation = this.#activate(activating).finally(() => this.#activations.delete(activation));
      this.#activations.add(activation);
    }
  }

  /** Fences each claimed partition, finds where it starts, then starts delivering it. */
  async #activate(claimed: readonly Owned[]): Promise<void> {
    const ready = await Promise.all(claimed.map((owned) => this.#activateOne(owned)));
    const assigned = claimed
      .filter((_, i) => ready[i])
      .map((o) => ({ topic: o.topic, partition: o.partition }));
    if (assigned.length > 0) {
      await this.#queue.runCallback(() => this.#options.onAssigned?.(assigned));
      this.#wake();
    }
  }

  async #activateOne(owned: Owned): Promise<boolean> {
    const key = topicPartitionKey(owned.topic, owned.partition);
    const current = () => this.#running && this.#owned.get(key) === owned && owned.state === 'activating';
    for (let failures = 0; current(); failures++) {
      try {
        const committed = await this.#fence(owned);
        const topic = await this.#log.topic(owned.topic);
        const cursor = committed ?? (await this.#log.resolveStart(topic, owned.partition, this.#startAt));
        if (!current()) return false;
        owned.cursor = cursor;
        owned.state = 'active';
        this.#startFeed(owned);
        this.#pending = [...this.#owned.values()].some((o) => o.state !== 'active');
        return true;
      } catch (error) {
        if (error instanceof Superseded) {
          // Either a newer claim (then the record no longer says we own it under our epoch and
          // nothing changes: drop it), or a leftover of a deleted group record: claim above it.
          const from = owned.epoch;
          const me = this.#membership.memberId;
          const raised = await this.#change(
            (record) => (record === undefined ? undefined : raiseEpoch(record, me, owned, error.epoch + 1)),
            'claim',
          ).catch(() => false);
          if (raised) {
            owned.epoch = error.epoch + 1;
            continue;
          }
          if (this.#owned.get(key) === owned && owned.epoch === from) this.#drop(owned);
          if (this.#owned.get(key) === owned) this.#owned.delete(key);
          return false;
        }
        await sleep(Math.min(2000, 25 * 2 ** failures));
      }
    }
    return false;
  }

  /**
   * Raises the epoch in the partition's offset record to the one we claimed under, so commits
   * of any earlier owner are refused from now on; returns the committed offset.
   */
  async #fence(owned: Owned): Promise<number | null> {
    const key = this.#log.names.offsetKey(this.group, owned.topic, owned.partition);
    for (;;) {
      const entry = await this.#log.groups.get(key);
      const record = entry === null ? undefined : parseOffset(entry.value);
      if (record !== undefined && record.epoch > owned.epoch) throw new Superseded(record.epoch);
      if (record !== undefined && record.epoch === owned.epoch) return record.committed;
      const next: OffsetRecord = {
        committed: record?.committed ?? null,
        epoch: owned.epoch,
        updatedAt: Date.now(),
        ...(record?.replayUntil === undefined ? {} : { replayUntil: record.replayUntil }),
      };
      if ((await this.#log.groups.update(key, serializeOffset(next), entry?.revision ?? 0)) !== null) {
        return next.committed;
      }
    }
  }

  async #commitOne(position: PartitionOffset, epoch: number): Promise<void> {
    const key = this.#log.names.offsetKey(this.group, position.topic, position.partition);
    try {
      for (;;) {
        const entry = await this.#log.groups.get(key);
        const record = entry === null ? undefined : parseOffset(entry.value);
        if (record === undefined || record.epoch !== epoch) throw this.#fenced(position);
        if (record.committed !== null && position.offset <= record.committed) return;
        const next: OffsetRecord = { ...record, committed: position.offset, updatedAt: Date.now() };
        if ((await this.#log.groups.update(key, serializeOffset(next), entry!.revision)) !== null) return;
      }
    } catch (error) {
      if (isHeraldError(error)) throw error;
      throw toHeraldError(
        error,
        `cannot commit ${position.topic}/${position.partition} for group "${this.group}"`,
      );
    }
  }

  /** Step 1 of a handover: let the consumer finish (`onRevoked`), then free the partitions. */
  async #revoke(partitions: readonly Owned[]): Promise<void> {
    await this.#revoked(partitions);
    for (const owned of partitions) owned.released = true;
    if (this.#running) await this.#free([]);
  }

  /** Frees, in one write, the released partitions and the given strays this member still owns. */
  async #free(stray: readonly PartitionRecord[]): Promise<void> {
    const released = [...this.#owned.values()].filter((o) => o.released);
    const list = [
      ...released.map((o) => ({ topic: o.topic, partition: o.partition, epoch: o.epoch })),
      ...stray.map((p) => ({ topic: p.topic, partition: p.partition, epoch: p.epoch })),
    ];
    if (list.length === 0) return;
    try {
      await this.#membership.release(list);
      for (const owned of released) {
        const key = topicPartitionKey(owned.topic, owned.partition);
        if (this.#owned.get(key) === owned) this.#owned.delete(key);
      }
    } catch {
      // Still owned in the record: the next coordination round sees the released flags and tries again.
    }
  }

  /** Our lease expired while we were stalled: everything we held belongs to others now. */
  async #rejoin(): Promise<void> {
    for (const owned of this.#owned.values()) this.#drop(owned);
    this.#owned.clear();
    this.#queue.clear();
    this.#signalRoom();
    try {
      await this.#membership.rejoin();
    } catch (error) {
      throw toHeraldError(error, `group "${this.group}": cannot join`);
    }
    this.#pending = true;
  }

  async #leave(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    const joined = this.#state !== 'joining';
    this.#state = 'closing';
    this.#stopTimers();
    this.#watch?.unsubscribe();
    for (const owned of this.#owned.values()) this.#stopFeed(owned);
    this.#queue.close();
    try {
      const held = [...this.#owned.values()].filter((o) => o.state === 'active');
      await this.#revoked(held);
      await this.#coordinating;
      if (joined) {
        await this.#membership.leave().catch((error: unknown) => {
          throw toHeraldError(error, `group "${this.group}": cannot leave`);
        });
      }
      await Promise.allSettled([...this.#stopping]);
    } finally {
      this.#state = 'closed';
      this.#owned.clear();
      this.#signalRoom();
      this.#onClosed();
    }
  }

  /**
   * Applies `change` to the group record through the cell; resolves true when it wrote.
   * `change` returning undefined or the record itself means nothing to write.
   */
  async #change(
    change: (record: GroupRecord | undefined) => GroupRecord | undefined,
    what: string,
  ): Promise<boolean> {
    try {
      return await this.#membership.change(change);
    } catch (error) {
      throw toHeraldError(error, `group "${this.group}": cannot ${what}`);
    }
  }

  async #partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const topic of topics) {
      try {
        counts.set(topic, (await this.#log.topic(topic)).partitions);
      } catch (error) {
        if (!isHeraldError(error, 'UNKNOWN_TOPIC')) throw error;
      }
    }
    return counts;
  }

  #drop(owned: Owned): void {
    owned.state = 'revoking';
    this.#stopFeed(owned);
    this.#dropBuffered(owned);
  }

  /** Calls `onRevoked`; its failure is thrown to the consumer and the handover goes on. */
  async #revoked(partitions: readonly TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const list = partitions.map((p) => ({ topic: p.topic, partition: p.partition }));
    await this.#queue.runCallback(() => this.#options.onRevoked?.(list));
  }

  #stopTimers(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fenced(p: TopicPartition): HeraldError {
    return this.#membership.fenced(p);
  }
}
