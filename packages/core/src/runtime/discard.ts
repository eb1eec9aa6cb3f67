import type { StoredEvent } from '../envelope.ts';
import { HeraldError } from '../errors.ts';
import type { EventLog } from '../event-log.ts';
import { appendAudit, ensureAuditTopic } from '../audit-trail.ts';
import { PARKED_KEYS_COLLECTION, type ParkedKey, parkedKeyId, releaseKeyIn } from './key-parking.ts';
import {
  AUDIT_COLLECTION,
  type DiscardMark,
  REDRIVE_COLLECTION,
  type RedrivePosition,
  type RedriveRecord,
  auditId,
  checkPosition,
  deadLetterMetadataOf,
  defaultActor,
  readEntry,
  redriveRecordId,
} from './redrive.ts';
import type { Store } from './store.ts';

/** What `discard` is asked to do; see {@link discard}. */
export interface DiscardOptions {
  readonly log: EventLog;
  /** Where discards are recorded and audited, and where the groups keep their parked keys. */
  readonly store: Store;
  /** The dead-letter topic, e.g. `orders.dead-letter`. */
  readonly deadLetterTopic: string;
  /** The entries to discard (`expectedCount` is not read). */
  readonly positions: readonly Pick<RedrivePosition, 'partition' | 'offset'>[];
  /** Who asks, for the audit. Default `<os user>@<host name>`. */
  readonly actor?: string;
  /** The asker's role, for the audit trail (a console passes its user's). */
  readonly role?: string;
  /** Why, for the audit and the entry's record. */
  readonly reason?: string;
  /** Work out and return the outcomes without recording anything. */
  readonly dryRun?: boolean;
}

/** The parked key a discard released: its events are handled next, in order, by the group's router. */
export interface ReleasedKey {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  /** Events parked behind the dead letter when it was discarded. */
  readonly count: number;
}

/**
 * What happened to one entry: `discarded` now; `duplicate`, it was discarded before (nothing
 * written now); `planned`, a dry run would discard it.
 */
export interface DiscardOutcome {
  readonly partition: number;
  readonly offset: number;
  readonly eventId: string;
  readonly type: string;
  /** The original topic. */
  readonly topic: string;
  readonly status: 'discarded' | 'duplicate' | 'planned';
  /** The key the discard released (or, planned, would release), when the dead letter parks one. */
  readonly released?: ReleasedKey;
  /** For `duplicate`: the discard that was made before. */
  readonly discarded?: DiscardMark;
}

export interface DiscardResult {
  readonly deadLetterTopic: string;
  readonly outcomes: readonly DiscardOutcome[];
}

/** An audit document (collection `herald.audit`) for a discard. */
export interface DiscardAuditEntry {
  readonly action: 'dlq.discard';
  readonly outcome: 'discarded';
  readonly at: string;
  readonly actor: string;
  readonly deadLetterTopic: string;
  readonly partition: number;
  readonly offset: number;
  readonly eventId: string;
  readonly type: string;
  readonly topic: string;
  readonly reason?: string;
  /** The parked key the discard released, or null when the dead letter parked none (or no longer did). */
  readonly released: ReleasedKey | null;
}

/**
 * Gives up on dead-lettered entries for good: each entry's redrive record (collection
 * `herald.redrives`) is marked discarded, an audit document is written, and the key the dead
 * letter parks in its group (if it still parks it) is released, all in one store transaction
 * per entry. The group's router then handles the key's parked events in their original order
 * (it finds the release within its `releaseCheckIntervalMs`). A discarded entry is not
 * redriven again unless the redrive is forced (`force`), and `redrive` with `all` passes over it.
 *
 * Idempotent: discarding an entry discarded before writes nothing and answers `duplicate`.
 * Every position is checked (it exists, it is a dead-letter entry) before anything is discarded.
 *
 * @example
 * await discard({ log, store, deadLetterTopic: 'orders.dead-letter', positions: [{ partition: 0, offset: 3 }], reason: 'order cancelled by hand' });
 */
