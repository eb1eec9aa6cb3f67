import { createHash } from 'node:crypto';
import type { CatalogItem } from './catalog.ts';
import { type Currency, lineTotal, sumAmounts } from './money.ts';

/** The payment token used when an order names none: a card the simulated gateway approves. */
export const DEFAULT_PAYMENT_TOKEN = 'tok_visa';

/** What a customer asks for. Prices are not part of it: they come from the catalog. */
export interface OrderRequest {
  readonly customerId: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
  readonly currency: Currency;
  readonly paymentToken: string;
  readonly shippingCountry: string | null;
}

/**
 * A digest of what a request asks for: two requests with equal digests are the same request, so
 * a retry under the same Idempotency-Key gets the first answer and another request under it is
 * refused. (Not core's `fingerprintOf`, which digests a stored event.)
 */
export function orderRequestFingerprint(request: OrderRequest): string {
  const canonical = JSON.stringify([
    request.customerId,
    request.items.map((i) => [i.sku, i.quantity]),
    request.currency,
    request.paymentToken,
    request.shippingCountry,
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/** One priced line of an order. Amounts in minor units of the order's currency. */
export interface OrderLine {
  readonly sku: string;
  readonly name: string;
  readonly quantity: number;
  readonly unitPrice: number;
  readonly lineTotal: number;
}

/** An accepted order, exactly as `OrderPlaced` carries it. */
export interface PlacedOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly currency: Currency;
  readonly items: readonly OrderLine[];
  readonly total: number;
  readonly paymentToken: string;
  readonly shippingCountry: string | null;
  /** RFC 3339. */
  readonly placedAt: string;
}

/** Why a well-formed request cannot become an order. */
export interface OrderProblem {
  readonly code: 'unknown-sku' | 'duplicate-sku' | 'not-sold-in-currency' | 'total-out-of-range';
  /** Where in the request, as a JSON pointer (`/items/2/sku`). */
  readonly pointer: string;
  readonly detail: string;
}

/** The placed order, or every reason it cannot be placed. */
export type OrderResult =
  | { readonly ok: true; readonly order: PlacedOrder }
  | { readonly ok: false; readonly problems: readonly OrderProblem[] };

/**
 * Prices a request against the catalog and builds the order. Every line names a catalog SKU sold
 * in the order's currency, each SKU once; the total is the sum of `unitPrice × quantity` and must
 * stay a safe integer. All problems are reported, not only the first.
 */
export function createOrder(
  request: OrderRequest,
  catalog: ReadonlyMap<string, CatalogItem>,
  identity: { readonly orderId: string; readonly placedAt: string },
): OrderResult {
  const problems: OrderProblem[] = [];
  const lines: OrderLine[] = [];
  const seen = new Set<string>();
  request.items.forEach((line, index) => {
    const pointer = `/items/${index}`;
    if (seen.has(line.sku)) {
      problems.push({
        code: 'duplicate-sku',
        pointer: `${pointer}/sku`,
        detail: `sku ${line.sku} appears in more than one line; put its whole quantity in one line`,
      });
      return;
    }
    seen.add(line.sku);
    const item = catalog.get(line.sku);
    if (item === undefined) {
      problems.push({
        code: 'unknown-sku',
        pointer: `${pointer}/sku`,
        detail: `sku ${line.sku} is not in the catalog`,
      });
      return;
    }
    const unitPrice = item.prices[request.currency];
    if (unitPrice === undefined) {
      problems.push({
        code: 'not-sold-in-currency',
        pointer: `${pointer}/sku`,
        detail: `sku ${line.sku} is not sold in ${request.currency}`,
      });
      return;
    }
    const total = lineTotal(unitPrice, line.quantity);
    if (total === undefined) {
      problems.push({
        code: 'total-out-of-range',
        pointer: `${pointer}/quantity`,
        detail: `the line total of ${line.sku} is too large`,
      });
      return;
    }
    lines.push({ sku: item.sku, name: item.name, quantity: line.quantity, unitPrice, lineTotal: total });
  });
  const total = sumAmounts(lines.map((l) => l.lineTotal));
  if (total === undefined) {
    problems.push({ code: 'total-out-of-range', pointer: '/items', detail: 'the order total is too large' });
  }
  if (problems.length > 0 || total === undefined) return { ok: false, problems };
  return {
    ok: true,
    order: {
      orderId: identity.orderId,
      customerId: request.customerId,
      currency: request.currency,
      items: lines,
      total,
      paymentToken: request.paymentToken,
      shippingCountry: request.shippingCountry,
      placedAt: identity.placedAt,
    },
  };
}
