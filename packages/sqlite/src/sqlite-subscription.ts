import { prepared } from './statement-cache.ts';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import {
  type GroupDescription,
  type GroupPartitionState,
  type PartitionOffset,
  type StartPosition,
  type StoredEvent,
  type Subscription,
  type TopicPartition,
  HeraldError,
} from '@herald/core';
import {
  ClaimHistory,
  type DeliveryClaim,
  DeliveryQueue,
  GroupMembership,
  type SubscribeSettings,
  commitRequest,
  describeMembers,
  ownershipChanges,
  topicPartitionKey as key,
} from '@herald/core/backend';
import { SqliteGroupCell, readGroup } from './sqlite-group-cell.ts';
import type { SqliteLogInternals } from './sqlite-log-internals.ts';

/*
 * Consumer groups on one SQLite file, shared by any number of processes: core's group protocol
 * (group-protocol.ts) over the file's group tables (sqlite-group-cell.ts).
 *
 * Membership is a lease: every member heartbeats (a row in herald_members) every third of its
 * session timeout. Any member that notices another's lease expired deletes it and frees its
 * partitions. Every join, leave and expiry bumps the group's generation; the first member to
 * see a generation without an assignment computes one (`assignPartitions`, deterministic) and
 * writes each partition's `target`.
 *
 * A partition changes hands in two steps, so no two live members ever process it:
 *   1. its owner sees `target` is someone else, stops delivering it, awaits `onRevoked` (the
 *      router finishes and commits in-flight work there), then sets `owner = NULL`;
 *   2. the target sees it free and claims it (`owner = me`, `epoch + 1`), starting from the
 *      group's committed offset.
 * A member whose lease expired loses its partitions without step 1. Commits are accepted only
 * from the partition's current owner with the epoch it claimed under, so a member that was
 * paused past its session timeout cannot move the group's position when it wakes up: it gets
 * FENCED, drops what it held and rejoins as a new member. An event handed out under an earlier
 * claim stays uncommittable even after the member claims the partition again (core's
 * `DeliveryClaim`).
 *
 * Every coordination step is one write transaction; offsets and ownership never disagree:
 * a commit checks the partition's assignment row in the transaction that writes the offset.
 */

interface Owned {
  readonly topic: string;
  readonly topicId: number;
  readonly partition: number;
  readonly epoch: number;
  /** Next offset to fetch. */
  cursor: number;
  revoking: boolean;
  /** The topic as the log's reads name it (made once: a fetch reads every owned partition). */
  readonly topicRef: { readonly id: number; readonly name: string };
  /** What this claim handed out, to tell its events from an earlier claim's on commit. */
  readonly claim: DeliveryClaim;
}

/** How often a member re-reads its group while a handover it takes part in is under way. */
const REBALANCE_POLL_MS = 20;
/** How often a member checks, with a cheap read, whether its group's membership changed. */
const GENERATION_POLL_MS = 100;

export class SqliteSubscription implements Subscription {
  readonly group: string;
  readonly #log: SqliteLogInternals;
  readonly #options: SubscribeSettings;
  readonly #topics: readonly string[];
  readonly #maxBuffered: number;
  readonly #startAt: StartPosition;
  readonly #onClosed: () => void;
  readonly #membership: GroupMembership;
  readonly #owned = new Map<string, Owned>();
  readonly #claims = new ClaimHistory();
  /** Events read ahead of the consumer, at most `maxBufferedEvents`; filled when the consumer asks. */
  readonly #queue: DeliveryQueue;
  /** `closing`: leaving the group; nothing more is delivered, but `onRevoked` may still commit. */
  #state: 'joining' | 'active' | 'frozen' | 'closing' | 'closed' = 'joining';
  #timer: NodeJS.Timeout | undefined;
  #seenGeneration = -1;
  #pending = false;
  #coordinating: Promise<void> | undefined;
  #cancelNotify: (() => void) | undefined;
  #rotation = 0;
  #closing: Promise<void> | undefined;
  /** Prepared once: commits are the hot path of consumption. */
  #commitStatements: { ownerOf: StatementSync; upsert: StatementSync } | undefined;

