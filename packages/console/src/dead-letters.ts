// Dead-letter topics as the console shows them, and discarding entries (never redriven).
import type { EventLog, Store, StoredEvent } from '@herald/core';
import { REDRIVE_COLLECTION, deadLetterMetadataOf, discard, readEntry } from '@herald/core/ops';
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
 * Discarding dead-letter entries: marking them as never to be redriven, which also releases the
 * key a dead letter parks in its group. The seam the console calls; {@link storeDiscards} is
 * `discard` of `@herald/core/ops` on a store.
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

/**
 * Discards through `discard` of `@herald/core/ops`: the mark is kept on the entry's redrive record
 * (`herald.redrives`), the audit entry and the key's release commit in the same transaction.
 */
export function storeDiscards(log: EventLog, store: Store): Discards {
  return {
    async discarded(deadLetterTopic) {
      const records = await store.list<RedriveRecord>(REDRIVE_COLLECTION, { prefix: `${deadLetterTopic}/` });
      return new Set(
        records
          .filter((record) => record.value.discarded !== undefined)
          .map((record) => record.id.slice(deadLetterTopic.length + 1)),
      );
    },
    async discard(request) {
      const result = await discard({
        log,
        store,
        deadLetterTopic: request.deadLetterTopic,
        positions: request.entries.map((entry) => ({ partition: entry.partition, offset: entry.offset })),
        actor: request.actor,
        ...(request.role === undefined ? {} : { role: request.role }),
        ...(request.reason === undefined ? {} : { reason: request.reason }),
        dryRun: request.dryRun,
      });
      return result.outcomes.map((outcome) => ({
        partition: outcome.partition,
        offset: outcome.offset,
        eventId: outcome.eventId,
        status: outcome.status,
      }));
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
  for (const position of positions) entries.push(await readEntry(log, topic, position));
  return entries;
}
