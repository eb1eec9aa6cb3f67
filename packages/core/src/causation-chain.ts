// Causation chains: the events of one correlation (`correlationid`) as a tree, every event under
// the one whose handling emitted it (`causationid`). Built here once for every tool that shows a
// chain (`herald chain`, the console); finding the events is the tool's (a scan of the topics).
import { causationOf } from './causation.ts';
import type { StoredEvent } from './envelope.ts';
import type { EventLog } from './event-log.ts';
import { REDRIVE_ATTRIBUTE, deadLetterMetadataOf } from './runtime/redrive.ts';

/** Where a dead-lettered copy of an event was parked, and why. */
export interface ChainDeadLetter {
  readonly group: string;
  readonly code: string;
  readonly error: string;
  readonly attempts: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** One event of a chain, with what happened to it and the events its handling emitted. */
export interface ChainNode {
  readonly event: StoredEvent;
  /** Groups whose committed offset of the event's partition is past it. */
  readonly handledBy: string[];
  readonly deadLetters: ChainDeadLetter[];
  /** Later appends of the same event by a redrive. */
  readonly redrives: StoredEvent[];
  readonly caused: ChainNode[];
}

/** One correlation: its events as trees under the events that started them. */
export interface Chain {
  readonly correlationId: string;
  readonly events: readonly StoredEvent[];
  readonly roots: readonly ChainNode[];
}

/** Append order across topics: time, then topic, partition and offset. */
export function byAppend(a: StoredEvent, b: StoredEvent): number {
  return (
    a.timestamp - b.timestamp ||
    a.topic.localeCompare(b.topic) ||
    a.partition - b.partition ||
    a.offset - b.offset
  );
}

/** `topic/partition` → each group's committed offset there, for {@link buildChain}. */
export type CommittedOffsets = Map<string, { group: string; committed: number }[]>;

/** Every group's committed offsets, by `topic/partition`. */
export async function committedOffsets(log: EventLog): Promise<CommittedOffsets> {
  const offsets = new Map<string, { group: string; committed: number }[]>();
  for (const group of await log.listGroups()) {
    const description = await log.describeGroup(group);
    for (const state of description.partitions) {
      if (state.committed === null) continue;
      const key = `${state.topic}/${state.partition}`;
      let list = offsets.get(key);
      if (list === undefined) offsets.set(key, (list = []));
      list.push({ group, committed: state.committed });
    }
  }
  return offsets;
}

/**
 * The tree of one correlation's events: every event under the event whose handling emitted it
 * (`causationid`), with the groups that handled it (`committed`), where it was dead-lettered and
 * where it was redriven. `events` must be in append order ({@link byAppend}); a dead-lettered
 * copy or a redriven append of an event is attached to it rather than made a node.
 */
export function buildChain(
  correlationId: string,
  events: readonly StoredEvent[],
  committed: CommittedOffsets,
): Chain {
  const nodes = new Map<string, ChainNode>();
  const byPosition = new Map<string, ChainNode>();
  const deadLettered: StoredEvent[] = [];
  const redriven: StoredEvent[] = [];
  for (const event of events) {
    if (deadLetterMetadataOf(event) !== undefined) {
      deadLettered.push(event);
      continue;
    }
    if (nodes.has(event.id) && event.extensions?.[REDRIVE_ATTRIBUTE] !== undefined) {
      redriven.push(event);
      continue;
    }
    if (nodes.has(event.id)) continue;
    const node: ChainNode = {
      event,
      handledBy: (committed.get(`${event.topic}/${event.partition}`) ?? [])
        .filter((entry) => entry.committed > event.offset)
        .map((entry) => entry.group)
        .sort(),
      deadLetters: [],
      redrives: [],
      caused: [],
    };
    nodes.set(event.id, node);
    byPosition.set(`${event.topic}/${event.partition}/${event.offset}`, node);
  }
  for (const copy of deadLettered) {
    const parked = deadLetterMetadataOf(copy)!;
    const original =
      byPosition.get(`${parked.topic}/${parked.partition}/${parked.offset}`) ?? nodes.get(copy.id);
    original?.deadLetters.push({
      group: parked.group ?? '',
      code: parked.code ?? '',
      error: parked.error ?? '',
      attempts: parked.attempts ?? 0,
      topic: copy.topic,
      partition: copy.partition,
      offset: copy.offset,
    });
  }
  for (const copy of redriven) nodes.get(copy.id)?.redrives.push(copy);
  const roots: ChainNode[] = [];
  for (const node of nodes.values()) {
    const cause = causationOf(node.event);
    const parent = cause === undefined || cause === node.event.id ? undefined : nodes.get(cause);
    (parent?.caused ?? roots).push(node);
  }
  return { correlationId, events, roots };
}