  /** `settings` come checked from `subscribeSettings`; only whether the topics exist is checked here. */
  constructor(log: SqliteLogInternals, settings: SubscribeSettings, onClosed: () => void) {
    for (const topic of settings.topics) log.topic(topic);
    this.group = settings.group;
    this.#log = log;
    this.#options = settings;
    this.#topics = settings.topics;
    this.#maxBuffered = settings.maxBufferedEvents;
    this.#startAt = settings.startAt;
    this.#onClosed = onClosed;
    this.#queue = new DeliveryQueue(
      {
        deliverable: () => this.#state === 'active',
        fill: () => this.#fetch(),
        // A consumer waiting for events wakes when any process appends.
        waiting: () => {
          if (this.#state === 'active') this.#cancelNotify ??= this.#log.notifier.once(() => this.#wake());
        },
      },
      this.#maxBuffered,
    );
    this.#membership = new GroupMembership(new SqliteGroupCell(log.writes, settings.group), {
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
      .filter((o) => !o.revoking)
      .map((o) => ({ topic: o.topic, partition: o.partition }));
  }

  /** Registers this member and takes its first assignment. */
  async join(): Promise<void> {
    await this.#membership.join();
    this.#state = 'active';
    await this.#coordinate();
    this.#schedule();
    const signal = this.#options.signal;
    if (signal !== undefined) {
      if (signal.aborted) await this.close();
      else signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  async commit(positions: StoredEvent | readonly PartitionOffset[]): Promise<void> {
    // Refused from the moment the member starts leaving (not only once it has left): others can
    // see it gone as soon as its leave commits, before this instance has finished closing.
    if (this.#state === 'closed' || this.#leaving) {
      throw new HeraldError('CLOSED', 'the subscription is closed');
    }
    const { positions: list, event } = commitRequest(positions);
    const checked = list.map((p) => {
      const topicId = this.#log.topic(p.topic).id;
      const owned = this.#owned.get(key(p.topic, p.partition));
      if (owned === undefined) throw this.#fenced(p);
      if (event !== undefined && !owned.claim.owns(event)) throw this.#fenced(p);
      return { ...p, topicId, epoch: owned.epoch };
    });
    const memberId = this.#membership.memberId;
    await this.#log.writes.run((db) => {
      const { ownerOf, upsert } = (this.#commitStatements ??= {
        ownerOf: prepared(
          db,
          'SELECT owner, epoch FROM herald_assignments WHERE group_name = ? AND topic_id = ? AND partition = ?',
        ),
        upsert: prepared(
          db,
          `INSERT INTO herald_offsets (group_name, topic_id, partition, committed, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (group_name, topic_id, partition)
         DO UPDATE SET committed = max(committed, excluded.committed), updated_at = excluded.updated_at`,
        ),
      });
      const now = Date.now();
      for (const p of checked) {
        const row = ownerOf.get(this.group, p.topicId, p.partition) as
          { owner: string | null; epoch: number } | undefined;
        if (row?.owner !== memberId || row.epoch !== p.epoch) throw this.#fenced(p);
        upsert.run(this.group, p.topicId, p.partition, p.offset, now);
      }
    });
    this.#log.afterCommit();
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

  /** The process "died": stop everything, write nothing (the lease will expire). */
  crash(): void {
    this.#state = 'closed';
    this.#stopTimers();
    this.#queue.close();
    this.#onClosed();
  }

