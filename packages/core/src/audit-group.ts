import type { StoredEvent } from './envelope.ts';
import { HeraldError, isHeraldError } from './errors.ts';
import type { EventLog, GroupPartitionState } from './event-log.ts';
import { readPartition } from './read-partition.ts';
import { PARKED_EVENTS_COLLECTION, type ParkedEvent, prefixOf } from './runtime/key-parking.ts';
import { deadLetterTopicOf } from './runtime/middleware/dead-letter.ts';
import { REDRIVE_ATTRIBUTE, deadLetterMetadataOf } from './runtime/redrive.ts';
import type { InboxEntry, Store } from './runtime/store.ts';

/** What the guarantee auditor found wrong with one event. */
export type AuditViolationKind =
  /** Below the committed offset, with neither an inbox entry nor a dead letter: skipped. */
  | 'unhandled'
  /** Dead-lettered and handled, with no other copy of its id that the entry could belong to. */
  | 'handled-and-dead-lettered'
  /** Parked in the dead-letter topic more than once by the group. */
  | 'dead-lettered-twice'
  /** Handled before an earlier-offset event of the same key in the same partition. */
  | 'out-of-order';

/** Every kind, in the order reports list them. */
export const AUDIT_VIOLATION_KINDS: readonly AuditViolationKind[] = [
  'unhandled',
  'handled-and-dead-lettered',
  'dead-lettered-twice',
  'out-of-order',
];

/** Where an event is: topic, partition, offset. */
export interface AuditPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** One violation, with the event's position. */
export interface AuditViolation extends AuditPosition {
  readonly kind: AuditViolationKind;
  readonly eventId: string;
  readonly key?: string;
  /** When the group handled it (ms since the epoch, the store's clock), when it did. */
  readonly handledAt?: number;
  /** `out-of-order`: the earlier-offset event of the same key that was handled later. */
  readonly handledBefore?: AuditPosition & { readonly eventId: string; readonly handledAt: number };
  /** `dead-lettered-twice`, `handled-and-dead-lettered`: where its dead letters are. */
  readonly deadLetters?: readonly AuditPosition[];
}

/** One partition the auditor checked. */
export interface AuditedPartition {
  readonly topic: string;
  readonly partition: number;
  /** The first offset checked (the oldest retained, or the first at `since`). */
  readonly from: number;
  /** The group's committed offset: events below it were checked. */
  readonly committed: number;
  readonly checked: number;
}

/** What `auditGroup` found. */
export interface AuditReport {
  readonly group: string;
  /** `ok` when there is no violation. */
  readonly verdict: 'ok' | 'violations';
  /** Events below the committed offsets that were checked (each offset once). */
  readonly checked: number;
  /** Events the group handled: an inbox entry, first occurrence of their id. */
  readonly handled: number;
  /** Later occurrences of an id already handled (re-published, redelivered): fine, counted apart. */
  readonly duplicates: number;
  /** Events the group parked in `<topic>.dead-letter`. */
  readonly deadLettered: number;
  /** Checked events that are redriven copies of dead letters (they carry `dlredrive`). */
  readonly redriven: number;
  /**
   * Checked events held back behind a parked key (a dead letter of the same key before them),
   * not handled yet: neither handled nor skipped, and never `unhandled`.
   */
  readonly parked: number;
  /** Violations by kind (every kind, 0 when none). */
  readonly violations: Readonly<Record<AuditViolationKind, number>>;
  /** The first `maxViolations` violations, in the order found (topic, partition, offset). */
  readonly firstViolations: readonly AuditViolation[];
  readonly partitions: readonly AuditedPartition[];
  /**
   * Parked events (held back behind their key's dead letter) are audited: one still parked
   * counts in `parked`; one released is handled like any other. A redriven copy of a dead letter
   * is handled before the events parked behind it (their original order), so it takes no part
   * in the key-order check. See docs/parking.md.
   */
  readonly parking: 'audited';
}

export interface AuditOptions {
  /** How many violations the report lists (all are counted). Default 20. */
  readonly maxViolations?: number;
  /**
   * Only events appended at or after this time (ms since the epoch): for a store whose inbox
   * keeps entries for a limited time (`startInboxRetention`), start inside that window, or
   * every older event reads as `unhandled`.
   */
  readonly since?: number;
  /** Entries per `log.read` and ids per inbox read. Default 500. */
  readonly pageSize?: number;
}

/** What is kept per checked event until the inbox has been read. */
interface Checked {
  readonly offset: number;
  readonly id: string;
  readonly key: string | undefined;
  readonly redriven: boolean;
  readonly deadLetters: readonly AuditPosition[];
}

