// Reading orders: the current view (as far as it converged), waiting for a final state or for
// a consistency token, watching changes, and rebuilding an order's view as of a past moment by
// replaying its events from the log.
//
// A consistency token names what the view must have processed. A position token
// (`orders:<partition>:<offset>`, from the embedded store) is reached once the view's group has
// committed past it. An event token (`event:<id>`, from a store with an outbox, whose event has no
// position yet at the 202) is reached once the view has applied that event: the view records
// every event id it handled in its inbox, in the same transaction as the view itself.
import { setTimeout as sleep } from 'node:timers/promises';
import { type EventLog, type Store, isHeraldError, partitionFor } from '@herald/core';
import type { PlacedOrder } from '@herald/orders-domain/order.ts';
import { type OrderView, applyFact, isFinal, placedView } from '@herald/orders-domain/order-view.ts';
import { TOPICS, eventIdOf } from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { orderFactOf } from '../facts.ts';
import { VIEW_TOPICS } from './order-projection.ts';
import type { ViewChanges } from './view-changes.ts';

/** A position in the log, as a consistency token names it. */
export interface LogPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** What a consistency token names: a position in the log, or an event the view must have applied. */
export type ConsistencyTarget =
  | ({ readonly kind: 'position' } & LogPosition)
  | { readonly kind: 'event'; readonly eventId: string; readonly orderId: string };

const POSITION_TOKEN = /^([A-Za-z0-9._-]{1,249}):(\d{1,9}):(\d{1,15})$/;
const EVENT_TOKEN = /^event:([A-Za-z0-9._~-]{1,200})\/order-placed$/;

/** Parses `orders:<partition>:<offset>` or `event:<order id>/order-placed`; undefined when malformed. */
export function parseConsistencyToken(token: string): ConsistencyTarget | undefined {
  const event = EVENT_TOKEN.exec(token);
  if (event !== null) {
    const orderId = event[1]!;
    return { kind: 'event', eventId: eventIdOf(orderId, 'order-placed'), orderId };
  }
  const match = POSITION_TOKEN.exec(token);
  if (match === null) return undefined;
  const partition = Number(match[2]);
  const offset = Number(match[3]);
  if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) return undefined;
  return { kind: 'position', topic: match[1]!, partition, offset };
}

/**
 * Passed to `inboxStatus` when only presence matters: no real fingerprint (a base64url SHA-256)
 * is empty, so a recorded event answers `conflict` and an unrecorded one `unseen`.
 */
const ANY_FINGERPRINT = '';

const POSITION_POLL_MS = 15;
const REPLAY_CHUNK = 500;

/** Reads of the order view for the API; never writes. */
export class OrderQueries {
  readonly #log: EventLog;
  readonly #store: Store;
  readonly #changes: ViewChanges;

  constructor(options: { readonly log: EventLog; readonly store: Store; readonly changes: ViewChanges }) {
    this.#log = options.log;
    this.#store = options.store;
    this.#changes = options.changes;
  }

  /**
   * The order's view, or undefined for an order never placed. Until the projection has seen the
   * order, it is the order as placed: pending, every step pending.
   */
  async view(orderId: string): Promise<OrderView | undefined> {
    const view = await this.#store.get<OrderView>(COLLECTIONS.orderViews, orderId);
    if (view?.createdAt != null) return view;
    const order = await this.#store.get<PlacedOrder>(COLLECTIONS.orders, orderId);
    if (order === undefined) return view;
    return view === undefined
      ? placedView(order)
      : applyFact(view, orderId, { type: 'order-placed', at: order.placedAt, order });
  }

