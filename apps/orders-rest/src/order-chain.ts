// The REST baseline's order flow: the same domain decisions as the event-driven saga, made
// synchronously inside `POST /orders`.
//
// 1. The order is priced (domain `createOrder`) and stored pending.
// 2. fraud, inventory and payment are called at once; the saga reducer (domain `recordOutcome`)
//    takes their outcomes in the order they arrive, so the first negative gives the reason.
// 3. All three positive → confirmed: commit the stock and capture the payment. Any negative →
//    rejected: release the stock and void the authorization (compensations).
// 4. No negative but a call failed (timeout, refused, 5xx after retries) → the order cannot be
//    decided: everything that may have happened is compensated (release, void: both safe when
//    nothing happened) and the request fails with the chain's error.
// 5. A decided order's customer is told through notification.
//
// A compensation, capture or notification that still fails after its retries cannot be undone
// by answering an error (the decision stands, money may have moved): it is recorded in
// `rest.repairs` for an operator. Nothing retries it later; that is the price of doing
// everything inside one request, and what the lab counts as the REST side's dead letters.
import { randomUUID } from 'node:crypto';
import type { Store } from '@herald/core';
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';
import type { OrderOutcome } from '@herald/orders-domain/notification.ts';
import {
  type OrderProblem,
  type OrderRequest,
  type PlacedOrder,
  createOrder,
  orderRequestFingerprint,
} from '@herald/orders-domain/order.ts';
import { KeysInFlight } from '@herald/orders-domain/keys-in-flight.ts';
import { type OrderFact, type OrderView, applyFact } from '@herald/orders-domain/order-view.ts';
import { type SagaDecision, type StepOutcome, recordOutcome, startSaga } from '@herald/orders-domain/saga.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { CallFailure, type DownstreamClient } from './downstream-client.ts';
import type { FraudCheckRequest, FraudVerdict } from './fraud-api.ts';
import type { ReservationAnswer } from './inventory-api.ts';
import type { MessageAnswer } from './notification-api.ts';
import type { PaymentAnswer } from './payment-api.ts';

/** Collections only the REST orders service has. */
export const REST_COLLECTIONS = {
  /** How each order's request ended: confirmed, rejected, or failed with the chain's error. */
  outcomes: 'rest.outcomes',
  /** Work that failed after the decision and needs an operator (`<orderId>/<action>`). */
  repairs: 'rest.repairs',
} as const;

/** How one order's request ended, as `rest.outcomes` keeps it. */
export interface RestOutcome {
  readonly orderId: string;
  readonly outcome: 'pending' | 'confirmed' | 'rejected' | 'failed';
  /** For `failed`: which call failed and how. */
  readonly failure?: {
    readonly service: string;
    readonly kind: CallFailure['kind'];
    readonly detail: string;
  };
  readonly at: string;
}

/** Something left undone after the decision. */
export interface Repair {
  readonly orderId: string;
  readonly action: 'release-stock' | 'void-payment' | 'commit-stock' | 'capture-payment' | 'notify';
  readonly error: string;
  readonly at: string;
}

/** The downstream clients the chain calls. */
export interface ChainClients {
  readonly fraud: DownstreamClient;
  readonly inventory: DownstreamClient;
  readonly payment: DownstreamClient;
  readonly notification: DownstreamClient;
}

export type ChainResult =
  /** Decided: 201 with the order's view. */
  | { readonly kind: 'decided'; readonly view: OrderView; readonly replayed: boolean }
  /** The chain failed before a decision: the error, after compensations. */
  | {
      readonly kind: 'failed';
      readonly orderId: string;
      readonly failure: CallFailure;
      readonly replayed: boolean;
    }
  | { readonly kind: 'invalid'; readonly problems: readonly OrderProblem[] }
  | { readonly kind: 'key-reused' }
  | { readonly kind: 'key-in-flight' };

interface KeyRecord {
  readonly fingerprint: string;
  readonly orderId: string;
}

type StepResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: CallFailure };

async function attempt<T>(call: () => Promise<T>): Promise<StepResult<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    if (error instanceof CallFailure) return { ok: false, failure: error };
    throw error;
  }
}

function now(): string {
  return new Date().toISOString();
}

/** Places orders by calling the downstream services synchronously. */
export class RestOrderChain {
  readonly #store: Store;
  readonly #catalog: ReadonlyMap<string, CatalogItem>;
  readonly #clients: ChainClients;
  readonly #keysInFlight = new KeysInFlight();

  constructor(options: {
    readonly store: Store;
    readonly catalog: ReadonlyMap<string, CatalogItem>;
    readonly clients: ChainClients;
  }) {
    this.#store = options.store;
    this.#catalog = options.catalog;
    this.#clients = options.clients;
  }

