import { HeraldError, isHeraldError } from '@herald/core';
import type { EventDefinition, EventLog, HeraldErrorCode, StoredEvent } from '@herald/core';
import { readerFor } from './define-system.ts';
import type { ConsumerDescription, SystemDescription } from './define-system.ts';
import type { EventReader } from './event-reader.ts';

/** One stored event a consumer would not decode. */
export interface StoredEventFailure {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly id: string;
  readonly type: string;
  /** The version the consumer's route reads. */
  readonly reader: string;
  /** The HeraldError code, or `ERROR` for anything else thrown. */
  readonly code: HeraldErrorCode | 'ERROR';
  readonly message: string;
}

/** How the events of one type (one version: the type names it) fared with one consumer. */
export interface TypeCheck {
  readonly type: string;
  readonly checked: number;
  readonly failed: number;
}

/** The verdict for one consumer group. */
export interface ConsumerCheck {
  readonly group: string;
  readonly topics: readonly string[];
  /** Events a route of the group would receive. */
  readonly checked: number;
  readonly decoded: number;
  readonly failed: number;
  /** Events of types the group has no route for (it skips them). */
  readonly notRouted: number;
  /** The first failures (at most `maxFailures`), in topic, partition, offset order. */
  readonly failures: readonly StoredEventFailure[];
  /** The routed events per stored type (and so per version), failing types first. */
  readonly byType: readonly TypeCheck[];
  /** Topics the group reads that do not exist in the log (nothing stored there to check). */
  readonly missingTopics: readonly string[];
}

export interface StoredEventsReport {
  /** True when every consumer decodes every retained event it would receive. */
  readonly ok: boolean;
  readonly consumers: readonly ConsumerCheck[];
  /** Retained events read (each once, whatever the number of consumers). */
  readonly events: number;
  /** Retained events in the topics checked; `events` is fewer when a sample was asked for. */
  readonly retained: number;
  /** The sample checked, when one was asked for: how many and the seed that chose them. */
  readonly sample?: { readonly size: number; readonly seed: number };
}

export interface CheckStoredEventsOptions {
  /** Only these consumer groups (default all). */
  readonly groups?: readonly string[];
  /** Failures listed per consumer; the count is always complete. Default 100. */
  readonly maxFailures?: number;
  /**
   * Check `size` retained events chosen at random (uniformly over every partition of the topics
   * checked) instead of all: the same `seed` on the same retained events chooses the same ones.
   * Only the chosen events are read. A size at or above the number retained checks all of them.
   */
  readonly sample?: { readonly size: number; readonly seed: number };
}

interface Tally {
  readonly consumer: ConsumerDescription;
  readonly reader: EventReader;
  readonly routes: ReadonlyMap<string, EventDefinition>;
  checked: number;
  decoded: number;
  failed: number;
  notRouted: number;
  readonly failures: StoredEventFailure[];
  readonly missingTopics: string[];
  readonly byType: Map<string, { checked: number; failed: number }>;
}

/**
 * Decodes every retained event with the reader schemas and upcasters of each consumer that
 * would receive it — what the consumers would do if they (re)read the log now. A schema-to-schema
 * check compares declarations; this one finds the stored events that break, with their
 * positions: data written before a rule existed, constraints JSON Schema cannot express
 * (refinements), wrong upcasters, versions without an upcaster path.
 *
 * Reads each topic once, up to its end when the check started.
 */
