// Stock levels in the store, for the inventory of either order system: seeded once from the
// catalog; read before it reserves, releases or commits an order's lines, and written back in the
// same transaction, so the levels and the reservation change together or not at all.
import type { Store, StoreTransaction } from '@herald/core';
import type { CatalogItem } from './catalog.ts';
import type { StockLevel, StockLine } from './inventory.ts';
import { COLLECTIONS } from './topology.ts';

/** The stored levels of the lines' SKUs; a SKU without stock is absent from the map. */
export async function readStockLevels(
  tx: StoreTransaction,
  lines: readonly StockLine[],
): Promise<Map<string, StockLevel>> {
  const levels = new Map<string, StockLevel>();
  for (const { sku } of lines) {
    const level = await tx.get<StockLevel>(COLLECTIONS.stock, sku);
    if (level !== undefined) levels.set(sku, level);
  }
  return levels;
}

/** Stores each level under its SKU. */
export async function writeStockLevels(tx: StoreTransaction, levels: readonly StockLevel[]): Promise<void> {
  for (const level of levels) await tx.put(COLLECTIONS.stock, level.sku, level);
}

/**
 * Seeds stock from the catalog once per store (the first start); later starts keep the stock
 * as the orders left it. Resolves `true` when it seeded.
 */
export async function seedStock(store: Store, catalog: readonly CatalogItem[]): Promise<boolean> {
  return store.transaction(async (tx) => {
    if ((await tx.get(COLLECTIONS.seeded, 'inventory')) !== undefined) return false;
    for (const item of catalog) {
      const level: StockLevel = { sku: item.sku, available: item.initialStock, reserved: 0 };
      await tx.put(COLLECTIONS.stock, item.sku, level);
    }
    await tx.put(COLLECTIONS.seeded, 'inventory', { at: new Date().toISOString(), items: catalog.length });
    return true;
  });
}