  /**
   * Places one order and runs its whole flow. With an idempotency key, the same key and request
   * answer what the first request ended with; another request under a used key is refused.
   */
  async place(request: OrderRequest, idempotencyKey?: string): Promise<ChainResult> {
    return this.#keysInFlight.run(idempotencyKey, () => this.#place(request, idempotencyKey));
  }

  async #place(request: OrderRequest, key: string | undefined): Promise<ChainResult> {
    const fingerprint = orderRequestFingerprint(request);
    if (key !== undefined) {
      const seen = await this.#store.get<KeyRecord>(COLLECTIONS.idempotencyKeys, key);
      if (seen !== undefined) return this.#replay(seen, fingerprint);
    }
    const orderId = randomUUID();
    const placedAt = now();
    const priced = createOrder(request, this.#catalog, { orderId, placedAt });
    if (!priced.ok) return { kind: 'invalid', problems: priced.problems };
    const { order } = priced;
    let view = applyFact(undefined, orderId, { type: 'order-placed', at: placedAt, order });
    const stored = await this.#store.transaction(async (tx) => {
      if (key !== undefined) {
        const seen = await tx.get<KeyRecord>(COLLECTIONS.idempotencyKeys, key);
        if (seen !== undefined) return seen;
        await tx.put(COLLECTIONS.idempotencyKeys, key, { fingerprint, orderId } satisfies KeyRecord);
      }
      await tx.put(COLLECTIONS.orders, orderId, order);
      await tx.put(COLLECTIONS.orderViews, orderId, view);
      await tx.put(REST_COLLECTIONS.outcomes, orderId, {
        orderId,
        outcome: 'pending',
        at: placedAt,
      } satisfies RestOutcome);
      return undefined;
    });
    if (stored !== undefined) return this.#replay(stored, fingerprint);

    const apply = (fact: OrderFact) => {
      view = applyFact(view, orderId, fact);
    };
    const repairs: Repair[] = [];
    const needsRepair = (action: Repair['action'], failure: CallFailure) =>
      repairs.push({ orderId, action, error: failure.message, at: now() });

    // 2. The three checks at once; outcomes are recorded as they arrive.
    let saga = startSaga(orderId);
    const record = (outcome: StepOutcome) => {
      saga = recordOutcome(saga, outcome).state;
    };
    const [fraud, inventory, payment] = await Promise.all([
      attempt(() => this.#checkFraud(order)).then((result) => {
        if (result.ok) {
          apply({ type: result.value.passed ? 'fraud-check-passed' : 'fraud-check-failed', at: now() });
          record(
            result.value.passed
              ? { step: 'fraud', ok: true }
              : { step: 'fraud', ok: false, detail: result.value.detail },
          );
        }
        return result;
      }),
      attempt(() => this.#reserve(order)).then((result) => {
        if (result.ok) {
          const answer = result.value;
          apply({
            type: answer.status === 'reserved' ? 'stock-reserved' : 'stock-reservation-failed',
            at: now(),
          });
          record(
            answer.status === 'reserved'
              ? { step: 'inventory', ok: true }
              : {
                  step: 'inventory',
                  ok: false,
                  detail: answer.status === 'failed' ? answer.detail : answer.status,
                },
          );
        }
        return result;
      }),
      attempt(() => this.#authorize(order)).then((result) => {
        if (result.ok) {
          const answer = result.value;
          apply({
            type: answer.status === 'authorized' ? 'payment-authorized' : 'payment-declined',
            at: now(),
          });
          record(
            answer.status === 'declined'
              ? { step: 'payment', ok: false, detail: answer.detail }
              : { step: 'payment', ok: true },
          );
        }
        return result;
      }),
    ]);
    const decision: SagaDecision | null = saga.decision;

    // 3./4. Compensations, or finishing a confirmed order.
    if (decision?.status !== 'confirmed') {
      // What may have happened is undone: a positive answer, or a call that may have arrived.
      const reserved = inventory.ok ? inventory.value.status === 'reserved' : inventory.failure.uncertain;
      const authorized = payment.ok ? payment.value.status === 'authorized' : payment.failure.uncertain;
      await Promise.all([
        reserved
          ? attempt(() =>
              this.#clients.inventory.post<ReservationAnswer>(`/reservations/${orderId}/release`, {}),
            ).then((result) => {
              if (!result.ok) needsRepair('release-stock', result.failure);
              else if (result.value.status === 'released') apply({ type: 'stock-released', at: now() });
            })
          : undefined,
        authorized
          ? attempt(() =>
              this.#clients.payment.post<PaymentAnswer>(`/authorizations/${orderId}/void`, {}),
            ).then((result) => {
              if (!result.ok) needsRepair('void-payment', result.failure);
              else if (result.value.status === 'voided') apply({ type: 'payment-voided', at: now() });
            })
          : undefined,
      ]);
    } else {
      await Promise.all([
        attempt(() =>
          this.#clients.inventory.post<ReservationAnswer>(
            `/reservations/${orderId}/commit`,
            {},
            { acceptConflict: true },
          ),
        ).then((result) => {
          if (!result.ok) needsRepair('commit-stock', result.failure);
        }),
        attempt(() =>
          this.#clients.payment.post<PaymentAnswer>(
            `/authorizations/${orderId}/capture`,
            {},
            { acceptConflict: true },
          ),
        ).then((result) => {
          if (!result.ok) needsRepair('capture-payment', result.failure);
          else if (result.value.status === 'captured') apply({ type: 'payment-captured', at: now() });
        }),
      ]);
    }

    if (decision === null) {
      const failure = [fraud, inventory, payment].find((r) => !r.ok)?.failure;
      if (failure === undefined) throw new Error(`order ${orderId}: undecided without a failed call`);
      await this.#finish(orderId, view, repairs, {
        orderId,
        outcome: 'failed',
        failure: { service: failure.service, kind: failure.kind, detail: failure.message },
        at: now(),
      });
      return { kind: 'failed', orderId, failure, replayed: false };
    }

    apply(
      decision.status === 'confirmed'
        ? { type: 'order-confirmed', at: now() }
        : { type: 'order-rejected', at: now(), reason: decision.reason, detail: decision.detail },
    );
    // 5. Tell the customer.
    const outcome: OrderOutcome =
      decision.status === 'confirmed'
        ? {
            kind: 'order-confirmed',
            orderId,
            customerId: order.customerId,
            total: order.total,
            currency: order.currency,
          }
        : { kind: 'order-rejected', orderId, customerId: order.customerId, reason: decision.reason };
    const notified = await attempt(() =>
      this.#clients.notification.post<MessageAnswer>('/messages', outcome),
    );
    if (notified.ok) apply({ type: 'notification-sent', at: now() });
    else needsRepair('notify', notified.failure);

    await this.#finish(orderId, view, repairs, { orderId, outcome: decision.status, at: now() });
    return { kind: 'decided', view, replayed: false };
  }

  async #finish(
    orderId: string,
    view: OrderView,
    repairs: readonly Repair[],
    outcome: RestOutcome,
  ): Promise<void> {
    await this.#store.transaction(async (tx) => {
      await tx.put(COLLECTIONS.orderViews, orderId, view);
      await tx.put(REST_COLLECTIONS.outcomes, orderId, outcome);
      for (const repair of repairs)
        await tx.put(REST_COLLECTIONS.repairs, `${orderId}/${repair.action}`, repair);
    });
  }

  async #replay(seen: KeyRecord, fingerprint: string): Promise<ChainResult> {
    if (seen.fingerprint !== fingerprint) return { kind: 'key-reused' };
    const [view, outcome] = await Promise.all([
      this.#store.get<OrderView>(COLLECTIONS.orderViews, seen.orderId),
      this.#store.get<RestOutcome>(REST_COLLECTIONS.outcomes, seen.orderId),
    ]);
    if (view === undefined || outcome === undefined || outcome.outcome === 'pending')
      return { kind: 'key-in-flight' };
    if (outcome.outcome === 'failed' && outcome.failure !== undefined) {
      const { service, kind, detail } = outcome.failure;
      const failure = new CallFailure(service, kind, 0, detail);
      return { kind: 'failed', orderId: seen.orderId, failure, replayed: true };
    }
    return { kind: 'decided', view, replayed: true };
  }

  #checkFraud(order: PlacedOrder): Promise<FraudVerdict> {
    const body: FraudCheckRequest = {
      orderId: order.orderId,
      customerId: order.customerId,
      total: order.total,
      currency: order.currency,
      shippingCountry: order.shippingCountry,
      placedAt: order.placedAt,
    };
    return this.#clients.fraud.post<FraudVerdict>('/checks', body);
  }

  async #reserve(order: PlacedOrder): Promise<ReservationAnswer> {
    const lines = order.items.map(({ sku, quantity }) => ({ sku, quantity }));
    const answer = await this.#clients.inventory.post<ReservationAnswer>(
      '/reservations',
      { orderId: order.orderId, lines },
      { acceptConflict: true },
    );
    if (answer.status !== 'reserved' && answer.status !== 'failed') {
      throw new CallFailure(
        'inventory',
        'bad-answer',
        1,
        `reserving order ${order.orderId} answered ${answer.status}`,
      );
    }
    return answer;
  }

  async #authorize(order: PlacedOrder): Promise<PaymentAnswer> {
    const answer = await this.#clients.payment.post<PaymentAnswer>(
      '/authorizations',
      { orderId: order.orderId, amount: order.total, currency: order.currency, token: order.paymentToken },
      { acceptConflict: true },
    );
    if (answer.status !== 'authorized' && answer.status !== 'declined') {
      throw new CallFailure(
        'payment',
        'bad-answer',
        1,
        `authorizing order ${order.orderId} answered ${answer.status}`,
      );
    }
    return answer;
  }
}
