// Parked keys as the store keeps them: what the router writes when a dead letter parks a key,
// what it reads when it claims a partition, and what operators read and change (`parkedKeys`,
// `discard`). Kept as documents in two collections of their own, so every store (SQLite,
// Postgres, any `Store`) keeps parking in the same transactions as the rest of its state and no
// store needs a table or a method for it.
import { HeraldError } from '../errors.ts';
import type { Store, StoreTransaction } from './store.ts';

/**
 * Store collection of parked keys, one document ({@link ParkedKey}) per key of a group's
 * partition that a dead letter parked: id `<group>/<topic>/<partition>/<key>`, each part but
 * the partition URI-encoded (so `/` never occurs inside a part).
 */
export const PARKED_KEYS_COLLECTION = 'herald.parked-keys';

/**
 * Store collection of parked events: one document ({@link ParkedEvent}) per event held back
 * behind a parked key, id `<parked key id>/<offset, 16 digits>`, so that listing a key's
 * documents lists its events in offset order. Positions, never copies: a released event is read
 * from the log again.
 */
export const PARKED_EVENTS_COLLECTION = 'herald.parked-events';

/** What a route does with the later events of a key whose event it dead-lettered. */
export type DeadLetterPolicy =
  /** Hold them back (kept as positions) until the dead letter is redriven and handled, or discarded. */
  | 'park'
  /** Handle them as if nothing happened: the key's order is broken around the dead letter. */
  | 'skip';

/** A key of one partition of a group. */
export interface KeyRef {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
}

/** How a parked key was released: the dead letter that parked it was redriven and handled, or discarded. */
export interface ParkingRelease {
  readonly by: 'redrive' | 'discard';
  /** ISO 8601. */
  readonly at: string;
  /** Who discarded the dead letter (for `redrive`, the group's router: not known). */
  readonly actor?: string;
}

/** A parked key (collection {@link PARKED_KEYS_COLLECTION}). */
export interface ParkedKey extends KeyRef {
  /** The dead-lettered event that parked the key: its id and original offset. */
  readonly eventId: string;
  readonly offset: number;
  /** Where the dead letter is; null when the dead-letter topic did not say. */
  readonly deadLetter: { readonly topic: string; readonly partition: number; readonly offset: number } | null;
  /** ISO 8601. */
  readonly parkedAt: string;
  /** Events parked behind the dead letter, not yet released. */
  readonly count: number;
  /** Set once the key is released; its events are being handled (in order) and the key goes away after. */
  readonly released?: ParkingRelease;
}

/** A parked event (collection {@link PARKED_EVENTS_COLLECTION}): its position, and its id to show. */
export interface ParkedEvent {
  readonly offset: number;
  readonly eventId: string;
}

const OFFSET_DIGITS = 16;

/** The id of a key's document in {@link PARKED_KEYS_COLLECTION}. */
export function parkedKeyId(ref: KeyRef): string {
  return `${prefixOf(ref.group, ref.topic, ref.partition)}${encodeURIComponent(ref.key)}`;
}

/** The id prefix of a group's parked keys, optionally of one partition. */
export function prefixOf(group: string, topic?: string, partition?: number): string {
  let prefix = `${encodeURIComponent(group)}/`;
  if (topic !== undefined) prefix += `${encodeURIComponent(topic)}/`;
  if (topic !== undefined && partition !== undefined) prefix += `${partition}/`;
  return prefix;
}

function parkedEventId(ref: KeyRef, offset: number): string {
  return `${parkedKeyId(ref)}/${String(offset).padStart(OFFSET_DIGITS, '0')}`;
}

/**
 * Parks `ref` behind a dead letter: its key document now names that dead letter. Events parked
 * before (a key parked again while its events were being released) stay parked, and the count
 * goes on; a release that was under way is over (the new dead letter holds the key).
 */
export async function parkKey(
  store: Store,
  ref: KeyRef,
  head: Pick<ParkedKey, 'eventId' | 'offset' | 'deadLetter'>,
): Promise<ParkedKey> {
  return store.transaction(async (tx) => {
    const id = parkedKeyId(ref);
    const existing = await tx.get<ParkedKey>(PARKED_KEYS_COLLECTION, id);
    const parked: ParkedKey = {
      group: ref.group,
      topic: ref.topic,
      partition: ref.partition,
      key: ref.key,
      eventId: head.eventId,
      offset: head.offset,
      deadLetter: head.deadLetter,
      parkedAt: new Date().toISOString(),
      count: existing?.count ?? 0,
    };
    await tx.put(PARKED_KEYS_COLLECTION, id, parked);
    return parked;
  });
}

/**
 * Holds an event back behind its parked key: its position is recorded (once: parking it again
 * changes nothing) and the key's count goes up. Resolves with the key's count.
 */
export async function parkEvent(store: Store, ref: KeyRef, event: ParkedEvent): Promise<number> {
  return store.transaction(async (tx) => {
    const head = await requireKey(tx, ref);
    const id = parkedEventId(ref, event.offset);
    if ((await tx.get<ParkedEvent>(PARKED_EVENTS_COLLECTION, id)) !== undefined) return head.count;
    await tx.put(PARKED_EVENTS_COLLECTION, id, { offset: event.offset, eventId: event.eventId });
    await tx.put(PARKED_KEYS_COLLECTION, parkedKeyId(ref), { ...head, count: head.count + 1 });
    return head.count + 1;
  });
}

