import { HeraldError } from '@herald/core';
import type {
  PartitionOffset,
  StartPosition,
  StoredEvent,
  SubscribeOptions,
  Subscription,
  TopicPartition,
} from '@herald/core';
import {
  ClaimHistory,
  type DeliveryClaim,
  DeliveryQueue,
  assignPartitions,
  checkCommitOffset,
  commitRequest,
  topicPartitionKey,
} from '@herald/core/backend';
import {
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  encodeConsumerProtocolAssignment,
  encodeConsumerProtocolSubscription,
  findErrorBy,
} from '@platformatic/kafka';
import type { joinGroupV9, syncGroupV5 } from '@platformatic/kafka';
import { CoordinatorBackoff } from './coordinator-backoff.ts';
import {
  GROUP_MEMBERSHIP_ERRORS,
  hasKafkaError,
  isTransient,
  kafkaErrorId,
  toHeraldError,
} from './kafka-errors.ts';
import type { ResolvedKafkaLogOptions } from './kafka-log-options.ts';
import { EARLIEST, LATEST, fetchedRecords } from './kafka-wire.ts';
import { encodeOffsetMetadata, parseOffsetMetadata } from './offset-metadata.ts';
import type { FetchedRecord, KafkaWire } from './kafka-wire.ts';

/*
 * A member of a Kafka consumer group, speaking the classic group protocol itself (JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, OffsetCommit) over raw requests, so that Herald decides
 * what happens around a rebalance instead of the client library:
 *
 * - Eager rebalancing, as Kafka's classic protocol defines it: when the coordinator announces a
 *   rebalance (REBALANCE_IN_PROGRESS on a heartbeat), the member stops delivering, drops what
 *   it buffered, awaits `onRevoked` for everything it owns — commits made there still carry
 *   the current generation and are accepted — and only then sends JoinGroup. The coordinator
 *   completes the rebalance only once every member rejoined (or its session expired), so no
 *   partition is ever delivered by two live members, and work in flight can be committed
 *   before anyone else reads the partition.
 * - The group leader computes the assignment with Herald's `assignPartitions`, the function
 *   every backend shares, and encodes it in Kafka's standard ConsumerProtocolAssignment, so
 *   kafka-consumer-groups.sh and the admin API describe Herald groups like any other.
 * - Fencing: each claimed partition gets a fresh local epoch, and a commit of an event is
 *   refused (`FENCED`) unless the member still owns the partition under the epoch the event
 *   was delivered under (core's `DeliveryClaim`), also after the member claimed the partition
 *   again. The broker independently refuses
 *   commits whose generation or member id is stale (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
 *   REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID), which also become `FENCED`. A member paused
 *   past its session timeout therefore never moves the group's position when it wakes.
 * - A member that learns it was expired (UNKNOWN_MEMBER_ID on a heartbeat) drops its
 *   partitions, calls `onRevoked` for them after the fact, and rejoins as a new member.
 * - Committed offsets never go back: the member knows each owned partition's committed
 *   offset (read when it claimed it, raised by its own commits, the only ones allowed while it
 *   owns the partition) and skips commits that would not advance it.
 */

/** The group protocol name Herald members advertise; all members of a group must share it. */
export const GROUP_PROTOCOL = 'herald';

/**
 * When each member of this process last heartbeated successfully, by member id, so that
 * describeGroup reports it exactly for members it can see; Kafka itself does not expose it.
 */
export const localHeartbeats = new Map<string, number>();

/** What a subscription needs from the log that opened it. */
export interface KafkaLogInternals {
  readonly options: ResolvedKafkaLogOptions;
  /** The log's shared admin connection, used to leave a group even while a JoinGroup is pending. */
  readonly admin: KafkaWire;
  openWire(requestTimeoutMs?: number): KafkaWire;
  wireTopic(topic: string): string;
  heraldTopic(wireTopic: string): string;
  wireGroup(group: string): string;
  decode(topic: string, partition: number, record: FetchedRecord): StoredEvent;
}

/** A subscription's options after validation, as the log hands them over. */
export interface SubscriptionSettings {
  readonly group: string;
  readonly topics: readonly string[];
  readonly startAt: StartPosition;
  /** The session timeout the broker will apply (the requested one within the broker's bounds). */
  readonly sessionTimeoutMs: number;
  readonly maxBufferedEvents: number;
  readonly onRevoked: SubscribeOptions['onRevoked'];
  readonly onAssigned: SubscribeOptions['onAssigned'];
  readonly signal: AbortSignal | undefined;
}

