import { isHeraldError } from '@herald/core';
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
  /** Topics the group reads that do not exist in the log (nothing stored there to check). */
  readonly missingTopics: readonly string[];
}

export interface StoredEventsReport {
  /** True when every consumer decodes every retained event it would receive. */
  readonly ok: boolean;
  readonly consumers: readonly ConsumerCheck[];
  /** Retained events read (each once, whatever the number of consumers). */
  readonly events: number;
}

export interface CheckStoredEventsOptions {
  /** Only these consumer groups (default all). */
  readonly groups?: readonly string[];
  /** Failures listed per consumer; the count is always complete. Default 100. */
  readonly maxFailures?: number;
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
  }));
  const topics = [...new Set(selected.flatMap((c) => c.topics))].sort();
  let events = 0;
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
    for (const partition of description.partitionInfo) {
      let next = partition.earliest;
      while (next < partition.latest) {
        const batch = await log.read(topic, {
          partition: partition.partition,
          from: { offset: next },
          limit: 500,
        });
        if (batch.length === 0) break;
        for (const event of batch) {
          if (event.offset >= partition.latest) break;
          events++;
          for (const tally of readers) checkOne(tally, event, maxFailures);
        }
        next = batch[batch.length - 1]!.offset + 1;
      }
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
  }));
  return { ok: consumers.every((c) => c.failed === 0), consumers, events };
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
  try {
    tally.reader.decode(event, definition);
    tally.decoded++;
  } catch (error) {
    tally.failed++;
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