/** The first `limit` events parked behind `ref`, in offset order. */
export async function parkedEvents(store: Store, ref: KeyRef, limit: number): Promise<ParkedEvent[]> {
  const rows = await store.list<ParkedEvent>(PARKED_EVENTS_COLLECTION, {
    prefix: `${parkedKeyId(ref)}/`,
    limit,
  });
  return rows.map((row) => row.value);
}

/**
 * Forgets parked events once they were handled (or can no longer be read), in one transaction;
 * the key's count goes down by those that were there.
 */
export async function unparkEvents(store: Store, ref: KeyRef, offsets: readonly number[]): Promise<void> {
  if (offsets.length === 0) return;
  await store.transaction(async (tx) => {
    let removed = 0;
    for (const offset of offsets) {
      if (await tx.delete(PARKED_EVENTS_COLLECTION, parkedEventId(ref, offset))) removed++;
    }
    const head = await tx.get<ParkedKey>(PARKED_KEYS_COLLECTION, parkedKeyId(ref));
    if (removed > 0 && head !== undefined) {
      await tx.put(PARKED_KEYS_COLLECTION, parkedKeyId(ref), {
        ...head,
        count: Math.max(0, head.count - removed),
      });
    }
  });
}

/**
 * Marks `ref` released in `tx` when the dead letter that parks it is `eventId` (and, when
 * given, the dead-letter entry at `deadLetter`). Returns the key as it is now, or undefined when
 * it is not parked by that dead letter (parked by a later one, or not at all): nothing changes.
 */
export async function releaseKeyIn(
  tx: StoreTransaction,
  ref: KeyRef,
  release: ParkingRelease,
  by: { readonly eventId: string; readonly deadLetter?: ParkedKey['deadLetter'] },
): Promise<ParkedKey | undefined> {
  const head = await tx.get<ParkedKey>(PARKED_KEYS_COLLECTION, parkedKeyId(ref));
  if (head === undefined || head.eventId !== by.eventId) return undefined;
  if (by.deadLetter != null && head.deadLetter !== null && !samePosition(head.deadLetter, by.deadLetter)) {
    return undefined;
  }
  if (head.released !== undefined) return head;
  const released: ParkedKey = { ...head, released: release };
  await tx.put(PARKED_KEYS_COLLECTION, parkedKeyId(ref), released);
  return released;
}

/**
 * Forgets a released key whose events were all handled. Keeps it when an event is parked behind
 * it still (looked up in the same transaction, whatever its count says).
 */
export async function forgetKey(store: Store, ref: KeyRef): Promise<void> {
  await store.transaction(async (tx) => {
    const head = await tx.get<ParkedKey>(PARKED_KEYS_COLLECTION, parkedKeyId(ref));
    if (head?.released === undefined) return;
    const waiting = await tx.list(PARKED_EVENTS_COLLECTION, { prefix: `${parkedKeyId(ref)}/`, limit: 1 });
    if (waiting.length > 0) return;
    await tx.delete(PARKED_KEYS_COLLECTION, parkedKeyId(ref));
  });
}

/** The parked keys of one partition of a group, as the router reads them when it claims the partition. */
export async function parkedKeysOfPartition(
  store: Store,
  group: string,
  topic: string,
  partition: number,
): Promise<ParkedKey[]> {
  return listAll(store, prefixOf(group, topic, partition));
}

/**
 * The parked keys of a consumer group: per key, the dead letter that parks it and how many
 * events wait behind it (`count`), ordered by topic, partition and key. A key with `released`
 * set is being released: its events are handled in order and it goes away after.
 *
 * Parking is kept in the group's store: pass the store the group's router uses.
 *
 * @example for (const k of await parkedKeys(store, 'inventory.reservations')) console.log(k.key, k.count);
 */
export async function parkedKeys(
  store: Store,
  group: string,
  options: { readonly topic?: string } = {},
): Promise<ParkedKey[]> {
  return listAll(store, prefixOf(group, options.topic));
}

async function listAll(store: Store, prefix: string): Promise<ParkedKey[]> {
  const rows = await store.list<ParkedKey>(PARKED_KEYS_COLLECTION, { prefix });
  return rows.map((row) => row.value);
}

async function requireKey(tx: StoreTransaction, ref: KeyRef): Promise<ParkedKey> {
  const head = await tx.get<ParkedKey>(PARKED_KEYS_COLLECTION, parkedKeyId(ref));
  if (head === undefined) {
    // The router parks the key before any event behind it: only a document removed by hand gets here.
    throw new HeraldError(
      'CONFLICT',
      `key ${ref.key} of group ${ref.group} (${ref.topic}/${ref.partition}) is not parked in the store`,
      { details: { ...ref } },
    );
  }
  return head;
}

function samePosition(
  a: NonNullable<ParkedKey['deadLetter']>,
  b: NonNullable<ParkedKey['deadLetter']>,
): boolean {
  return a.topic === b.topic && a.partition === b.partition && a.offset === b.offset;
}