/**
 * Checks, from the log, the group's store and its committed offsets, that the group kept
 * Herald's guarantees: for every partition of the topics the group has committed on, every event
 * below the committed offset was handled (an inbox entry for its id) or dead-lettered (a copy in
 * `<topic>.dead-letter` whose `dlgroup` is the group and whose `dltopic`/`dlpartition`/`dloffset`
 * name it) exactly once, and events of one key were handled in offset order (by the inbox's
 * handling times; equal times pass).
 *
 * Ids: the inbox is keyed by event id, so an id at several offsets is handled once; the later
 * occurrences are duplicates (fine). A dead letter that was redriven comes back as a copy with
 * the same id, which is handled by its inbox entry: the original counts as dead-lettered, the
 * copy as handled, and the entry is not held against the dead letter.
 *
 * The group must use the `idempotency` middleware on `store` (the inbox is what proves
 * handling), and the store must offer `inboxEntries` (the stores Herald ships do): else
 * UNSUPPORTED. An unknown group is INVALID_ARGUMENT. The group's offsets are read first, then the
 * events, dead letters and inbox, so work committed while the audit runs cannot read as missing.
 * Memory grows with the events checked (their ids and keys); `since` bounds it.
 *
 * @example
 * const report = await auditGroup(log, store, 'inventory.reservations');
 * if (report.verdict !== 'ok') console.error(report.firstViolations);
 */
export async function auditGroup(
  log: EventLog,
  store: Store,
  group: string,
  options: AuditOptions = {},
): Promise<AuditReport> {
  const maxViolations = options.maxViolations ?? 20;
  const pageSize = options.pageSize ?? 500;
  if (!Number.isInteger(maxViolations) || maxViolations < 0)
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `maxViolations must be a whole number >= 0, got ${maxViolations}`,
    );
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new HeraldError('INVALID_ARGUMENT', `pageSize must be a whole number >= 1, got ${pageSize}`);
  if (options.since !== undefined && !Number.isFinite(options.since))
    throw new HeraldError('INVALID_ARGUMENT', `since must be a time in ms, got ${options.since}`);
  if (store.inboxEntries === undefined)
    throw new HeraldError('UNSUPPORTED', 'this store cannot list inbox entries (it has no inboxEntries)');
  if (!(await log.listGroups()).includes(group))
    throw new HeraldError('INVALID_ARGUMENT', `no consumer group "${group}"`, { details: { group } });

  // Offsets first: whatever is below them was finished before they were committed, so the
  // dead letters and inbox entries read afterwards include it.
  const description = await log.describeGroup(group);
  const positions = description.partitions.filter(
    (p): p is GroupPartitionState & { committed: number } => p.committed !== null && p.committed > 0,
  );
  const topics = [...new Set(positions.map((p) => p.topic))].sort();

  const counts = { checked: 0, handled: 0, duplicates: 0, deadLettered: 0, redriven: 0, parked: 0 };
  const violations = Object.fromEntries(AUDIT_VIOLATION_KINDS.map((kind) => [kind, 0])) as Record<
    AuditViolationKind,
    number
  >;
  const firstViolations: AuditViolation[] = [];
  const report = (violation: AuditViolation) => {
    violations[violation.kind]++;
    if (firstViolations.length < maxViolations) firstViolations.push(violation);
  };
  const audited: AuditedPartition[] = [];
  // Ids handled so far by the group (the inbox is per group, across its topics).
  const handledIds = new Set<string>();

  for (const topic of topics) {
    const deadLetters = await deadLettersOf(log, topic, group, pageSize);
    const partitions = positions.filter((p) => p.topic === topic).sort((a, b) => a.partition - b.partition);
    // Every event of the topic is read to the end, to know which ids occur at several offsets
    // (a redriven copy may lie above the committed offset); only those below it are checked.
    const occurrences = new Map<string, number>();
    const checkedByPartition: { position: (typeof partitions)[number]; events: Checked[] }[] = [];
    for (const position of partitions) {
      const events: Checked[] = [];
      const from = options.since === undefined ? 'earliest' : { timestamp: options.since };
      for await (const event of readPartition(log, topic, position.partition, { from, pageSize })) {
        occurrences.set(event.id, (occurrences.get(event.id) ?? 0) + 1);
        if (event.offset >= position.committed) continue;
        events.push(checkedOf(event, deadLetters.get(`${position.partition}/${event.offset}`) ?? []));
      }
      checkedByPartition.push({ position, events });
    }

    for (const { position, events } of checkedByPartition) {
      const { partition, committed } = position;
      const parked = new Set(
        (
          await store.list<ParkedEvent>(PARKED_EVENTS_COLLECTION, {
            prefix: prefixOf(group, topic, partition),
          })
        ).map((row) => row.value.offset),
      );
      const inbox = new Map<string, InboxEntry | undefined>();
      for (let start = 0; start < events.length; start += pageSize) {
        const ids = [...new Set(events.slice(start, start + pageSize).map((e) => e.id))].filter(
          (id) => !inbox.has(id),
        );
        const entries = await store.inboxEntries(group, ids);
        for (const [i, id] of ids.entries()) inbox.set(id, entries[i]);
      }
      // Per key, the latest handling time so far in offset order, and the event it belongs to.
      const latestByKey = new Map<string, { offset: number; eventId: string; handledAt: number }>();
      for (const event of events) {
        counts.checked++;
        if (event.redriven) counts.redriven++;
        const entry = inbox.get(event.id);
        const where = { topic, partition, offset: event.offset, eventId: event.id };
        const keyed = event.key === undefined ? {} : { key: event.key };
        const handled = entry === undefined ? {} : { handledAt: entry.handledAt };
        // Parked behind its key's dead letter and not released yet: a third outcome, not handled
        // and not skipped (the store holds its position).
        if (entry === undefined && event.deadLetters.length === 0 && parked.has(event.offset)) {
          counts.parked++;
          continue;
        }
        if (event.deadLetters.length > 0) {
          counts.deadLettered++;
          if (event.deadLetters.length > 1)
            report({ kind: 'dead-lettered-twice', ...where, ...keyed, deadLetters: event.deadLetters });
          // The entry may belong to another copy of the id: a redriven copy, or an earlier event
          // whose id this one reused (a conflict, parked by design).
          if (entry !== undefined && (occurrences.get(event.id) ?? 0) < 2)
            report({
              kind: 'handled-and-dead-lettered',
              ...where,
              ...keyed,
              ...handled,
              deadLetters: event.deadLetters,
            });
          continue;
        }
        if (entry === undefined) {
          report({ kind: 'unhandled', ...where, ...keyed });
          continue;
        }
        if (handledIds.has(event.id)) {
          counts.duplicates++;
          continue;
        }
        handledIds.add(event.id);
        counts.handled++;
        // A redriven copy stands in for its dead letter, which came before the events parked
        // behind it: handled ahead of them by design, it is not held to its own offset.
        if (event.key === undefined || event.redriven) continue;
        const latest = latestByKey.get(event.key);
        if (latest !== undefined && entry.handledAt < latest.handledAt) {
          report({
            kind: 'out-of-order',
            ...where,
            key: event.key,
            handledAt: entry.handledAt,
            handledBefore: { topic, partition, ...latest },
          });
        }
        if (latest === undefined || entry.handledAt >= latest.handledAt)
          latestByKey.set(event.key, { offset: event.offset, eventId: event.id, handledAt: entry.handledAt });
      }
      audited.push({
        topic,
        partition,
        from: events[0]?.offset ?? committed,
        committed,
        checked: events.length,
      });
    }
  }

  const total = AUDIT_VIOLATION_KINDS.reduce((sum, kind) => sum + violations[kind], 0);
  return {
    group,
    verdict: total === 0 ? 'ok' : 'violations',
    ...counts,
    violations,
    firstViolations,
    partitions: audited,
    parking: 'audited',
  };
}