  /** Waits until `until(view)` holds or `timeoutMs` passed; returns the last view read. */
  async waitFor(
    orderId: string,
    until: (view: OrderView) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<OrderView | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const view = await this.view(orderId);
      const left = deadline - performance.now();
      if (view === undefined || until(view) || left <= 0 || signal?.aborted === true) return view;
      await this.#changes.next(orderId, left, signal);
    }
  }

  /**
   * The view now and after each change, until it is final (the final view is the last one
   * yielded), `signal` aborts, or `maxMs` passed.
   */
  async *watch(orderId: string, signal: AbortSignal, maxMs: number): AsyncGenerator<OrderView> {
    const deadline = performance.now() + maxMs;
    let version = -1;
    while (!signal.aborted && performance.now() < deadline) {
      const view = await this.view(orderId);
      if (view === undefined) return;
      if (view.version !== version) {
        version = view.version;
        yield view;
        if (isFinal(view)) return;
      }
      await this.#changes.next(orderId, deadline - performance.now(), signal);
    }
  }

  /**
   * Whether a token names an event that exists: a token from another topic, one beyond what was
   * ever appended, or the event of an order never placed can never be reached and is refused
   * rather than waited for.
   */
  async exists(target: ConsistencyTarget): Promise<boolean> {
    if (target.kind === 'event') {
      return (await this.#store.get(COLLECTIONS.orders, target.orderId)) !== undefined;
    }
    const position = target;
    if (position.topic !== TOPICS.orders) return false;
    try {
      const { partitionInfo } = await this.#log.describeTopic(position.topic);
      const partition = partitionInfo.find((p) => p.partition === position.partition);
      return partition !== undefined && position.offset < partition.latest;
    } catch (error) {
      if (isHeraldError(error, 'UNKNOWN_TOPIC')) return false;
      throw error;
    }
  }

  /**
   * Whether the order view has processed what the token names: every event up to and including
   * a position, or the named event.
   */
  async reached(target: ConsistencyTarget): Promise<boolean> {
    if (target.kind === 'event') {
      const status = await this.#store.inboxStatus(GROUPS.ordersView, target.eventId, ANY_FINGERPRINT);
      return status !== 'unseen';
    }
    const position = target;
    const { partitions } = await this.#log.describeGroup(GROUPS.ordersView);
    const state = partitions.find((p) => p.topic === position.topic && p.partition === position.partition);
    return state?.committed != null && state.committed > position.offset;
  }

  /** Waits until the view reached what the token names; false when `timeoutMs` passed first. */
  async waitForToken(target: ConsistencyTarget, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (await this.reached(target)) return true;
      const left = deadline - performance.now();
      if (left <= 0 || signal?.aborted === true) return false;
      await sleep(Math.min(POSITION_POLL_MS, left), undefined, signal === undefined ? {} : { signal }).catch(
        () => undefined,
      );
    }
  }

  /**
   * The order's view as of `at` (ms since the epoch), rebuilt from the log: every event about the
   * order that the log had accepted by then (its timestamp), folded in offset order per topic.
   * Reads only the partition the order's key maps to in each topic. Undefined when the order
   * had not been placed by then.
   */
  async asOf(orderId: string, at: number): Promise<OrderView | undefined> {
    let view: OrderView | undefined;
    for (const topic of VIEW_TOPICS) {
      let description;
      try {
        description = await this.#log.describeTopic(topic);
      } catch (error) {
        if (isHeraldError(error, 'UNKNOWN_TOPIC')) continue;
        throw error;
      }
      const partition = partitionFor(orderId, description.partitions);
      let from = description.partitionInfo.find((p) => p.partition === partition)?.earliest ?? 0;
      for (;;) {
        const events = await this.#log.read(topic, {
          partition,
          from: { offset: from },
          limit: REPLAY_CHUNK,
        });
        let past = false;
        for (const event of events) {
          // Timestamps never decrease within a partition: the first one after `at` ends it.
          if (event.timestamp > at) {
            past = true;
            break;
          }
          if (event.partitionkey !== orderId) continue;
          const decoded = orderFactOf(event);
          if (decoded?.orderId === orderId) view = applyFact(view, orderId, decoded.fact);
        }
        if (past || events.length < REPLAY_CHUNK) break;
        from = events[events.length - 1]!.offset + 1;
      }
    }
    return view?.createdAt == null ? undefined : view;
  }
}