interface Owned {
  readonly tp: TopicPartition;
  readonly wireTopic: string;
  readonly key: string;
  readonly epoch: number;
  /** Next offset to deliver (ahead of `committed` by what was delivered). */
  position: number;
  /**
   * Records fetched but not delivered yet, from `position` on: a fetch brings whole record
   * batches, usually more than the buffer has room for, and what does not fit waits here
   * (undecoded) instead of being fetched and parsed again.
   */
  fetched: readonly FetchedRecord[];
  /** Index in `fetched` of the next record to deliver. */
  nextFetched: number;
  /** The offset after the last fetched batch (past trailing markers and aborted records): where the next fetch starts. */
  fetchedEnd: number;
  /** The group's committed offset, or null when it never committed this partition. */
  committed: number | null;
  /** The replay mark `resetGroup` left in the committed offset's metadata; commits keep it. */
  readonly replayUntil: number | undefined;
  /** `onRevoked` is running: nothing more is delivered from it; commits still succeed. */
  revoking: boolean;
  /** What this claim delivered, to tell its events from an earlier claim's on commit. */
  readonly claim: DeliveryClaim;
}

interface Commit {
  readonly held: Owned;
  readonly offset: number;
  /** True for an explicit offset list entry: checked against the end of the partition. */
  readonly explicit: boolean;
}

const FETCH_MAX_BYTES = 8 * 1024 * 1024;
const MAX_JOIN_ATTEMPTS = 50;
let epochs = 0;

/** Where the next fetch of a partition starts: after what is waiting to be delivered, else at its position. */
const fetchFrom = (owned: Owned): number =>
  owned.nextFetched < owned.fetched.length ? owned.fetchedEnd : owned.position;

/** A wake-up call for a loop: `wait` resolves at the next `notify` or after `timeoutMs`. */
class Signal {
  #waiters: (() => void)[] = [];

