// Analytics views: the order funnel (how many orders reached each stage) and revenue per
// currency. Pure reducers over facts; applying the same facts gives the same views whatever the
// interleaving between topics.
import type { Currency } from './money.ts';
import type { RejectionReason } from './saga.ts';

/** How many orders reached each stage of the flow. */
export interface Funnel {
  readonly placed: number;
  readonly stockReserved: number;
  readonly stockFailed: number;
  readonly stockReleased: number;
  readonly paymentAuthorized: number;
  readonly paymentDeclined: number;
  readonly paymentCaptured: number;
  readonly paymentVoided: number;
  readonly fraudPassed: number;
  readonly fraudFailed: number;
  readonly confirmed: number;
  readonly rejected: Readonly<Record<RejectionReason, number>>;
  readonly notified: number;
  readonly pointsAwarded: number;
}

/** Money per currency, in minor units. */
export interface Revenue {
  readonly currency: Currency;
  /** Sum of confirmed orders' totals. */
  readonly confirmed: number;
  readonly captured: number;
  readonly voided: number;
  readonly confirmedOrders: number;
}

/** One event of the flow as analytics counts it. */
export type AnalyticsFact =
  | { readonly type: 'order-placed' }
  | { readonly type: 'order-confirmed'; readonly currency: Currency; readonly amount: number }
  | { readonly type: 'order-rejected'; readonly reason: RejectionReason }
  | { readonly type: 'stock-reserved' | 'stock-reservation-failed' | 'stock-released' }
  | { readonly type: 'payment-authorized' | 'payment-declined' }
  | {
      readonly type: 'payment-captured' | 'payment-voided';
      readonly currency: Currency;
      readonly amount: number;
    }
  | { readonly type: 'fraud-check-passed' | 'fraud-check-failed' }
  | { readonly type: 'notification-sent' }
  | { readonly type: 'points-awarded' };

/** The funnel before any event. */
export const EMPTY_FUNNEL: Funnel = {
  placed: 0,
  stockReserved: 0,
  stockFailed: 0,
  stockReleased: 0,
  paymentAuthorized: 0,
  paymentDeclined: 0,
  paymentCaptured: 0,
  paymentVoided: 0,
  fraudPassed: 0,
  fraudFailed: 0,
  confirmed: 0,
  rejected: { 'out-of-stock': 0, 'payment-declined': 0, 'fraud-suspected': 0, 'decision-timeout': 0 },
  notified: 0,
  pointsAwarded: 0,
};

const COUNTER: Readonly<Record<Exclude<AnalyticsFact['type'], 'order-rejected'>, keyof Funnel>> = {
  'order-placed': 'placed',
  'order-confirmed': 'confirmed',
  'stock-reserved': 'stockReserved',
  'stock-reservation-failed': 'stockFailed',
  'stock-released': 'stockReleased',
  'payment-authorized': 'paymentAuthorized',
  'payment-declined': 'paymentDeclined',
  'payment-captured': 'paymentCaptured',
  'payment-voided': 'paymentVoided',
  'fraud-check-passed': 'fraudPassed',
  'fraud-check-failed': 'fraudFailed',
  'notification-sent': 'notified',
  'points-awarded': 'pointsAwarded',
};

/** The funnel with one more fact counted. */
export function applyToFunnel(funnel: Funnel, fact: AnalyticsFact): Funnel {
  if (fact.type === 'order-rejected') {
    return {
      ...funnel,
      rejected: { ...funnel.rejected, [fact.reason]: (funnel.rejected[fact.reason] ?? 0) + 1 },
    };
  }
  const key = COUNTER[fact.type] as Exclude<keyof Funnel, 'rejected'>;
  return { ...funnel, [key]: funnel[key] + 1 };
}

/** The revenue fact of a fact, if it moves money: which currency's view it changes. */
export function revenueCurrency(fact: AnalyticsFact): Currency | undefined {
  return fact.type === 'order-confirmed' || fact.type === 'payment-captured' || fact.type === 'payment-voided'
    ? fact.currency
    : undefined;
}

/** The revenue of the fact's currency with the fact applied; unchanged for facts that move no money. */
export function applyToRevenue(revenue: Revenue | undefined, fact: AnalyticsFact): Revenue | undefined {
  const currency = revenueCurrency(fact);
  if (currency === undefined) return revenue;
  const current = revenue ?? { currency, confirmed: 0, captured: 0, voided: 0, confirmedOrders: 0 };
  switch (fact.type) {
    case 'order-confirmed':
      return {
        ...current,
        confirmed: current.confirmed + fact.amount,
        confirmedOrders: current.confirmedOrders + 1,
      };
    case 'payment-captured':
      return { ...current, captured: current.captured + fact.amount };
    case 'payment-voided':
      return { ...current, voided: current.voided + fact.amount };
    default:
      return current;
  }
}
