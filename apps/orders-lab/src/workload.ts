// What the lab orders: a catalog with stock enough for any run (and one SKU that is always out
// of stock), and a deterministic mix of requests. Most orders are confirmed; some are rejected on
// purpose so that every compensation runs under load: a declined card (stock is released), a
// sold-out SKU (the authorization is voided), a blocked country (both). Every request has its own
// customer id, `<run prefix>-<index>`: the fraud velocity rule never fires by accident, and
// reconciliation can match each request with the order the system recorded for it.
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';

/** The SKU nobody can buy: its stock is 0. */
export const SOLD_OUT_SKU = 'LAB-SOLDOUT';

const STOCKED = ['LAB-01', 'LAB-02', 'LAB-03', 'LAB-04', 'LAB-05', 'LAB-06'];

/** The lab's catalog document (`{ items }`, the shape of `catalog.json`). */
export function labCatalog(): { items: CatalogItem[] } {
  return {
    items: [
      ...STOCKED.map((sku, i) => ({
        sku,
        name: `Lab item ${i + 1}`,
        prices: { EUR: 500 + 250 * i, USD: 550 + 275 * i },
        initialStock: 1_000_000_000,
      })),
      { sku: SOLD_OUT_SKU, name: 'Lab item, sold out', prices: { EUR: 1_000, USD: 1_100 }, initialStock: 0 },
    ],
  };
}

/** What request `index` of a run is meant to become. */
export type Intent = 'confirmed' | 'payment-declined' | 'out-of-stock' | 'fraud-suspected';

/** The deterministic mix: of every 100 requests 5 declined, 5 out of stock, 2 fraud, the rest confirmed. */
export function intentOf(index: number): Intent {
  const slot = index % 100;
  if (slot % 20 === 7) return 'payment-declined';
  if (slot % 20 === 13) return 'out-of-stock';
  if (slot === 29 || slot === 79) return 'fraud-suspected';
  return 'confirmed';
}

/** The customer id of request `index` of the run with `prefix`. */
export function customerIdOf(prefix: string, index: number): string {
  return `${prefix}-${index}`;
}

/** Inverse of customerIdOf: the request index, or undefined when the id is not of this run. */
export function indexOfCustomer(prefix: string, customerId: string): number | undefined {
  if (!customerId.startsWith(`${prefix}-`)) return undefined;
  const rest = customerId.slice(prefix.length + 1);
  if (!/^\d{1,9}$/.test(rest)) return undefined;
  return Number(rest);
}

/** The `POST /orders` body of request `index`. */
export function orderBody(prefix: string, index: number): Record<string, unknown> {
  const intent = intentOf(index);
  const lines = 1 + (index % 3);
  const items = Array.from({ length: lines }, (_, line) => ({
    sku: STOCKED[(index + line) % STOCKED.length]!,
    quantity: 1 + ((index + line) % 2),
  }));
  if (intent === 'out-of-stock') items[0] = { sku: SOLD_OUT_SKU, quantity: 1 };
  return {
    customerId: customerIdOf(prefix, index),
    items,
    currency: 'EUR',
    paymentToken: intent === 'payment-declined' ? 'tok_decline' : 'tok_visa',
    shippingCountry: intent === 'fraud-suspected' ? 'KP' : 'DE',
  };
}