  wait(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((waiter) => waiter !== done);
        resolve();
      };
      this.#waiters.push(done);
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }

  notify(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** One member of a Kafka consumer group; see the protocol notes at the top of this file. */
export class KafkaSubscription implements Subscription {
  readonly group: string;
  readonly #log: KafkaLogInternals;
  readonly #settings: SubscriptionSettings;
  readonly #wireGroup: string;
  readonly #wireTopics: readonly string[];
  readonly #heartbeatMs: number;
  readonly #rebalanceTimeoutMs: number;
  /** Group requests; its timeout covers a JoinGroup waiting for the whole group. */
  readonly #coordinator: KafkaWire;
  /** Fetches, on their own connections so that a long poll never delays a heartbeat. */
  readonly #fetcher: KafkaWire;
  readonly #onClosed: () => void;
  #memberId = '';
  #generation = -1;
  readonly #owned = new Map<string, Owned>();
  /**
   * Decoded events ahead of the consumer, at most `maxBufferedEvents`, and failures (an
   * undecodable record, a failing `onRevoked`/`onAssigned`) thrown to it in their place.
   */
  readonly #queue: DeliveryQueue;
  readonly #claims = new ClaimHistory();
  #state: 'joining' | 'active' | 'closing' | 'closed' = 'joining';
  #frozen = false;
  #crashed = false;
  /** Thawed but not yet heartbeated: deliver nothing until membership is confirmed. */
  #unverified = false;
  /**
   * When (monotonic clock) the last heartbeat the coordinator answered was sent. The coordinator
   * received it after that, so it cannot expire the member before `#heartbeatSentAt` + the
   * session timeout: up to then, and only then, the member knows it still owns its partitions.
   */
  #heartbeatSentAt = 0;
  #needJoin = true;
  readonly #coordinatorWake = new Signal();
  readonly #fetchWake = new Signal();
  #coordinating: Promise<void> | undefined;
  /** A rebalance's `onRevoked` in progress; closing lets it finish (and commit) before leaving. */
  #revoking: Promise<void> | undefined;
  #fetching: Promise<void> | undefined;
  /** The fetch in flight, if any: one at a time, run beside delivery. */
  #prefetch: Promise<void> | undefined;
  /** The last fetch made while records were waiting brought nothing new. */
  #foundNothing = false;
  #commits: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #rotation = 0;
  /** Last stable offset seen per partition, to refuse commits past the end. */
  readonly #ends = new Map<string, number>();
  readonly #abort = (): void => void this.close();

  constructor(log: KafkaLogInternals, settings: SubscriptionSettings, onClosed: () => void) {
    this.#log = log;
    this.#settings = settings;
    this.group = settings.group;
    this.#wireGroup = log.wireGroup(settings.group);
    this.#wireTopics = settings.topics.map((topic) => log.wireTopic(topic));
    const { options } = log;
    this.#heartbeatMs = Math.max(
      1,
      Math.min(options.heartbeatIntervalMs ?? 3000, Math.floor(settings.sessionTimeoutMs / 3)),
    );
    this.#rebalanceTimeoutMs = Math.max(options.rebalanceTimeoutMs, settings.sessionTimeoutMs);
    this.#coordinator = log.openWire(this.#rebalanceTimeoutMs + settings.sessionTimeoutMs + 5000);
    this.#fetcher = log.openWire(options.requestTimeoutMs + options.fetchMaxWaitMs);
    this.#onClosed = onClosed;
    this.#queue = new DeliveryQueue(
      {
        // Out of touch for a session (a network partition that answers nothing, where the
        // heartbeat itself hangs until its request times out) the member may already be expired
        // and its partitions handed on: it delivers nothing more until a heartbeat answers.
        deliverable: () => !this.#frozen && !this.#crashed && !this.#unverified && this.#inTouch(),
        assertUsable: () => this.#assertUsable(),
        // Room freed (or a failure taken, which decoding waits behind): fetch and decode on.
        taken: (count) => {
          if (count > 0) this.#foundNothing = false;
          this.#fetchWake.notify();
        },
      },
      settings.maxBufferedEvents,
    );
  }

  get memberId(): string {
    return this.#memberId;
  }

  assignment(): readonly TopicPartition[] {
    return [...this.#owned.values()]
      .filter((owned) => !owned.revoking)
      .map((owned) => owned.tp)
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  /** Joins the group and takes the first assignment; rejects when the group cannot be joined. */
  async start(): Promise<void> {
    try {
      await this.#join();
    } catch (error) {
      this.#state = 'closed';
      await Promise.allSettled([this.#coordinator.close(), this.#fetcher.close()]);
      this.#onClosed();
      throw toHeraldError(error, `cannot join consumer group "${this.group}"`, { group: this.group });
    }
    if (this.#closing !== undefined || this.#crashed) {
      await this.close();
      throw new HeraldError('CLOSED', `the subscription of group "${this.group}" was closed while joining`);
    }
    this.#state = 'active';
    this.#coordinating = this.#coordinationLoop();
    this.#fetching = this.#fetchLoop();
    const signal = this.#settings.signal;
    if (signal?.aborted === true) void this.close();
    else signal?.addEventListener('abort', this.#abort, { once: true });
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
    const explicit = event === undefined;
    const commits = requested.map((position): Commit => {
      const held = this.#owned.get(topicPartitionKey(position.topic, position.partition));
      if (held === undefined || (event !== undefined && !held.claim.owns(event))) {
        throw this.#fenced(position, held !== undefined);
      }
      return { held, offset: position.offset, explicit };
    });
    const run = this.#commits.then(() => this.#commitNow(commits));
    this.#commits = run.catch(() => undefined);
    return run;
  }

  /**
   * Stops delivery, calls `onRevoked` for the partitions it owns (their work in flight can
   * still be committed), then leaves the group so that the others take them over at once.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Fault injection: the process died. Connections drop; nothing is sent; the session will expire. */
  crash(): void {
    if (this.#crashed) return;
    this.#crashed = true;
    void this.#coordinator.close();
    void this.#fetcher.close();
    this.#wakeAll();
  }

  /** Fault injection: the process stalls. No heartbeats, no fetches, no deliveries until `thaw`. */
  freeze(): void {
    this.#frozen = true;
  }

  /** Ends a freeze: heartbeat at once (finding out whether the session expired meanwhile), then deliver. */
  thaw(): void {
    if (!this.#frozen) return;
    this.#frozen = false;
    this.#unverified = true;
    this.#wakeAll();
  }

  // ---- delivery ----

  async #fetchLoop(): Promise<void> {
    const max = this.#settings.maxBufferedEvents;
    let retryAt = 0;
    while (this.#running) {
      const targets = [...this.#owned.values()].filter((owned) => !owned.revoking);
      if (this.#frozen || targets.length === 0) {
        await this.#fetchWake.wait();
        continue;
      }
      // What earlier fetches brought goes first, as far as the buffer has room. Decoding waits
      // behind a failure the consumer has not taken yet, so nothing overtakes it.
      if (this.#queue.room > 0 && !this.#queue.failing) {
        const waiting = targets.filter((owned) => owned.nextFetched < owned.fetched.length);
        if (waiting.length > 0) {
          this.#deliverFetched(waiting);
          continue;
        }
      }
      // Fetch ahead, one request at a time, for the partitions with fewer than `max` records
      // waiting, from where those end: the broker works while the consumer goes through what
      // is already here, instead of both taking turns. While records are waiting the broker is
      // not asked to hold the request for new ones (that would hold up the next fetch of a
      // partition about to run dry), and after such a fetch found nothing it is asked again
      // only once the consumer has taken a batch.
      const now = performance.now();
      const ahead = targets.some((owned) => owned.nextFetched < owned.fetched.length);
      if (this.#prefetch === undefined && now >= retryAt && !(ahead && this.#foundNothing)) {
        const low = targets.filter((owned) => owned.fetched.length - owned.nextFetched < max);
        if (low.length > 0) {
          this.#prefetch = this.#fetchOnce(low, ahead ? 0 : this.#log.options.fetchMaxWaitMs)
            .then(
              (found) => {
                this.#foundNothing = !found;
                retryAt = 0;
              },
              () => {
                // A broker restart or a leader move: the wire already retried; pause, then try again.
                retryAt = performance.now() + this.#log.options.retryDelayMs;
              },
            )
            .finally(() => {
              this.#prefetch = undefined;
              this.#fetchWake.notify();
            });
        }
      }
      await this.#fetchWake.wait(retryAt > now ? retryAt - now : undefined);
    }
    await this.#prefetch;
  }

  /** Fetches `targets` once, keeping what arrives for delivery; resolves with whether anything did. */
  async #fetchOnce(targets: readonly Owned[], maxWaitMs: number): Promise<boolean> {
    const byTopic = new Map<string, Owned[]>();
    for (const owned of targets)
      byTopic.set(owned.wireTopic, [...(byTopic.get(owned.wireTopic) ?? []), owned]);
    const requested = new Map(targets.map((owned) => [owned, fetchFrom(owned)]));
    const results = await Promise.all(
      [...byTopic].map(async ([topic, owned]) => ({
        owned,
        partitions: await this.#fetcher.fetch(
          topic,
          owned.map((o) => ({ partition: o.tp.partition, offset: requested.get(o)! })),
          {
            maxWaitMs,
            maxBytes: FETCH_MAX_BYTES,
            partitionMaxBytes: this.#log.options.maxRecordBytes + 65_536,
          },
        ),
      })),
    );
    if (!this.#running || this.#frozen) return false;
    let found = false;
    for (const { owned, partitions } of results) {
      for (const o of owned) {
        const partition = partitions.get(o.tp.partition);
        const at = requested.get(o)!;
        if (partition === undefined) continue;
        // Ownership may have changed while the fetch was in flight: then its records are not ours to deliver.
        if (this.#owned.get(o.key) !== o || o.revoking || fetchFrom(o) !== at) continue;
        const waiting = o.nextFetched < o.fetched.length;
        if (partition.errorCode === 1) {
          // OFFSET_OUT_OF_RANGE: retention deleted what the group had not read yet, so start at
          // the oldest event still there; a position past the end starts at the end. Records
          // already here are delivered first; a fetch after them meets the error again.
          if (waiting) continue;
          const start = Number(partition.logStartOffset);
          o.position = o.position < start ? start : Number(partition.highWatermark);
          continue;
        }
        if (partition.errorCode !== 0) continue;
        const end = Number(
          partition.lastStableOffset >= 0n ? partition.lastStableOffset : partition.highWatermark,
        );
        this.#ends.set(o.key, end);
        const last = (partition.records ?? []).at(-1);
        const records = fetchedRecords(partition, at);
        if (records.length > 0) found = true;
        o.fetched = waiting ? o.fetched.slice(o.nextFetched).concat(records) : records;
        o.nextFetched = 0;
        o.fetchedEnd =
          last === undefined ? at : Math.max(at, Number(last.firstOffset) + last.lastOffsetDelta + 1);
      }
    }
    return found;
  }

  /**
   * Moves fetched records into the buffer, decoded, as far as it has room: an equal share per
   * partition, starting with a different partition each time, so that one busy partition
   * cannot crowd out the others.
   */
  #deliverFetched(partitions: readonly Owned[]): void {
    const start = this.#rotation++ % Math.max(1, partitions.length);
    const rotated = [...partitions.slice(start), ...partitions.slice(0, start)];
    let room = this.#queue.room;
    const share = Math.max(1, Math.ceil(room / Math.max(1, rotated.length)));
    let delivered = false;
    let failed = false;
    for (const owned of rotated) {
      if (room <= 0) break;
      const limit = Math.min(share, room);
      let taken = 0;
      while (taken < limit && owned.nextFetched < owned.fetched.length) {
        const record = owned.fetched[owned.nextFetched++]!;
        owned.position = record.offset + 1;
        taken++;
        let event: StoredEvent;
        try {
          event = this.#log.decode(owned.tp.topic, owned.tp.partition, record);
        } catch (error) {
          void this.#queue.fail(error);
          failed = true;
          break;
        }
        owned.claim.delivered(event);
        this.#queue.push(event);
        delivered = true;
      }
      room -= taken;
      if (owned.nextFetched >= owned.fetched.length) {
        // Past markers and aborted records: nothing to deliver up to the end of what was fetched.
        owned.position = Math.max(owned.position, owned.fetchedEnd);
        owned.fetched = [];
        owned.nextFetched = 0;
      }
      if (failed) break;
    }
    if (delivered) this.#queue.wake();
  }

  // ---- group membership ----

  get #running(): boolean {
    return this.#state === 'active' && !this.#crashed;
  }

  get #stopped(): boolean {
    return this.#state === 'closing' || this.#state === 'closed' || this.#crashed;
  }

  async #coordinationLoop(): Promise<void> {
    while (this.#running) {
      if (this.#frozen) {
        await this.#coordinatorWake.wait();
        continue;
      }
      try {
        if (this.#needJoin) {
          await this.#join();
          continue;
        }
        if (!this.#unverified) await this.#coordinatorWake.wait(this.#heartbeatMs);
        if (!this.#running || this.#frozen || this.#needJoin) continue;
        await this.#heartbeat();
      } catch (error) {
        if (!this.#running) break;
        if (!isTransient(error)) this.#needJoin = true;
        // The session tolerates missed heartbeats; try again shortly.
        await this.#coordinatorWake.wait(this.#log.options.retryDelayMs);
      }
    }
  }

  async #heartbeat(): Promise<void> {
    const sentAt = performance.now();
    try {
      await this.#coordinator.coordinatorRequest(
        this.#wireGroup,
        'Heartbeat',
        this.#wireGroup,
        this.#generation,
        this.#memberId,
        null,
      );
      this.#heartbeated(sentAt);
    } catch (error) {
      const id = kafkaErrorId(error);
      if (id === 'REBALANCE_IN_PROGRESS') {
        // Still a member of the current generation: what was fetched may still be delivered
        // until the rejoin gives everything up.
        this.#needJoin = true;
        this.#heartbeated(sentAt);
        return;
      }
      if (id === 'UNKNOWN_MEMBER_ID' || id === 'ILLEGAL_GENERATION' || id === 'FENCED_INSTANCE_ID') {
        await this.#lose();
        if (id !== 'ILLEGAL_GENERATION') this.#forgetMemberId();
        this.#needJoin = true;
        this.#unverified = false;
        this.#queue.wake();
        return;
      }
      throw error;
    }
  }

  /** The coordinator answered a heartbeat (or a join) sent at `sentAt` as from a live member. */
  #heartbeated(sentAt: number): void {
    if (this.#memberId !== '') localHeartbeats.set(this.#memberId, Date.now());
    const wasOutOfTouch = !this.#inTouch();
    this.#heartbeatSentAt = Math.max(this.#heartbeatSentAt, sentAt);
    if (this.#unverified || wasOutOfTouch) {
      this.#unverified = false;
      this.#queue.wake();
    }
  }

  /** Whether the coordinator cannot have expired this member yet (see `#heartbeatSentAt`). */
  #inTouch(): boolean {
    return performance.now() - this.#heartbeatSentAt < this.#settings.sessionTimeoutMs;
  }

  #forgetMemberId(): void {
    localHeartbeats.delete(this.#memberId);
    this.#memberId = '';
  }

  /** The member was expired or left behind by a rebalance: everything it held belongs to others now. */
  async #lose(): Promise<void> {
    const lost = [...this.#owned.values()].filter((owned) => !owned.revoking).map((owned) => owned.tp);
    this.#owned.clear();
    this.#queue.clear();
    if (lost.length > 0) await this.#queue.runCallback(() => this.#settings.onRevoked?.(lost));
  }

  /**
   * Eager rebalancing: give everything up (after `onRevoked`), then JoinGroup and SyncGroup.
   * While the coordinator is loading the group or moving (a cluster that just started, a broker
   * that took over the group), the join is tried again with backoff for up to one session
   * timeout (see CoordinatorBackoff), finding the coordinator again each time; those attempts
   * do not count against MAX_JOIN_ATTEMPTS, which bounds rejoins the group itself asks for.
   */
  async #join(): Promise<void> {
    await this.#giveUpAll();
    const backoff = new CoordinatorBackoff({
      budgetMs: this.#settings.sessionTimeoutMs,
      initialDelayMs: this.#log.options.retryDelayMs,
      maxDelayMs: this.#heartbeatMs,
      sleep: (ms) => this.#coordinatorWake.wait(ms),
    });
    for (let attempt = 1; ; attempt++) {
      if (this.#stopped) return;
      if (attempt > MAX_JOIN_ATTEMPTS) {
        throw new HeraldError(
          'BACKEND_UNAVAILABLE',
          `could not join group "${this.group}" after ${MAX_JOIN_ATTEMPTS} attempts`,
        );
      }
      let joined: joinGroupV9.JoinGroupResponse;
      try {
        joined = await this.#coordinator.coordinatorRequest<joinGroupV9.JoinGroupResponse>(
          this.#wireGroup,
          'JoinGroup',
          this.#wireGroup,
          this.#settings.sessionTimeoutMs,
          this.#rebalanceTimeoutMs,
          this.#memberId,
          null,
          'consumer',
          [
            {
              name: GROUP_PROTOCOL,
              metadata: encodeConsumerProtocolSubscription({ version: 0, topics: [...this.#wireTopics] }),
            },
          ],
          null,
        );
      } catch (error) {
        const id = kafkaErrorId(error);
        if (id === 'MEMBER_ID_REQUIRED') {
          // The broker's first answer to a new member: its id, to join with.
          const found = findErrorBy(error as Error, 'apiId', 'MEMBER_ID_REQUIRED') as {
            memberId?: unknown;
          } | null;
          const response = (error as { response?: { memberId?: unknown } }).response;
          const memberId = typeof found?.memberId === 'string' ? found.memberId : response?.memberId;
          if (typeof memberId === 'string' && memberId !== '') this.#memberId = memberId;
          continue;
        }
        if (id === 'UNKNOWN_MEMBER_ID' || id === 'FENCED_INSTANCE_ID') {
          this.#forgetMemberId();
          continue;
        }
        if (id === 'REBALANCE_IN_PROGRESS' || id === 'ILLEGAL_GENERATION') continue;
        if (id === 'INVALID_SESSION_TIMEOUT') {
          throw new HeraldError(
            'INVALID_ARGUMENT',
            `the broker refused session timeout ${this.#settings.sessionTimeoutMs} ms (see group.min/max.session.timeout.ms)`,
            { cause: error },
          );
        }
        if (await backoff.retry(error)) {
          attempt--;
          continue;
        }
        throw error;
      }
      if (this.#stopped) return;
      this.#memberId = joined.memberId;
      this.#generation = joined.generationId;
      const assignments = joined.leader === joined.memberId ? await this.#assign(joined.members) : [];
      let synced: syncGroupV5.SyncGroupResponse;
      const syncSentAt = performance.now();
      try {
        synced = await this.#coordinator.coordinatorRequest<syncGroupV5.SyncGroupResponse>(
          this.#wireGroup,
          'SyncGroup',
          this.#wireGroup,
          this.#generation,
          this.#memberId,
          null,
          'consumer',
          GROUP_PROTOCOL,
          assignments,
        );
      } catch (error) {
        const id = kafkaErrorId(error);
        if (id === 'UNKNOWN_MEMBER_ID') this.#forgetMemberId();
        if (id === 'REBALANCE_IN_PROGRESS' || id === 'ILLEGAL_GENERATION' || id === 'UNKNOWN_MEMBER_ID')
          continue;
        if (await backoff.retry(error)) {
          attempt--;
          continue;
        }
        throw error;
      }
      if (this.#stopped) return;
      this.#heartbeated(syncSentAt);
      const assigned =
        synced.assignment.length === 0
          ? []
          : decodeConsumerProtocolAssignment(synced.assignment).assignedPartitions;
      // Until the claim succeeded the member holds nothing it could deliver: a failed claim rejoins
      // (at once while the coordinator is still loading the group's offsets).
      try {
        await this.#claim(
          assigned.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition }))),
        );
      } catch (error) {
        if (this.#owned.size === 0 && (await backoff.retry(error))) {
          attempt--;
          continue;
        }
        throw error;
      }
      this.#needJoin = false;
      return;
    }
  }

  async #giveUpAll(): Promise<void> {
    const owned = [...this.#owned.values()].filter((o) => !o.revoking);
    this.#queue.clear();
    if (owned.length > 0) {
      for (const o of owned) o.revoking = true;
      this.#revoking = this.#whileHeartbeating(() =>
        this.#queue.runCallback(() => this.#settings.onRevoked?.(owned.map((o) => o.tp))),
      );
      try {
        await this.#revoking;
      } finally {
        this.#revoking = undefined;
      }
    }
    this.#owned.clear();
  }

  /**
   * Runs `work` (an `onRevoked` call) while heartbeating, so that a slow handover does not
   * cost the member its session: the coordinator keeps a member alive through a rebalance as
   * long as it heartbeats, and its commits are accepted until it rejoins.
   */
  async #whileHeartbeating(work: () => Promise<void>): Promise<void> {
    if (this.#memberId === '' || this.#generation < 0) return work();
    let done = false;
    const stop = new Signal();
    const beating = (async () => {
      while (true) {
        await stop.wait(this.#heartbeatMs);
        if (done || this.#crashed || this.#frozen) return;
        const sentAt = performance.now();
        try {
          await this.#coordinator.coordinatorRequest(
            this.#wireGroup,
            'Heartbeat',
            this.#wireGroup,
            this.#generation,
            this.#memberId,
            null,
          );
          this.#heartbeated(sentAt);
        } catch (error) {
          // REBALANCE_IN_PROGRESS is the expected answer and still counts as a heartbeat.
          if (kafkaErrorId(error) === 'REBALANCE_IN_PROGRESS') this.#heartbeated(sentAt);
        }
      }
    })();
    try {
      await work();
    } finally {
      done = true;
      stop.notify();
      await beating;
    }
  }

  /** As group leader: every member's partitions, by Herald's shared assignment function. */
  async #assign(
    members: readonly joinGroupV9.JoinGroupResponseMember[],
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = members.map((member) => ({
      memberId: member.memberId,
      topics: member.metadata.length === 0 ? [] : decodeConsumerProtocolSubscription(member.metadata).topics,
    }));
    const topics = [...new Set(subscriptions.flatMap((member) => member.topics))].sort();
    const partitions: TopicPartition[] = [];
    for (const topic of topics) {
      try {
        const metadata = await this.#coordinator.topic(topic, true);
        for (let partition = 0; partition < metadata.partitionsCount; partition++)
          partitions.push({ topic, partition });
      } catch (error) {
        // A subscribed topic that was deleted has nothing to assign.
        if (!(error instanceof HeraldError && error.code === 'UNKNOWN_TOPIC')) throw error;
      }
    }
    const plan = assignPartitions(subscriptions, partitions);
    return subscriptions.map(({ memberId }) => {
      const byTopic = new Map<string, number[]>();
      for (const tp of plan.get(memberId) ?? [])
        byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
      return {
        memberId,
        assignment: encodeConsumerProtocolAssignment({
          version: 0,
          assignedPartitions: [...byTopic].map(([topic, owned]) => ({ topic, partitions: owned })),
        }),
      };
    });
  }

  /** Takes over assigned partitions at the group's committed offsets, else at `startAt`. */
  async #claim(assigned: readonly { topic: string; partition: number }[]): Promise<void> {
    if (assigned.length === 0) return;
    const committed = await this.#committedOffsets(assigned);
    const starts = new Map<string, number>();
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of assigned) {
      if (committed.get(topicPartitionKey(topic, partition))?.offset === undefined)
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }
    for (const [topic, partitions] of byTopic) {
      const { startAt } = this.#settings;
      const at =
        startAt === 'earliest'
          ? EARLIEST
          : startAt === 'latest'
            ? LATEST
            : BigInt(Math.max(0, Math.floor(startAt.timestamp)));
      for (const [partition, offset] of await this.#fetcher.listOffsets(topic, partitions, at)) {
        starts.set(topicPartitionKey(topic, partition), offset);
      }
    }
    if (this.#stopped) return;
    const claimed: TopicPartition[] = [];
    for (const { topic, partition } of assigned) {
      const tp = { topic: this.#log.heraldTopic(topic), partition };
      const key = topicPartitionKey(tp.topic, partition);
      const position = committed.get(topicPartitionKey(topic, partition));
      const done = position?.offset;
      this.#owned.set(key, {
        tp,
        wireTopic: topic,
        key,
        epoch: ++epochs,
        position: done ?? starts.get(topicPartitionKey(topic, partition)) ?? 0,
        fetched: [],
        nextFetched: 0,
        fetchedEnd: 0,
        committed: done ?? null,
        replayUntil: position?.replayUntil,
        revoking: false,
        claim: this.#claims.claim(key),
      });
      claimed.push(tp);
    }
    this.#fetchWake.notify();
    await this.#queue.runCallback(() => this.#settings.onAssigned?.(claimed));
  }

  /** The group's committed offsets (with their replay marks) of `partitions` it committed on. */
  async #committedOffsets(
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<Map<string, { offset: number; replayUntil: number | undefined }>> {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions)
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    const response = await this.#coordinator.coordinatorRequest<{
      groups: {
        topics: {
          name: string;
          partitions: { partitionIndex: number; committedOffset: bigint; metadata: string | null }[];
        }[];
      }[];
    }>(
      this.#wireGroup,
      'OffsetFetch',
      [
        {
          groupId: this.#wireGroup,
          memberId: null,
          memberEpoch: -1,
          topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        },
      ],
      true,
    );
    const committed = new Map<string, { offset: number; replayUntil: number | undefined }>();
    for (const group of response.groups) {
      for (const topic of group.topics) {
        for (const p of topic.partitions) {
          if (p.committedOffset >= 0n)
            committed.set(topicPartitionKey(topic.name, p.partitionIndex), {
              offset: Number(p.committedOffset),
              replayUntil: parseOffsetMetadata(p.metadata),
            });
        }
      }
    }
    return committed;
  }

  async #commitNow(commits: readonly Commit[]): Promise<void> {
    const best = new Map<string, Commit>();
    for (const commit of commits) {
      if (this.#owned.get(commit.held.key) !== commit.held) throw this.#fenced(commit.held.tp, true);
      const previous = best.get(commit.held.key);
      if (previous === undefined || commit.offset > previous.offset) best.set(commit.held.key, commit);
    }
    const advancing = [...best.values()].filter(
      ({ held, offset }) => held.committed === null || offset > held.committed,
    );
    if (advancing.length === 0) return;
    for (const { held, offset, explicit } of advancing) {
      if (!explicit || offset <= (this.#ends.get(held.key) ?? -1)) continue;
      const end =
        (await this.#fetcher.listOffsets(held.wireTopic, [held.tp.partition], LATEST)).get(
          held.tp.partition,
        ) ?? 0;
      this.#ends.set(held.key, end);
      checkCommitOffset({ ...held.tp, offset }, end);
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
    for (const { held, offset } of advancing) {
      byTopic.set(held.wireTopic, [
        ...(byTopic.get(held.wireTopic) ?? []),
        {
          partitionIndex: held.tp.partition,
          committedOffset: BigInt(offset),
          committedLeaderEpoch: -1,
          // The replay mark goes with every commit: Kafka keeps only the latest commit's string.
          committedMetadata: encodeOffsetMetadata(held.replayUntil),
        },
      ]);
    }
    try {
      await this.#coordinator.coordinatorRequest(
        this.#wireGroup,
        'OffsetCommit',
        this.#wireGroup,
        this.#generation,
        this.#memberId,
        null,
        [...byTopic].map(([name, partitions]) => ({ name, partitions })),
      );
    } catch (error) {
      if (hasKafkaError(error, ...GROUP_MEMBERSHIP_ERRORS)) {
        // The broker no longer counts this member in the generation that delivered the events.
        this.#coordinatorWake.notify();
        const first = advancing[0]!.held.tp;
        throw new HeraldError(
          'FENCED',
          `member ${this.#memberId} of group "${this.group}" lost ${first.topic}/${first.partition}: the broker refused its commit (${kafkaErrorId(error) ?? 'fenced'})`,
          {
            cause: error,
            details: {
              group: this.group,
              memberId: this.#memberId,
              topic: first.topic,
              partition: first.partition,
            },
          },
        );
      }
      throw toHeraldError(error, `commit of group "${this.group}" failed`, { group: this.group });
    }
    for (const { held, offset } of advancing) held.committed = Math.max(held.committed ?? 0, offset);
  }

  async #shutdown(): Promise<void> {
    this.#state = 'closing';
    this.#settings.signal?.removeEventListener('abort', this.#abort);
    this.#queue.close();
    this.#wakeAll();
    try {
      if (!this.#crashed) {
        await this.#revoking;
        const held = [...this.#owned.values()].filter((owned) => !owned.revoking);
        if (held.length > 0 && this.#memberId !== '') {
          await this.#whileHeartbeating(() =>
            this.#queue.runCallback(() => this.#settings.onRevoked?.(held.map((owned) => owned.tp))),
          );
        }
        await this.#commits;
        if (this.#memberId !== '') {
          try {
            await this.#log.admin.coordinatorRequest(this.#wireGroup, 'LeaveGroup', this.#wireGroup, [
              { memberId: this.#memberId, groupInstanceId: null, reason: 'subscription closed' },
            ]);
          } catch {
            // Already expired or unreachable: its session ends the membership anyway.
          }
        }
      }
    } finally {
      this.#owned.clear();
      localHeartbeats.delete(this.#memberId);
      await Promise.allSettled([this.#coordinator.close(), this.#fetcher.close()]);
      this.#wakeAll();
      await Promise.allSettled([this.#coordinating, this.#fetching]);
      this.#state = 'closed';
      this.#onClosed();
    }
  }

  #wakeAll(): void {
    this.#coordinatorWake.notify();
    this.#fetchWake.notify();
    this.#queue.wake();
  }

  /** While closing, `onRevoked` may still commit. */
  #assertUsable(): void {
    if (this.#state === 'closed' || this.#crashed) {
      throw new HeraldError('CLOSED', `the subscription of group "${this.group}" is closed`);
    }
  }

  #fenced(tp: TopicPartition, underOther: boolean): HeraldError {
    return new HeraldError(
      'FENCED',
      `member ${this.#memberId} does not own ${tp.topic}/${tp.partition} in group "${this.group}"` +
        (underOther ? ' under the assignment that delivered this event' : ''),
      { details: { group: this.group, memberId: this.#memberId, topic: tp.topic, partition: tp.partition } },
    );
  }
}
