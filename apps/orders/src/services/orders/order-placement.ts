// Placing an order (the command behind `POST /orders`): prices it from the catalog and, in ONE
// store transaction, stores it pending, emits OrderPlaced and records the idempotency key with
// the answer. The answer exists only if the transaction committed, so there is never an
// accepted order without its durable event, and a retried request finds the first answer. On
// the embedded store the event is appended to the log in that transaction; on Postgres it is
// committed to the service's outbox with it, and the relay publishes it afterwards.
import { v7 as timeOrderedUuid } from 'uuid';
import {
  type AppendResult,
  type PublishMiddleware,
  type Store,
  type StoreTransaction,
  createProducer,
} from '@herald/core';
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';
import {
  type OrderProblem,
  type OrderRequest,
  type PlacedOrder,
  createOrder,
  orderRequestFingerprint,
} from '@herald/orders-domain/order.ts';
import { OrderPlaced, TOPICS, eventIdOf } from '@herald/orders-domain/events.ts';
import { KeysInFlight } from '@herald/orders-domain/keys-in-flight.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';

const SOURCE = '/orders';

/** The 202 answer. */
export interface AcceptedOrder {
  readonly orderId: string;
  readonly status: 'pending';
  /**
   * What `?consistentWith` waits for. `orders:<partition>:<offset>`, where OrderPlaced is in the
   * log, when the store appended it in the transaction (the embedded log); `event:<event id>`,
   * OrderPlaced's id, when the store committed it to an outbox (Postgres): its position is known
   * only once the relay has published it.
   */
  readonly consistencyToken: string;
  readonly links: { readonly self: string; readonly consistent: string; readonly events: string };
}

/**
 * How long an Idempotency-Key is remembered: a retry within this time gets the first answer;
 * after it the key is free again (the IETF draft asks for at least 24 hours).
 */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The id an Idempotency-Key is kept under: keys are scoped to the customer placing the order, so
 * one customer's key never answers, blocks or reveals another customer's request.
 */
export function scopedIdempotencyKey(customerId: string, key: string): string {
  return `${encodeURIComponent(customerId)}/${key}`;
}

/** What the orders service keeps per idempotency key. */
export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly order: AcceptedOrder;
  readonly createdAt: string;
}

/** What placing an order came to; the API maps each to an HTTP answer. */
export type PlacementOutcome =
  | { readonly kind: 'accepted'; readonly order: AcceptedOrder; readonly replayed: boolean }
  | { readonly kind: 'invalid'; readonly problems: readonly OrderProblem[] }
  /** The key was used before with another request. */
  | { readonly kind: 'key-reused' }
  /** A request with the same key is being handled right now. */
  | { readonly kind: 'key-in-flight' };

/** Formats an append position as a consistency token. */
export function consistencyTokenOf(position: Pick<AppendResult, 'topic' | 'partition' | 'offset'>): string {
  return `${position.topic}:${position.partition}:${position.offset}`;
}

/** Formats the id of an event not yet in the log (it waits in an outbox) as a consistency token. */
export function eventTokenOf(eventId: string): string {
  return `event:${eventId}`;
}

/** Records a priced order: the store transaction behind `POST /orders`. */
export interface OrderRecording {
  /**
   * In one urgent store transaction (it runs ahead of queued handler transactions): stores the
   * order pending, emits OrderPlaced and records the idempotency key with the answer; a key
   * recorded meanwhile gets its first answer (or `key-reused`) and nothing is written.
   */
  record(
    order: PlacedOrder,
    idempotencyKey: string | undefined,
    fingerprint: string,
  ): Promise<PlacementOutcome>;
}

/** The recording of orders in a store of this thread. */
export class OrderRecorder implements OrderRecording {
  readonly #store: Store;
  readonly #publish: readonly PublishMiddleware[];
  readonly #keyTtlMs: number;
  readonly #now: () => Date;

  constructor(options: {
    readonly store: Store;
    readonly publish?: readonly PublishMiddleware[];
    /** Default {@link IDEMPOTENCY_KEY_TTL_MS}. */
    readonly keyTtlMs?: number;
    readonly now?: () => Date;
  }) {
    this.#store = options.store;
    this.#publish = options.publish ?? [];
    this.#keyTtlMs = options.keyTtlMs ?? IDEMPOTENCY_KEY_TTL_MS;
    this.#now = options.now ?? (() => new Date());
  }

  record(order: PlacedOrder, key: string | undefined, fingerprint: string): Promise<PlacementOutcome> {
    return this.#store.transaction((tx) => this.#record(tx, order, key, fingerprint), { urgent: true });
  }

