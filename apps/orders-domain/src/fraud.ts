// Fraud rules. Each rule says whether the order passed it and why, in words a support agent can
// read back to a customer; an order passes when every rule passes. Time comes from the order
// (`placedAt`), never from the clock, so a replay reaches the same verdicts.
import { type Currency, formatMoney } from './money.ts';

export type FraudRule = 'order-total' | 'order-velocity' | 'blocked-country';

/** The thresholds the rules apply; configurable per deployment. */
export interface FraudRules {
  /** Highest order total per currency, in minor units; a currency without one has no limit. */
  readonly maxOrderTotal: Readonly<Partial<Record<Currency, number>>>;
  /** Most orders one customer may place within one minute, this one included. */
  readonly maxOrdersPerMinute: number;
  /** ISO 3166-1 alpha-2 codes the shop does not ship to. */
  readonly blockedCountries: readonly string[];
}

/** Limits of about 5000 in each currency, 5 orders a minute, no shipping to KP. */
export const DEFAULT_FRAUD_RULES: FraudRules = {
  maxOrderTotal: { EUR: 500_000, USD: 500_000, GBP: 450_000, CHF: 500_000, JPY: 80_000_000 },
  maxOrdersPerMinute: 5,
  blockedCountries: ['KP'],
};

/** What the rules look at: the order's total, customer, destination and time. */
export interface FraudInput {
  readonly orderId: string;
  readonly customerId: string;
  readonly total: number;
  readonly currency: Currency;
  readonly shippingCountry: string | null;
  /** RFC 3339. */
  readonly placedAt: string;
}

/** Recent orders of one customer (the last minute is all the velocity rule needs). */
export interface CustomerHistory {
  readonly orders: readonly { readonly orderId: string; readonly at: number }[];
}

/** One rule's verdict and its explanation. */
export interface RuleOutcome {
  readonly rule: FraudRule;
  readonly passed: boolean;
  readonly explanation: string;
}

/** All rules' verdicts on one order. */
export interface FraudAssessment {
  readonly passed: boolean;
  readonly rules: readonly RuleOutcome[];
  /** The customer's history with this order added (once, however often it is assessed). */
  readonly history: CustomerHistory;
}

const MINUTE_MS = 60_000;

/** Assesses one order against every rule. */
export function assessFraud(input: FraudInput, history: CustomerHistory, rules: FraudRules): FraudAssessment {
  const at = Date.parse(input.placedAt);
  const others = history.orders.filter((o) => o.orderId !== input.orderId);
  const recent = others.filter((o) => o.at > at - MINUTE_MS && o.at <= at);
  const outcomes: RuleOutcome[] = [];

  const limit = rules.maxOrderTotal[input.currency];
  outcomes.push(
    limit === undefined || input.total <= limit
      ? {
          rule: 'order-total',
          passed: true,
          explanation:
            limit === undefined
              ? `no limit for ${input.currency}`
              : `total ${formatMoney(input.total, input.currency)} is within the limit of ${formatMoney(limit, input.currency)}`,
        }
      : {
          rule: 'order-total',
          passed: false,
          explanation: `total ${formatMoney(input.total, input.currency)} is above the limit of ${formatMoney(limit, input.currency)}`,
        },
  );

  const count = recent.length + 1;
  outcomes.push({
    rule: 'order-velocity',
    passed: count <= rules.maxOrdersPerMinute,
    explanation:
      count <= rules.maxOrdersPerMinute
        ? `${count} order(s) by ${input.customerId} within a minute, at most ${rules.maxOrdersPerMinute} allowed`
        : `${count} orders by ${input.customerId} within a minute, more than the ${rules.maxOrdersPerMinute} allowed`,
  });

  const country = input.shippingCountry;
  const blocked = country !== null && rules.blockedCountries.includes(country);
  outcomes.push({
    rule: 'blocked-country',
    passed: !blocked,
    explanation:
      country === null
        ? 'no shipping country given'
        : blocked
          ? `the shop does not ship to ${country}`
          : `shipping to ${country} is allowed`,
  });

  const kept = others.filter((o) => o.at > at - MINUTE_MS);
  return {
    passed: outcomes.every((o) => o.passed),
    rules: outcomes,
    history: { orders: [...kept, { orderId: input.orderId, at }].sort((a, b) => a.at - b.at) },
  };
}

/** The failed rules' explanations, joined: what `FraudCheckFailed` gives as its detail. */
export function explainFailure(rules: readonly RuleOutcome[]): string {
  return rules
    .filter((r) => !r.passed)
    .map((r) => `${r.rule}: ${r.explanation}`)
    .join('; ');
}