/** The total of a report's violations. */
export function auditViolationCount(report: Pick<AuditReport, 'violations'>): number {
  return AUDIT_VIOLATION_KINDS.reduce((sum, kind) => sum + report.violations[kind], 0);
}

function checkedOf(event: StoredEvent, deadLetters: readonly AuditPosition[]): Checked {
  return {
    offset: event.offset,
    id: event.id,
    key: event.partitionkey,
    redriven: event.extensions?.[REDRIVE_ATTRIBUTE] !== undefined,
    deadLetters,
  };
}

/**
 * The dead letters `group` parked from `topic`, by `<partition>/<offset>` of the original event.
 * A topic without a dead-letter topic has none.
 */
async function deadLettersOf(
  log: EventLog,
  topic: string,
  group: string,
  pageSize: number,
): Promise<Map<string, AuditPosition[]>> {
  const target = deadLetterTopicOf(topic);
  const found = new Map<string, AuditPosition[]>();
  let partitions: number;
  try {
    partitions = (await log.describeTopic(target)).partitions;
  } catch (error) {
    if (isHeraldError(error, 'UNKNOWN_TOPIC')) return found;
    throw error;
  }
  for (let partition = 0; partition < partitions; partition++) {
    for await (const entry of readPartition(log, target, partition, { pageSize })) {
      const metadata = deadLetterMetadataOf(entry);
      if (metadata === undefined || metadata.group !== group || metadata.topic !== topic) continue;
      if (metadata.partition === undefined || metadata.offset === undefined) continue;
      const key = `${metadata.partition}/${metadata.offset}`;
      const list = found.get(key) ?? [];
      list.push({ topic: target, partition, offset: entry.offset });
      found.set(key, list);
    }
  }
  return found;
}