export async function checkStoredEvents(
  log: EventLog,
  system: SystemDescription,
  options: CheckStoredEventsOptions = {},
): Promise<StoredEventsReport> {
  const maxFailures = options.maxFailures ?? 100;
  const selected = system.consumers.filter(
    (c) => options.groups === undefined || options.groups.includes(c.group),
  );
  const tallies: Tally[] = selected.map((consumer) => ({
    consumer,
    reader: readerFor(system, consumer),
    routes: new Map(consumer.reads.map((d) => [d.type, d])),
    checked: 0,
    decoded: 0,
    failed: 0,
    notRouted: 0,
    failures: [],
    missingTopics: [],
    byType: new Map(),
  }));
  const topics = [...new Set(selected.flatMap((c) => c.topics))].sort();
  const ranges: { topic: string; partition: number; earliest: number; latest: number; readers: Tally[] }[] =
    [];
  for (const topic of topics) {
    const readers = tallies.filter((t) => t.consumer.topics.includes(topic));
    const description = await log.describeTopic(topic).catch((error: unknown) => {
      if (isHeraldError(error, 'UNKNOWN_TOPIC')) return undefined;
      throw error;
    });
    if (description === undefined) {
      for (const tally of readers) tally.missingTopics.push(topic);
      continue;
    }
    for (const { partition, earliest, latest } of description.partitionInfo) {
      if (latest > earliest) ranges.push({ topic, partition, earliest, latest, readers });
    }
  }
  const retained = ranges.reduce((sum, range) => sum + range.latest - range.earliest, 0);
  const sample = options.sample;
  if (
    sample !== undefined &&
    (!Number.isSafeInteger(sample.size) || sample.size < 1 || !Number.isSafeInteger(sample.seed))
  ) {
    throw new HeraldError('INVALID_ARGUMENT', 'a sample needs a size ≥ 1 and an integer seed');
  }
  const chosen =
    sample === undefined || sample.size >= retained ? undefined : choose(retained, sample.size, sample.seed);
  let events = 0;
  let index = 0;
  for (const range of ranges) {
    const check = (event: StoredEvent) => {
      events++;
      for (const tally of range.readers) checkOne(tally, event, maxFailures);
    };
    const first = index;
    index += range.latest - range.earliest;
    if (chosen !== undefined) {
      // The chosen positions that fall in this partition, read one run of neighbours at a time.
      const offsets = chosen.filter((i) => i >= first && i < index).map((i) => range.earliest + i - first);
      for (let at = 0; at < offsets.length;) {
        let end = at + 1;
        while (end < offsets.length && offsets[end]! - offsets[at]! < 500) end++;
        const wanted = new Set(offsets.slice(at, end));
        const span = offsets[end - 1]! - offsets[at]! + 1;
        const batch = await log.read(range.topic, {
          partition: range.partition,
          from: { offset: offsets[at]! },
          limit: span,
        });
        for (const event of batch) if (wanted.has(event.offset)) check(event);
        at = end;
      }
      continue;
    }
    let next = range.earliest;
    while (next < range.latest) {
      const batch = await log.read(range.topic, {
        partition: range.partition,
        from: { offset: next },
        limit: 500,
      });
      if (batch.length === 0) break;
      for (const event of batch) {
        if (event.offset >= range.latest) break;
        check(event);
      }
      next = batch[batch.length - 1]!.offset + 1;
    }
  }
  const consumers = tallies.map((t): ConsumerCheck => ({
    group: t.consumer.group,
    topics: t.consumer.topics,
    checked: t.checked,
    decoded: t.decoded,
    failed: t.failed,
    notRouted: t.notRouted,
    failures: t.failures,
    missingTopics: t.missingTopics,
    byType: [...t.byType.entries()]
      .map(([type, counts]) => ({ type, ...counts }))
      .sort((a, b) => b.failed - a.failed || a.type.localeCompare(b.type)),
  }));
  return {
    ok: consumers.every((c) => c.failed === 0),
    consumers,
    events,
    retained,
    ...(chosen === undefined || sample === undefined
      ? {}
      : { sample: { size: chosen.length, seed: sample.seed } }),
  };
}

/**
 * `size` distinct indexes of [0, total), sorted, chosen uniformly by a generator seeded with
 * `seed` (Robert Floyd's sampling: one draw per chosen index).
 */
export function choose(total: number, size: number, seed: number): number[] {
  const random = seeded(seed);
  const picked = new Set<number>();
  for (let j = total - size; j < total; j++) {
    const t = Math.floor(random() * (j + 1));
    picked.add(picked.has(t) ? j : t);
  }
  return [...picked].sort((a, b) => a - b);
}

/** A small deterministic generator of numbers in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkOne(tally: Tally, event: StoredEvent, maxFailures: number): void {
  const routeType = tally.routes.has(event.type)
    ? event.type
    : tally.reader.route(event.type, tally.routes.keys());
  const definition = routeType === undefined ? undefined : tally.routes.get(routeType);
  if (definition === undefined) {
    tally.notRouted++;
    return;
  }
  tally.checked++;
  let counts = tally.byType.get(event.type);
  if (counts === undefined) tally.byType.set(event.type, (counts = { checked: 0, failed: 0 }));
  counts.checked++;
  try {
    tally.reader.decode(event, definition);
    tally.decoded++;
  } catch (error) {
    tally.failed++;
    counts.failed++;
    if (tally.failures.length < maxFailures) {
      tally.failures.push({
        group: tally.consumer.group,
        topic: event.topic,
        partition: event.partition,
        offset: event.offset,
        id: event.id,
        type: event.type,
        reader: definition.type,
        code: isHeraldError(error) ? error.code : 'ERROR',
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
