import { z } from 'zod';
import { CURRENCIES, type Currency } from './money.ts';

/** Stock keeping unit: upper-case letters, digits and dashes, starting with a letter or digit. */
export const SKU_PATTERN = /^[A-Z0-9][A-Z0-9-]{0,31}$/;

/** Highest unit price the catalog accepts, in minor units (keeps every order total a safe integer). */
export const MAX_UNIT_PRICE = 100_000_000;

/** One product: its price in each currency it is sold in, and the stock seeded on first start. */
export interface CatalogItem {
  readonly sku: string;
  readonly name: string;
  /** Minor units per currency; a currency without a price cannot be used to buy this item. */
  readonly prices: Readonly<Partial<Record<Currency, number>>>;
  readonly initialStock: number;
}

const priceSchema = z.int().min(1).max(MAX_UNIT_PRICE);

const catalogSchema = z.strictObject({
  items: z
    .array(
      z.strictObject({
        sku: z.string().regex(SKU_PATTERN),
        name: z.string().min(1).max(200),
        prices: z.partialRecord(z.enum(CURRENCIES), priceSchema),
        initialStock: z.int().min(0).max(1_000_000_000),
      }),
    )
    .min(1)
    .max(10_000),
});

/**
 * Validates a catalog document (`{ items: [...] }`, the shape of `catalog.json`). Throws an Error
 * naming every problem: a shop must not start with a catalog it misreads. SKUs must be unique and
 * every item needs at least one price.
 */
export function parseCatalog(value: unknown): CatalogItem[] {
  const result = catalogSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid catalog: ${problems.join('; ')}`);
  }
  const seen = new Set<string>();
  const items: CatalogItem[] = [];
  for (const item of result.data.items) {
    if (seen.has(item.sku)) throw new Error(`invalid catalog: sku ${item.sku} appears twice`);
    seen.add(item.sku);
    const prices: Partial<Record<Currency, number>> = {};
    for (const currency of CURRENCIES) {
      const price = item.prices[currency];
      if (price !== undefined) prices[currency] = price;
    }
    if (Object.keys(prices).length === 0) throw new Error(`invalid catalog: sku ${item.sku} has no price`);
    items.push({ sku: item.sku, name: item.name, prices, initialStock: item.initialStock });
  }
  return items;
}

/** The catalog indexed by SKU. */
export function indexCatalog(items: readonly CatalogItem[]): ReadonlyMap<string, CatalogItem> {
  return new Map(items.map((item) => [item.sku, item]));
}