  /** The process "stalled": no heartbeats, no deliveries, until thaw(). */
  freeze(): void {
    if (this.#state !== 'active') return;
    this.#state = 'frozen';
    this.#stopTimers();
  }

  thaw(): void {
    if (this.#state !== 'frozen') return;
    this.#state = 'active';
    this.#membership.heartbeatNow();
    this.#schedule(0);
    this.#wake();
  }

  // ---- delivery ----

  /** The queue is empty: reads the next chunk of each owned partition, round-robin, up to the buffer bound. */
  #fetch(): void {
    // Runs at every wake of every group: it walks the map in place, allocating nothing for
    // partitions with nothing new.
    let active = 0;
    for (const owned of this.#owned.values()) if (!owned.revoking) active++;
    if (active === 0) return;
    const perPartition = Math.max(1, Math.ceil(this.#maxBuffered / active));
    this.#rotation = (this.#rotation + 1) % active;
    // Round-robin: the active partitions from the rotation's place on, then those before it.
    for (let pass = 0; pass < 2; pass++) {
      const wrapped = pass === 1;
      let index = 0;
      for (const owned of this.#owned.values()) {
        if (owned.revoking) continue;
        const before = index++ < this.#rotation;
        if (before !== wrapped) continue;
        if (this.#queue.room <= 0) return;
        this.#fetchFrom(owned, perPartition);
      }
    }
  }

  #fetchFrom(owned: Owned, perPartition: number): void {
    const available = this.#log.durableHead(owned.topicId, owned.partition) - owned.cursor;
    if (available <= 0) return;
    const room = Math.min(perPartition, this.#queue.room, available);
    const events = this.#log.readEvents(owned.topicRef, owned.partition, owned.cursor, room);
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      owned.claim.delivered(event);
      this.#queue.push(event);
    }
    if (events.length > 0) owned.cursor = events[events.length - 1]!.offset + 1;
  }

  #wake(): void {
    this.#cancelNotify?.();
    this.#cancelNotify = undefined;
    this.#queue.wake();
  }

  // ---- coordination ----

  #schedule(delay?: number): void {
    if (this.#state !== 'active') return;
    clearTimeout(this.#timer);
    const next =
      delay ??
      (this.#pending ? REBALANCE_POLL_MS : Math.min(GENERATION_POLL_MS, this.#membership.heartbeatMs));
    this.#timer = setTimeout(() => void this.#onTimer(), next);
    this.#timer.unref();
  }

  async #onTimer(): Promise<void> {
    if (this.#state !== 'active') return;
    try {
      const due = this.#pending || this.#membership.heartbeatDue() || this.#generationChanged();
      if (due) await this.#coordinate();
    } catch {
      // A busy or failing disk: the next heartbeat tries again; the lease tolerates misses.
    }
    this.#schedule();
  }

  #generationChanged(): boolean {
    const row = prepared(this.#log.reader, 'SELECT generation FROM herald_groups WHERE name = ?').get(
      this.group,
    ) as { generation: number } | undefined;
    return row === undefined || row.generation !== this.#seenGeneration;
  }

  /** One heartbeat: one coordination transaction, then the local consequences. Never concurrent. */
  #coordinate(): Promise<void> {
    this.#coordinating ??= this.#coordinateOnce().finally(() => {
      this.#coordinating = undefined;
    });
    return this.#coordinating;
  }

  async #coordinateOnce(): Promise<void> {
    const round = await this.#membership.coordinate({ beat: true });
    if (this.#state === 'closed' || this.#state === 'closing') return;
    if (round.kind !== 'coordinated') {
      // Our lease expired while we were stalled: everything we held belongs to others now.
      this.#owned.clear();
      this.#queue.clear();
      await this.#membership.rejoin();
      this.#pending = true;
      return;
    }
    const me = this.#membership.memberId;
    this.#seenGeneration = round.record.generation;
    const assigned: TopicPartition[] = [];
    for (const claim of round.claims) {
      const topicId = this.#log.topic(claim.topic).id;
      const committed = this.#committed(topicId, claim.partition);
      const cursor = committed ?? this.#log.resolveStart(topicId, claim.partition, this.#startAt);
      this.#owned.set(key(claim.topic, claim.partition), {
        topic: claim.topic,
        topicId,
        topicRef: { id: topicId, name: claim.topic },
        partition: claim.partition,
        epoch: claim.epoch,
        cursor,
        revoking: false,
        claim: this.#claims.claim(key(claim.topic, claim.partition)),
      });
      assigned.push({ topic: claim.topic, partition: claim.partition });
    }
    const changes = ownershipChanges(round.record, me, this.#owned);
    for (const k of changes.lost) {
      // Taken from us without a handover (our lease expired): drop silently.
      const owned = this.#owned.get(k)!;
      this.#owned.delete(k);
      this.#queue.dropPartitions([owned]);
    }
    const revoke = changes.revoke.map((k) => this.#owned.get(k)!);
    for (const owned of revoke) {
      owned.revoking = true;
      this.#queue.dropPartitions([owned]);
    }
    this.#pending = changes.handover;
    if (assigned.length > 0) {
      await this.#queue.runCallback(() => this.#options.onAssigned?.(assigned));
      this.#wake();
    }
    if (revoke.length > 0) void this.#release(revoke);
    if (changes.stray.length > 0) void this.#membership.release(changes.stray).catch(() => undefined);
  }

  /** The group's committed offset in one partition, or null when it never committed there. */
  #committed(topicId: number, partition: number): number | null {
    const row = prepared(
      this.#log.reader,
      'SELECT committed FROM herald_offsets WHERE group_name = ? AND topic_id = ? AND partition = ?',
    ).get(this.group, topicId, partition) as { committed: number } | undefined;
    return row?.committed ?? null;
  }

