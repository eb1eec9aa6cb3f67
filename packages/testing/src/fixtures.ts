import type { CloudEvent, EventLog, StoredEvent, Subscription } from '@herald/core';

/** The CloudEvents `source` of {@link makeEvent} events. */
export const TEST_SOURCE = '/herald-testing';
/** The CloudEvents `type` of {@link makeEvent} events. */
export const TEST_TYPE = 'dev.herald.testing.thing-happened.v1';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A small valid CloudEvent numbered `i`: id `event-<i>`, JSON data `{"i":<i>}`, and the
 * partition key `key` when given. `overrides` replaces any attribute.
 *
 * @example await log.append('orders', makeEvent(1, 'order-1'));
 */
export function makeEvent(i: number, key?: string, overrides: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: '1.0',
    id: `event-${i}`,
    source: TEST_SOURCE,
    type: TEST_TYPE,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify({ i })),
    ...(key === undefined ? {} : { partitionkey: key }),
    ...overrides,
  };
}

/** The number a {@link makeEvent} event carries in its data. */
export function eventNumber(event: CloudEvent): number {
  const value: unknown = JSON.parse(decoder.decode(event.data));
  if (typeof value !== 'object' || value === null || !('i' in value) || typeof value.i !== 'number') {
    throw new Error(`event ${event.id} was not made by makeEvent`);
  }
  return value.i;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` every 10 ms until it returns true; rejects when `timeoutMs` passes first.
 * Use it instead of fixed sleeps: it is fast when the backend is fast and tolerant when the
 * machine is loaded.
 *
 * @example await waitFor(() => sub.assignment().length === 4, 5000, 'member owns all partitions');
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Polls `predicate` every 10 ms until it returns true; rejects only when `progress()` has not
 * changed for `stallMs` (nothing moved: the run is stuck, not slow). A fault run waits this way
 * for a condition that takes as long as the machine needs, with both cores busy or not.
 *
 * @example await waitWhileProgressing(() => load.ackedCount >= 500, () => load.ackedCount, 60_000, '500 acks');
 */
export async function waitWhileProgressing(
  predicate: () => boolean | Promise<boolean>,
  progress: () => unknown,
  stallMs: number,
  what: string,
): Promise<void> {
  let seen = JSON.stringify(progress());
  let movedAt = Date.now();
  while (!(await predicate())) {
    const now = JSON.stringify(progress());
    if (now !== seen) {
      seen = now;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > stallMs) {
      throw new Error(`no progress for ${stallMs} ms waiting for ${what} (stuck at ${now})`);
    }
    await sleep(10);
  }
}

/**
 * `promise`, or a rejection naming `what` when it does not settle within `timeoutMs`.
 * The timer is cleared either way, so a passing test leaves nothing running.
 */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Reader {
  readonly iterator: AsyncIterator<StoredEvent>;
  pending: Promise<IteratorResult<StoredEvent>> | undefined;
}

const readers = new WeakMap<Subscription, Reader>();
const TIMED_OUT = Symbol('timed out');

/**
 * The next event of `subscription`, `undefined` when none arrives before `deadline` (epoch ms),
 * or `null` when the subscription ended. One iterator is kept per subscription and a `next()`
 * still pending at the deadline is reused by the following call, so no event is ever skipped.
 */
export async function nextEvent(
  subscription: Subscription,
  deadline: number,
): Promise<StoredEvent | undefined | null> {
  let reader = readers.get(subscription);
  if (reader === undefined) {
    reader = { iterator: subscription[Symbol.asyncIterator](), pending: undefined };
    readers.set(subscription, reader);
  }
  reader.pending ??= reader.iterator.next();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - Date.now()));
  });
  try {
    const result = await Promise.race([reader.pending, timeout]);
    if (result === TIMED_OUT) return undefined;
    reader.pending = undefined;
    return result.done === true ? null : result.value;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Exactly `count` events from `subscription`; rejects when they do not all arrive within
 * `timeoutMs` or the subscription ends first. Commits nothing.
 *
 * @example const events = await collect(sub, 10);
 */
export async function collect(
  subscription: Subscription,
  count: number,
  timeoutMs = 10_000,
): Promise<StoredEvent[]> {
  const deadline = Date.now() + timeoutMs;
  const events: StoredEvent[] = [];
  while (events.length < count) {
    const event = await nextEvent(subscription, deadline);
    if (event === undefined || event === null) {
      throw new Error(
        `expected ${count} events, got ${events.length} ${event === null ? 'before the subscription ended' : `within ${timeoutMs} ms`}`,
      );
    }
    events.push(event);
  }
  return events;
}

/** Every event `subscription` delivers during the next `ms` milliseconds (to check that nothing more comes). */
export async function collectFor(subscription: Subscription, ms: number): Promise<StoredEvent[]> {
  const deadline = Date.now() + ms;
  const events: StoredEvent[] = [];
  while (true) {
    const event = await nextEvent(subscription, deadline);
    if (event === undefined || event === null) return events;
    events.push(event);
  }
}

/** Every event of one partition, in offset order, reading page by page up to the current end. */
export async function readPartition(log: EventLog, topic: string, partition: number): Promise<StoredEvent[]> {
  const description = await log.describeTopic(topic);
  const info = description.partitionInfo.find((p) => p.partition === partition);
  if (info === undefined) throw new Error(`topic ${topic} has no partition ${partition}`);
  const events: StoredEvent[] = [];
  let offset = info.earliest;
  while (offset < info.latest) {
    const page = await log.read(topic, { partition, from: { offset } });
    if (page.length === 0) break;
    events.push(...page);
    offset = page.at(-1)!.offset + 1;
  }
  return events;
}

/** Every event of a topic, partition by partition. */
export async function readAll(log: EventLog, topic: string): Promise<StoredEvent[]> {
  const { partitions } = await log.describeTopic(topic);
  const all: StoredEvent[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    all.push(...(await readPartition(log, topic, partition)));
  }
  return all;
}
