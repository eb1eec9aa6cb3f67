// Loyalty points: one point per whole major unit of a confirmed order's total.
import { type Currency, majorUnits } from './money.ts';

/** A customer's points and how many confirmed orders earned them. */
export interface LoyaltyAccount {
  readonly customerId: string;
  readonly points: number;
  readonly orders: number;
}

/** Points an order earns: 1 per whole major unit (19.99 EUR → 19, 500 JPY → 500). */
export function pointsFor(total: number, currency: Currency): number {
  return majorUnits(total, currency);
}

/** How many points an order of `total` (minor units) in `currency` earns. */
export type PointsRule = (total: number, currency: Currency) => number;

/**
 * A changed rule to try out before it ships (a shadow run shows what it would change): double
 * points for orders of at least `threshold` whole major units, the usual points below it.
 */
export function doublePointsFrom(threshold: number): PointsRule {
  return (total, currency) => {
    const points = pointsFor(total, currency);
    return majorUnits(total, currency) >= threshold ? points * 2 : points;
  };
}

/** The account after a confirmed order, and the points it earned (by `rule`, default {@link pointsFor}). */
export function awardPoints(
  account: LoyaltyAccount | undefined,
  customerId: string,
  total: number,
  currency: Currency,
  rule: PointsRule = pointsFor,
): { readonly account: LoyaltyAccount; readonly points: number } {
  const points = rule(total, currency);
  const current = account ?? { customerId, points: 0, orders: 0 };
  return { account: { customerId, points: current.points + points, orders: current.orders + 1 }, points };
}
