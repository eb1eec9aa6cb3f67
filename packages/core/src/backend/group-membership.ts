import { randomUUID } from 'node:crypto';
import type { StoredEvent } from '../envelope.ts';
import { HeraldError } from '../errors.ts';
import type { PartitionOffset, TopicPartition } from '../event-log.ts';
import type { GroupCell } from './group-cell.ts';
import { checkCommitOffset } from './validation.ts';
import {
  addMember,
  coordinationStep,
  emptyGroup,
  releasePartitions,
  removeMember,
} from './group-protocol.ts';
import type { GroupRecord, PartitionRecord } from './group-protocol.ts';

/** Who a member is and what it subscribes to. */
export interface MembershipSettings {
  readonly group: string;
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
}

/** The outcome of one {@link GroupMembership.coordinate} round. */
export type Coordination =
  /** The member is gone from the record (its lease expired): drop everything and {@link GroupMembership.rejoin}. */
  | { readonly kind: 'expired' }
  /** `mayWrite` refused a write that was due: nothing happened. */
  | { readonly kind: 'skipped' }
  /** The record as it stands now, and the partitions this round claimed with their new epochs. */
  | {
      readonly kind: 'coordinated';
      readonly record: GroupRecord;
      readonly claims: readonly PartitionRecord[];
    };

/**
 * One member's side of the group protocol over a backend's {@link GroupCell}: join, heartbeat
 * rounds that expire others, assign and claim, release after a handover, leave. It holds the
 * member's id (a fresh one on every rejoin) and when its lease was last renewed; what to do
 * with claims and revocations locally (stop delivering, await `onRevoked`, start reading at
 * the committed offset) is the subscription's.
 *
 * @example
 * const membership = new GroupMembership(cell, { group, clientId, topics, sessionTimeoutMs });
 * await membership.join();
 * const round = await membership.coordinate({ beat: true }); // every heartbeatMs
 * if (round.kind === 'expired') { dropEverything(); await membership.rejoin(); }
 */
export class GroupMembership {
  readonly settings: MembershipSettings;
  /** A third of the session timeout (at least 10 ms): a lease survives two missed heartbeats. */
  readonly heartbeatMs: number;
  readonly #cell: GroupCell;
  #memberId = randomUUID();
  #lastHeartbeat = 0;

  constructor(cell: GroupCell, settings: MembershipSettings) {
    this.#cell = cell;
    this.settings = settings;
    this.heartbeatMs = Math.max(10, Math.floor(settings.sessionTimeoutMs / 3));
  }

  get memberId(): string {
    return this.#memberId;
  }

  /** When the lease was last renewed (0: never, or a renewal is wanted at once). */
  get lastHeartbeat(): number {
    return this.#lastHeartbeat;
  }

  /** Asks for a heartbeat at the next round, whatever the time (after a stall). */
  heartbeatNow(): void {
    this.#lastHeartbeat = 0;
  }

  /** Whether a heartbeat is due at `now`. */
  heartbeatDue(now = Date.now()): boolean {
    return now - this.#lastHeartbeat >= this.heartbeatMs;
  }

  /** Adds this member to the group (creating the group), which bumps its generation. */
  async join(): Promise<void> {
    const now = Date.now();
    const { group, clientId, topics, sessionTimeoutMs } = this.settings;
    const member = { clientId, topics, sessionTimeoutMs, heartbeatAt: now, joinedAt: now };
    await this.#cell.update((record) => ({
      record: addMember(record ?? emptyGroup(group), this.#memberId, member),
      result: undefined,
    }));
    this.#lastHeartbeat = now;
  }

  /** Joins again as a new member, after this one expired. */
  async rejoin(): Promise<void> {
    this.#memberId = randomUUID();
    await this.join();
  }

  /**
   * One coordination round: renew the lease, expire others, assign after a membership change
   * and claim free partitions targeted here. Unless `beat` is set or a heartbeat is due, a
   * round that would change nothing but the lease writes nothing and reports the record as
   * read. `mayWrite` is asked just before a write (a stalled process must write nothing).
   */
  async coordinate(options: {
    readonly beat: boolean;
    readonly mayWrite?: () => boolean;
  }): Promise<Coordination> {
    const me = this.#memberId;
    let renewedAt: number | undefined;
    const outcome = await this.#cell.update<Coordination>((record, counts) => {
      renewedAt = undefined;
      if (record === undefined || !(me in record.members)) return { result: { kind: 'expired' } };
      const now = Date.now();
      const step = coordinationStep(record, me, now, counts);
      if (!step.changed && !options.beat && !this.heartbeatDue(now)) {
        return { result: { kind: 'coordinated', record, claims: [] } };
      }
      if (options.mayWrite?.() === false) return { result: { kind: 'skipped' } };
      renewedAt = now;
      return {
        record: step.record,
        result: { kind: 'coordinated', record: step.record, claims: step.claims },
      };
    });
    if (renewedAt !== undefined) this.#lastHeartbeat = renewedAt;
    return outcome;
  }

  /** Frees partitions this member still owns under the given epochs (the end of a handover); true when it wrote. */
  async release(
    partitions: readonly { readonly topic: string; readonly partition: number; readonly epoch: number }[],
  ): Promise<boolean> {
    const me = this.#memberId;
    return this.#cell.update((record) => {
      const next = record === undefined ? undefined : releasePartitions(record, me, partitions);
      return { record: next, result: next !== undefined && next !== record };
    });
  }

  /** Applies another change to the record (e.g. a backend's own epoch fix-up); true when it wrote. */
  async change(change: (record: GroupRecord | undefined) => GroupRecord | undefined): Promise<boolean> {
    return this.#cell.update((record) => {
      const next = change(record);
      return { record: next, result: next !== undefined && next !== record };
    });
  }

  /** Removes this member; what it owned is free for the others at once. */
  async leave(): Promise<void> {
    const me = this.#memberId;
    await this.#cell.update((record) => ({
      record: record === undefined ? undefined : removeMember(record, me),
      result: undefined,
    }));
  }

  /** The error a commit of a partition this member does not own (under the right claim) gets. */
  fenced(p: TopicPartition): HeraldError {
    return new HeraldError(
      'FENCED',
      `member ${this.#memberId} of group "${this.settings.group}" no longer owns ${p.topic}/${p.partition}; its commit was refused`,
      { details: { group: this.settings.group, topic: p.topic, partition: p.partition } },
    );
  }
}

/**
 * What `commit(positions)` was given, as positions to commit (an event commits the offset after
 * it) plus the event itself when one was given, so its claim can be checked. Refuses offsets
 * that are not non-negative integers with `INVALID_ARGUMENT`.
 */
export function commitRequest(positions: StoredEvent | readonly PartitionOffset[]): {
  readonly positions: readonly PartitionOffset[];
  readonly event: StoredEvent | undefined;
} {
  const event = Array.isArray(positions) ? undefined : (positions as StoredEvent);
  const list: readonly PartitionOffset[] =
    event === undefined
      ? (positions as readonly PartitionOffset[])
      : [{ topic: event.topic, partition: event.partition, offset: event.offset + 1 }];
  for (const p of list) checkCommitOffset(p);
  return { positions: list, event };
}
