// Dead-letter topics as the console shows them, and discarding entries (never redriven).
import { HeraldError } from '@herald/core';
import type { EventLog, Store, StoredEvent } from '@herald/core';
import {
  REDRIVE_COLLECTION,
  appendAudit,
  deadLetterMetadataOf,
  ensureAuditTopic,
  redriveRecordId,
} from '@herald/core/ops';
import type { RedrivePosition, RedriveRecord } from '@herald/core/ops';

/** Topics named `<topic>.dead-letter` are dead-letter topics (the `deadLetter()` default). */
export const DEAD_LETTER_SUFFIX = '.dead-letter';

/** A dead-letter entry as the API answers it. */
export interface DeadLetterView {
  readonly partition: number;
  readonly offset: number;
  readonly eventId: string;
  readonly type: string;
  readonly key?: string;
  readonly group?: string;
  readonly error?: string;
  readonly code?: string;
  readonly attempts?: number;
  readonly firstFailure?: string;
  readonly lastFailure?: string;
  readonly original: { readonly topic: string; readonly partition?: number; readonly offset?: number };
  /** Redrives so far (from the store's redrive record; 0 without a store). */
  readonly redrives: number;
  readonly discarded: boolean;
}

/** What a filter over a dead-letter topic's entries matches. */
export interface DeadLetterFilter {
  readonly group?: string | undefined;
  readonly code?: string | undefined;
  readonly type?: string | undefined;
}

/**
 * Discarding dead-letter entries: marking them as never to be redriven. The seam the ops entry
 * of core is to fill (`discard`, `parkedKeys`); until then {@link storeDiscards} keeps the marks
 * as store documents.
 */
export interface Discards {
  /** The entries of `deadLetterTopic` marked discarded, as `<partition>/<offset>`. */
  discarded(deadLetterTopic: string): Promise<ReadonlySet<string>>;
  /** Marks entries discarded, each with its audit entry; answers one outcome per position. */
  discard(request: DiscardRequest): Promise<DiscardOutcome[]>;
}

export interface DiscardRequest {
  readonly deadLetterTopic: string;
  readonly entries: readonly StoredEvent[];
  readonly actor: string;
  readonly role?: string;
  readonly reason?: string;
  readonly dryRun: boolean;
}

export interface DiscardOutcome {
  readonly partition: number;
  readonly offset: number;
  readonly eventId: string;
  readonly status: 'discarded' | 'planned' | 'duplicate';
}

/** Store collection of discard marks, one per entry: id `<dead-letter topic>/<partition>/<offset>`. */
export const DISCARD_COLLECTION = 'herald.discards';

/** Discard marks as store documents, each written in one transaction with its audit entry. */
export function storeDiscards(log: EventLog, store: Store): Discards {
  return {
    async discarded(deadLetterTopic) {
      const marks = await store.list(DISCARD_COLLECTION, { prefix: `${deadLetterTopic}/` });
      return new Set(marks.map((mark) => mark.id.slice(deadLetterTopic.length + 1)));
    },
    async discard(request) {
      if (!request.dryRun) await ensureAuditTopic(log);
      const outcomes: DiscardOutcome[] = [];
      for (const entry of request.entries) {
        const id = redriveRecordId(request.deadLetterTopic, entry.partition, entry.offset);
        const base = { partition: entry.partition, offset: entry.offset, eventId: entry.id };
        if (request.dryRun) {
          const marked = (await store.get(DISCARD_COLLECTION, id)) !== undefined;
          outcomes.push({ ...base, status: marked ? 'duplicate' : 'planned' });
          continue;
        }
        outcomes.push(
          await store.transaction(
            async (tx) => {
              if ((await tx.get(DISCARD_COLLECTION, id)) !== undefined)
                return { ...base, status: 'duplicate' as const };
              const at = new Date().toISOString();
              await tx.put(DISCARD_COLLECTION, id, { at, actor: request.actor, eventId: entry.id });
              await appendAudit(
                { tx },
                {
                  action: 'dlq.discard',
                  actor: request.actor,
                  ...(request.role === undefined ? {} : { role: request.role }),
                  target: id,
                  after: { eventId: entry.id, type: entry.type, discarded: true },
                  outcome: 'done',
                  ...(request.reason === undefined ? {} : { reason: request.reason }),
                  at,
                },
              );
              return { ...base, status: 'discarded' as const };
            },
            { urgent: true },
          ),
        );
      }
      return outcomes;
    },
  };
}

/** Every dead-letter topic with the topic its name says it parks events of, and its entry count. */
export async function listDeadLetterTopics(
  log: EventLog,
): Promise<{ topic: string; originTopics: string[]; entries: number }[]> {
  const topics = await log.listTopics();
  const names = new Set(topics.map((t) => t.name));
  const result = [];
  for (const topic of topics.filter((t) => t.name.endsWith(DEAD_LETTER_SUFFIX))) {
    const description = await log.describeTopic(topic.name);
    const origin = topic.name.slice(0, -DEAD_LETTER_SUFFIX.length);
    result.push({
      topic: topic.name,
      originTopics: names.has(origin) ? [origin] : [],
      entries: description.partitionInfo.reduce((sum, p) => sum + (p.latest - p.earliest), 0),
    });
  }
  return result.sort((a, b) => a.topic.localeCompare(b.topic));
}

/** Redrive counts of a dead-letter topic's entries, by `<partition>/<offset>`. */
export async function redriveCounts(
  store: Store | undefined,
  deadLetterTopic: string,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (store === undefined) return counts;
  for (const { id, value } of await store.list<RedriveRecord>(REDRIVE_COLLECTION, {
    prefix: `${deadLetterTopic}/`,
  })) {
    counts.set(id.slice(deadLetterTopic.length + 1), value.count);
  }
  return counts;
}

export function deadLetterView(entry: StoredEvent, redrives: number, discarded: boolean): DeadLetterView {
  const m = deadLetterMetadataOf(entry);
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;
  return {
    partition: entry.partition,
    offset: entry.offset,
    eventId: entry.id,
    type: entry.type,
    ...optional('key', entry.partitionkey),
    ...optional('group', m?.group),
    ...optional('error', m?.error),
    ...optional('code', m?.code),
    ...optional('attempts', m?.attempts),
    ...optional('firstFailure', m?.firstFailure),
    ...optional('lastFailure', m?.lastFailure),
    original: {
      topic: m?.topic ?? '',
      ...optional('partition', m?.partition),
      ...optional('offset', m?.offset),
    },
    redrives,
    discarded,
  };
}

export function matchesDeadLetter(entry: StoredEvent, filter: DeadLetterFilter): boolean {
  const m = deadLetterMetadataOf(entry);
  if (m === undefined) return false;
  if (filter.group !== undefined && m.group !== filter.group) return false;
  if (filter.code !== undefined && m.code !== filter.code) return false;
  if (filter.type !== undefined && entry.type !== filter.type) return false;
  return true;
}

/** The entry at each position, in the order given; INVALID_ARGUMENT for a position with none. */
export async function readEntries(
  log: EventLog,
  topic: string,
  positions: readonly Pick<RedrivePosition, 'partition' | 'offset'>[],
): Promise<StoredEvent[]> {
  const entries: StoredEvent[] = [];
  for (const position of positions) {
    const [entry] = await log.read(topic, {
      partition: position.partition,
      from: { offset: position.offset },
      limit: 1,
    });
    if (entry?.offset !== position.offset) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `${topic} has no entry at ${position.partition}:${position.offset}`,
        {
          details: { topic, partition: position.partition, offset: position.offset },
        },
      );
    }
    entries.push(entry);
  }
  return entries;
}
