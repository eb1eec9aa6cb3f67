// The audit trail kept in the log itself: one CloudEvent per operator action (a redrive, a
// discard, a group reset, a change of console users), allowed or refused, on the topic
// `herald.audit`. Kept in the log, it works on every backend, travels with the events it is
// about and is read by any tool that reads the log.
import { randomUUID } from 'node:crypto';
import type { CloudEvent, StoredEvent } from './envelope.ts';
import { ensureTopic } from './ensure-topic.ts';
import { HeraldError } from './errors.ts';
import type { AppendResult, EventLog } from './event-log.ts';
import type { StoreTransaction } from './runtime/store.ts';

/** The topic of the audit trail: one partition, so its order is the order actions were recorded in. */
export const AUDIT_TOPIC = 'herald.audit';

/** The CloudEvents `type` of an audit entry. */
export const AUDIT_EVENT_TYPE = 'herald.audit.v1';

const SOURCE = '/herald/audit';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What became of the action an entry records. */
export type AuditOutcome = 'done' | 'refused' | 'failed';

/** One action on a running system, as the trail keeps it. */
export interface AuditEntry {
  /** What was asked, dotted: `dlq.redrive`, `dlq.discard`, `group.reset`, `user.put`, `user.delete`. */
  readonly action: string;
  /** Who asked: a console user's name, or `<os user>@<host>` for the CLI. */
  readonly actor: string;
  /** The actor's role when the action came through the console. */
  readonly role?: string;
  /** What it acted on: `orders.dead-letter/0/3`, a group's name, a user's name. */
  readonly target: string;
  /** The state before, where there is one worth keeping (a group's offsets). */
  readonly before?: unknown;
  /** The state after (the plan applied, where the event was re-appended). Never a secret. */
  readonly after?: unknown;
  readonly outcome: AuditOutcome;
  /** Why it was refused or failed. */
  readonly reason?: string;
  /** ISO 8601. */
  readonly at: string;
}

/** An entry read back, with its position in the trail. */
export interface AuditRecord extends AuditEntry {
  readonly offset: number;
  /** When the log appended it (ms since the epoch). */
  readonly timestamp: number;
}

/**
 * The CloudEvent of an entry: `type` {@link AUDIT_EVENT_TYPE}, `subject` the target, the entry
 * as JSON data.
 *
 * @example await log.append(AUDIT_TOPIC, auditEvent({ action: 'group.reset', actor, target: group, outcome: 'done', at }));
 */
export function auditEvent(entry: AuditEntry): CloudEvent {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: SOURCE,
    type: AUDIT_EVENT_TYPE,
    subject: entry.target,
    time: entry.at,
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify(entry)),
  };
}

/**
 * Creates the trail's topic when missing (one partition, kept for ever). Call it before
 * {@link appendAudit} goes through a transaction: a store's `emit` does not create topics.
 */
export async function ensureAuditTopic(log: EventLog): Promise<void> {
  await ensureTopic(log, AUDIT_TOPIC, { partitions: 1 });
}

/**
 * Records `entry` in the trail. Through a transaction (`{ tx }`) the entry is emitted with the
 * change and commits with it or not at all (the embedded log: the same SQLite transaction; a
 * Postgres store: its outbox, published after the commit); the topic must exist
 * ({@link ensureAuditTopic}). Straight to a log (`{ log }`), for a change no transaction covers,
 * it is appended after the change: a crash between the two loses the entry, never the change.
 */
export async function appendAudit(
  to: { readonly tx: StoreTransaction } | { readonly log: EventLog },
  entry: AuditEntry,
): Promise<AppendResult | undefined> {
  const event = auditEvent(entry);
  if ('tx' in to) return to.tx.emit(AUDIT_TOPIC, event);
  await ensureAuditTopic(to.log);
  return to.log.append(AUDIT_TOPIC, event);
}

/** A page of the trail, newest first. */
export interface AuditTrailPage {
  readonly entries: readonly AuditRecord[];
  /** Pass as `before` for the next (older) page; undefined at the start of the trail. */
  readonly next: number | undefined;
}

/**
 * Reads up to `limit` entries (default 50) older than offset `before` (default: the newest),
 * newest first. A trail never written reads as empty. Records that are not audit entries are
 * passed over.
 */
export async function readAuditTrail(
  log: EventLog,
  options: { readonly limit?: number; readonly before?: number } = {},
): Promise<AuditTrailPage> {
  const limit = options.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new HeraldError('INVALID_ARGUMENT', `limit must be a positive integer, got ${limit}`);
  }
  if (!(await log.listTopics()).some((topic) => topic.name === AUDIT_TOPIC)) {
    return { entries: [], next: undefined };
  }
  const [partition] = (await log.describeTopic(AUDIT_TOPIC)).partitionInfo;
  if (partition === undefined) return { entries: [], next: undefined };
  const end = Math.min(options.before ?? partition.latest, partition.latest);
  const start = Math.max(partition.earliest, end - limit);
  if (end <= start) return { entries: [], next: undefined };
  const events = await log.read(AUDIT_TOPIC, { partition: 0, from: { offset: start }, limit: end - start });
  const entries = events
    .filter((event) => event.offset < end)
    .map(auditRecordOf)
    .filter((record) => record !== undefined)
    .reverse();
  return { entries, next: start > partition.earliest ? start : undefined };
}

/** The entry an audit event carries, or undefined when it is not one. */
export function auditRecordOf(event: StoredEvent): AuditRecord | undefined {
  if (event.type !== AUDIT_EVENT_TYPE || event.data === undefined) return undefined;
  try {
    const entry = JSON.parse(decoder.decode(event.data)) as AuditEntry;
    if (typeof entry.action !== 'string' || typeof entry.actor !== 'string') return undefined;
    return { ...entry, offset: event.offset, timestamp: event.timestamp };
  } catch {
    return undefined;
  }
}