  async #record(
    tx: StoreTransaction,
    order: PlacedOrder,
    key: string | undefined,
    fingerprint: string,
  ): Promise<PlacementOutcome> {
    const { orderId, placedAt } = order;
    if (key !== undefined) {
      // Another request may have recorded the key since the placement read it.
      const seen = live(
        await tx.get<IdempotencyRecord>(COLLECTIONS.idempotencyKeys, key),
        this.#keyTtlMs,
        this.#now(),
      );
      if (seen !== undefined) return replay(seen, fingerprint);
    }
    await tx.put(COLLECTIONS.orders, orderId, order);
    const eventId = eventIdOf(orderId, 'order-placed');
    const position = await createProducer({ sink: tx, source: SOURCE, middleware: this.#publish }).publish(
      TOPICS.orders,
      OrderPlaced,
      { ...order, items: [...order.items] },
      { key: orderId, subject: orderId, id: eventId },
    );
    // No position: the store keeps the event in its outbox, committed with the order, until the
    // relay publishes it. The view can still be waited for: it records the event id it applied.
    const token = position === undefined ? eventTokenOf(eventId) : consistencyTokenOf(position);
    const accepted: AcceptedOrder = {
      orderId,
      status: 'pending',
      consistencyToken: token,
      links: {
        self: `/orders/${orderId}`,
        consistent: `/orders/${orderId}?consistentWith=${encodeURIComponent(token)}`,
        events: `/orders/${orderId}/events`,
      },
    };
    if (key !== undefined) {
      const record: IdempotencyRecord = { fingerprint, order: accepted, createdAt: placedAt };
      await tx.put(COLLECTIONS.idempotencyKeys, key, record);
    }
    return { kind: 'accepted', order: accepted, replayed: false };
  }
}

/** What placing orders needs. */
export interface OrderPlacementOptions {
  /** Where idempotency keys are looked up before an order is priced. */
  readonly store: Store;
  readonly catalog: ReadonlyMap<string, CatalogItem>;
  /**
   * Where priced orders are recorded. Default: an {@link OrderRecorder} on `store` with
   * `publish`. The API of `npm start` records in the thread that runs the services instead.
   */
  readonly recorder?: OrderRecording;
  /** Wraps the append of OrderPlaced (e.g. `tracingPublish()`), outermost first; with the default recorder. */
  readonly publish?: readonly PublishMiddleware[];
  /** How long a key is remembered. Default {@link IDEMPOTENCY_KEY_TTL_MS}. */
  readonly keyTtlMs?: number;
  readonly now?: () => Date;
  readonly newOrderId?: () => string;
}

/**
 * The `POST /orders` command, Idempotency-Key semantics included (IETF draft): same key and
 * request → the first answer; same key, other request → `key-reused`; same key while the first
 * is handled in this process → `key-in-flight`.
 */
export class OrderPlacement {
  readonly #options: OrderPlacementOptions;
  readonly #recorder: OrderRecording;
  /** Keys being handled in this process: a concurrent request with one of them gets 409. */
  readonly #keysInFlight = new KeysInFlight();

  constructor(options: OrderPlacementOptions) {
    this.#options = options;
    this.#recorder =
      options.recorder ??
      new OrderRecorder({
        store: options.store,
        ...(options.publish === undefined ? {} : { publish: options.publish }),
        ...(options.keyTtlMs === undefined ? {} : { keyTtlMs: options.keyTtlMs }),
        ...(options.now === undefined ? {} : { now: options.now }),
      });
  }

  /** Whether a request of `customerId` with this Idempotency-Key is being handled in this process now. */
  handling(customerId: string, idempotencyKey: string): boolean {
    return this.#keysInFlight.has(scopedIdempotencyKey(customerId, idempotencyKey));
  }

  /** Places `request`; an Idempotency-Key counts for the request's customer only. */
  place(request: OrderRequest, idempotencyKey?: string): Promise<PlacementOutcome> {
    const key =
      idempotencyKey === undefined ? undefined : scopedIdempotencyKey(request.customerId, idempotencyKey);
    return this.#keysInFlight.run(key, () => this.#place(request, key));
  }

  async #place(request: OrderRequest, key: string | undefined): Promise<PlacementOutcome> {
    const { store, catalog } = this.#options;
    const fingerprint = orderRequestFingerprint(request);
    if (key !== undefined) {
      const seen = live(
        await store.get<IdempotencyRecord>(COLLECTIONS.idempotencyKeys, key),
        this.#options.keyTtlMs ?? IDEMPOTENCY_KEY_TTL_MS,
        this.#options.now?.() ?? new Date(),
      );
      if (seen !== undefined) return replay(seen, fingerprint);
    }
    // UUIDv7: time-ordered, so the rows keyed by order id (the order, its view, every inbox
    // entry of its events) go to the end of their tables' B-trees instead of a random page each;
    // a commit writes a few pages instead of one per row (half the engine's COMMIT time).
    const orderId = this.#options.newOrderId?.() ?? timeOrderedUuid();
    const placedAt = (this.#options.now?.() ?? new Date()).toISOString();
    const result = createOrder(request, catalog, { orderId, placedAt });
    if (!result.ok) return { kind: 'invalid', problems: result.problems };
    return this.#recorder.record(result.order, key, fingerprint);
  }
}

/** The record, unless it is older than `ttlMs` at `now` (an expired key is free again). */
function live(seen: IdempotencyRecord | undefined, ttlMs: number, now: Date): IdempotencyRecord | undefined {
  if (seen === undefined) return undefined;
  return now.getTime() - Date.parse(seen.createdAt) < ttlMs ? seen : undefined;
}

function replay(seen: IdempotencyRecord, fingerprint: string): PlacementOutcome {
  return seen.fingerprint === fingerprint
    ? { kind: 'accepted', order: seen.order, replayed: true }
    : { kind: 'key-reused' };
}
