// The order as `GET /orders/:id` shows it: status and each step's state, as far as the facts
// received so far tell. Built by folding facts in (`applyFact`); facts of one order may come
// from different topics in any interleaving, so each step only moves forward: a fact that would
// move a step back (a repeat, a late duplicate) changes nothing.
import type { Currency } from './money.ts';
import type { OrderLine, PlacedOrder } from './order.ts';
import type { RejectionReason } from './saga.ts';

export type OrderStatus = 'pending' | 'confirmed' | 'rejected';

/** Where each participant of the flow is with the order. */
export interface OrderSteps {
  readonly inventory: 'pending' | 'reserved' | 'failed' | 'released';
  readonly payment: 'pending' | 'authorized' | 'declined' | 'captured' | 'voided';
  readonly fraud: 'pending' | 'passed' | 'failed';
  readonly notification: 'pending' | 'sent';
}

/** The order as far as the facts received tell: what `GET /orders/:id` serves. */
export interface OrderView {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly reason: RejectionReason | null;
  readonly detail: string | null;
  /** Null until the view has seen `OrderPlaced` (outcomes may arrive first). */
  readonly customerId: string | null;
  readonly currency: Currency | null;
  readonly items: readonly OrderLine[];
  readonly total: number | null;
  readonly steps: OrderSteps;
  readonly createdAt: string | null;
  readonly updatedAt: string;
  /** Facts applied so far that changed something; a watcher compares it to see change. */
  readonly version: number;
}

/** One fact about an order, as the view needs it. `at` is when it happened (RFC 3339). */
export type OrderFact =
  | { readonly type: 'order-placed'; readonly at: string; readonly order: PlacedOrder }
  | { readonly type: 'order-confirmed'; readonly at: string }
  | {
      readonly type: 'order-rejected';
      readonly at: string;
      readonly reason: RejectionReason;
      readonly detail: string;
    }
  | { readonly type: 'stock-reserved' | 'stock-reservation-failed' | 'stock-released'; readonly at: string }
  | {
      readonly type: 'payment-authorized' | 'payment-declined' | 'payment-captured' | 'payment-voided';
      readonly at: string;
    }
  | { readonly type: 'fraud-check-passed' | 'fraud-check-failed'; readonly at: string }
  | { readonly type: 'notification-sent'; readonly at: string };

const PENDING_STEPS: OrderSteps = {
  inventory: 'pending',
  payment: 'pending',
  fraud: 'pending',
  notification: 'pending',
};

/** How far along each step value is; a step only moves to a higher rank. */
const RANK: Readonly<Record<string, number>> = {
  pending: 0,
  reserved: 1,
  failed: 1,
  released: 2,
  authorized: 1,
  declined: 1,
  captured: 2,
  voided: 2,
  passed: 1,
  sent: 1,
};

/** The view of an order nothing is known about yet. */
export function emptyView(orderId: string, at: string): OrderView {
  return {
    orderId,
    status: 'pending',
    reason: null,
    detail: null,
    customerId: null,
    currency: null,
    items: [],
    total: null,
    steps: PENDING_STEPS,
    createdAt: null,
    updatedAt: at,
    version: 0,
  };
}

/** The view right after the order was placed. */
export function placedView(order: PlacedOrder): OrderView {
  return applyFact(undefined, order.orderId, { type: 'order-placed', at: order.placedAt, order });
}

/** Folds one fact into the view (`undefined`: the order's first fact). Pure; never moves back. */
export function applyFact(view: OrderView | undefined, orderId: string, fact: OrderFact): OrderView {
  const current = view ?? emptyView(orderId, fact.at);
  const next = change(current, fact);
  if (next === current) return current;
  return { ...next, updatedAt: later(current.updatedAt, fact.at), version: current.version + 1 };
}

function change(view: OrderView, fact: OrderFact): OrderView {
  switch (fact.type) {
    case 'order-placed': {
      if (view.createdAt !== null) return view;
      const { order } = fact;
      return {
        ...view,
        customerId: order.customerId,
        currency: order.currency,
        items: order.items,
        total: order.total,
        createdAt: order.placedAt,
      };
    }
    case 'order-confirmed':
      return view.status === 'pending' ? { ...view, status: 'confirmed' } : view;
    case 'order-rejected':
      return view.status === 'pending'
        ? { ...view, status: 'rejected', reason: fact.reason, detail: fact.detail }
        : view;
    case 'stock-reserved':
      return step(view, 'inventory', 'reserved');
    case 'stock-reservation-failed':
      return step(view, 'inventory', 'failed');
    case 'stock-released':
      return step(view, 'inventory', 'released');
    case 'payment-authorized':
      return step(view, 'payment', 'authorized');
    case 'payment-declined':
      return step(view, 'payment', 'declined');
    case 'payment-captured':
      return step(view, 'payment', 'captured');
    case 'payment-voided':
      return step(view, 'payment', 'voided');
    case 'fraud-check-passed':
      return step(view, 'fraud', 'passed');
    case 'fraud-check-failed':
      return step(view, 'fraud', 'failed');
    case 'notification-sent':
      return step(view, 'notification', 'sent');
  }
}

function step<S extends keyof OrderSteps>(view: OrderView, name: S, value: OrderSteps[S]): OrderView {
  if ((RANK[value] ?? 0) <= (RANK[view.steps[name]] ?? 0)) return view;
  return { ...view, steps: { ...view.steps, [name]: value } };
}

function later(a: string, b: string): string {
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/** The order has its final status (confirmed or rejected); steps may still be converging. */
export function isFinal(view: OrderView): boolean {
  return view.status !== 'pending';
}

/**
 * Everything that follows from the final status has happened too: the customer was told, a
 * confirmed order's payment was captured, a rejected order holds no stock and no authorization.
 */
export function isSettled(view: OrderView): boolean {
  const { steps } = view;
  if (!isFinal(view) || steps.notification !== 'sent' || steps.fraud === 'pending') return false;
  if (steps.inventory === 'pending' || steps.payment === 'pending') return false;
  if (view.status === 'confirmed') return steps.payment === 'captured';
  return steps.inventory !== 'reserved' && steps.payment !== 'authorized';
}