export async function discard(options: DiscardOptions): Promise<DiscardResult> {
  const { log, store, deadLetterTopic, dryRun = false } = options;
  const actor = options.actor ?? defaultActor();
  if (options.reason !== undefined && options.reason.trim() === '') {
    throw new HeraldError('INVALID_ARGUMENT', 'a discard reason must not be empty');
  }
  await log.describeTopic(deadLetterTopic);
  if (!dryRun) await ensureAuditTopic(log);
  const entries: StoredEvent[] = [];
  const seen = new Set<string>();
  for (const position of options.positions) {
    checkPosition(position);
    const id = `${position.partition}:${position.offset}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const entry = await readEntry(log, deadLetterTopic, position);
    if (deadLetterMetadataOf(entry) === undefined) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `${deadLetterTopic} ${entry.partition}:${entry.offset} (event ${entry.id}) is not a dead-letter entry`,
        { details: { deadLetterTopic, partition: entry.partition, offset: entry.offset } },
      );
    }
    entries.push(entry);
  }
  const outcomes: DiscardOutcome[] = [];
  for (const entry of entries) {
    outcomes.push(
      await discardOne(store, entry, {
        deadLetterTopic,
        actor,
        role: options.role,
        reason: options.reason,
        dryRun,
      }),
    );
  }
  return { deadLetterTopic, outcomes };
}

interface DiscardRequest {
  readonly deadLetterTopic: string;
  readonly actor: string;
  readonly role: string | undefined;
  readonly reason: string | undefined;
  readonly dryRun: boolean;
}

async function discardOne(
  store: Store,
  entry: StoredEvent,
  request: DiscardRequest,
): Promise<DiscardOutcome> {
  const metadata = deadLetterMetadataOf(entry)!;
  const recordId = redriveRecordId(request.deadLetterTopic, entry.partition, entry.offset);
  const base = {
    partition: entry.partition,
    offset: entry.offset,
    eventId: entry.id,
    type: entry.type,
    topic: metadata.topic,
  };
  const ref =
    metadata.group === undefined || metadata.partition === undefined || entry.partitionkey === undefined
      ? undefined
      : {
          group: metadata.group,
          topic: metadata.topic,
          partition: metadata.partition,
          key: entry.partitionkey,
        };
  const deadLetter = { topic: request.deadLetterTopic, partition: entry.partition, offset: entry.offset };
  return store.transaction(async (tx) => {
    const record = await tx.get<RedriveRecord>(REDRIVE_COLLECTION, recordId);
    if (record?.discarded !== undefined) return { ...base, status: 'duplicate', discarded: record.discarded };
    const at = new Date().toISOString();
    const mark: DiscardMark = {
      at,
      actor: request.actor,
      ...(request.reason === undefined ? {} : { reason: request.reason }),
    };
    if (request.dryRun) {
      const head =
        ref === undefined ? undefined : await tx.get<ParkedKey>(PARKED_KEYS_COLLECTION, parkedKeyId(ref));
      const parks = head !== undefined && head.eventId === entry.id && head.released === undefined;
      return parks
        ? { ...base, status: 'planned', released: releasedOf(head) }
        : { ...base, status: 'planned' };
    }
    const released =
      ref === undefined
        ? undefined
        : await releaseKeyIn(
            tx,
            ref,
            { by: 'discard', at, actor: request.actor },
            { eventId: entry.id, deadLetter },
          );
    const next: RedriveRecord = {
      deadLetterTopic: request.deadLetterTopic,
      partition: entry.partition,
      offset: entry.offset,
      eventId: entry.id,
      topic: metadata.topic,
      count: record?.count ?? 0,
      redrives: record?.redrives ?? [],
      discarded: mark,
    };
    await tx.put(REDRIVE_COLLECTION, recordId, next);
    const audit: DiscardAuditEntry = {
      ...base,
      action: 'dlq.discard',
      outcome: 'discarded',
      at,
      actor: request.actor,
      deadLetterTopic: request.deadLetterTopic,
      ...(request.reason === undefined ? {} : { reason: request.reason }),
      released: released === undefined ? null : releasedOf(released),
    };
    await tx.put(AUDIT_COLLECTION, auditId(), audit);
    // The same entry in the audit trail of the log, committed with the discard.
    await appendAudit(
      { tx },
      {
        action: 'dlq.discard',
        actor: request.actor,
        ...(request.role === undefined ? {} : { role: request.role }),
        target: recordId,
        after: { eventId: entry.id, type: entry.type, discarded: true, released: audit.released },
        outcome: 'done',
        ...(request.reason === undefined ? {} : { reason: request.reason }),
        at,
      },
    );
    return released === undefined
      ? { ...base, status: 'discarded' }
      : { ...base, status: 'discarded', released: releasedOf(released) };
  });
}

function releasedOf(head: ParkedKey): ReleasedKey {
  return {
    group: head.group,
    topic: head.topic,
    partition: head.partition,
    key: head.key,
    count: head.count,
  };
}