  /** Step 1 of a handover: let the consumer finish (`onRevoked`), then free the partitions. */
  async #release(partitions: readonly Owned[]): Promise<void> {
    await this.#revoked(partitions);
    if (this.#state !== 'active') return;
    try {
      await this.#membership.release(partitions);
    } finally {
      for (const o of partitions) this.#owned.delete(key(o.topic, o.partition));
      this.#log.afterCommit();
    }
  }

  /** Set as the member leaves its group: `onRevoked` has run, no commit may follow. */
  #leaving = false;

  async #leave(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    const wasActive = this.#state !== 'joining';
    this.#state = 'closing';
    this.#stopTimers();
    this.#queue.close();
    try {
      const held = [...this.#owned.values()].filter((o) => !o.revoking);
      await this.#revoked(held);
      if (wasActive || this.#owned.size > 0) {
        this.#leaving = true;
        await this.#membership.leave();
        this.#log.afterCommit();
      }
    } finally {
      this.#state = 'closed';
      this.#owned.clear();
      this.#onClosed();
    }
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
    this.#cancelNotify?.();
    this.#cancelNotify = undefined;
  }

  #fenced(p: TopicPartition): HeraldError {
    return this.#membership.fenced(p);
  }
}

/** Every group that has members or committed offsets. */
export function listGroups(db: DatabaseSync): string[] {
  return (
    prepared(
      db,
      'SELECT name FROM herald_groups UNION SELECT group_name FROM herald_offsets ORDER BY 1',
    ).all() as unknown as { name: string }[]
  ).map((row) => row.name);
}

/** Members, ownership, committed offsets and lag of one group. An unknown group is empty. */
export function describeGroup(db: DatabaseSync, group: string): GroupDescription {
  const record = readGroup(db, group);
  const members = record === undefined ? [] : describeMembers(record);
  const partitions = (
    prepared(
      db,
      `SELECT t.name AS topic, p.partition, o.committed, o.replay_until, p.next_offset, p.low_offset
         FROM herald_partitions p JOIN herald_topics t ON t.id = p.topic_id
         LEFT JOIN herald_offsets o ON o.group_name = ? AND o.topic_id = p.topic_id AND o.partition = p.partition
         WHERE p.topic_id IN (
           SELECT topic_id FROM herald_assignments WHERE group_name = ?
           UNION SELECT topic_id FROM herald_offsets WHERE group_name = ?)
         ORDER BY t.name, p.partition`,
    ).all(group, group, group) as unknown as {
      topic: string;
      partition: number;
      committed: number | null;
      replay_until: number | null;
      next_offset: number;
      low_offset: number;
    }[]
  ).map((row): GroupPartitionState => ({
    topic: row.topic,
    partition: row.partition,
    committed: row.committed,
    latest: row.next_offset,
    lag: Math.max(0, row.next_offset - (row.committed ?? row.low_offset)),
    ...(row.replay_until === null ? {} : { replayUntil: row.replay_until }),
  }));
  return { group, members, partitions };
}
