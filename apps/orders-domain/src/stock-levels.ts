// Stock levels in a store transaction: what the inventory of either order system reads before it
// reserves, releases or commits an order's lines, and writes back in the same transaction, so
// the levels and the reservation change together or not at all.
import type { StoreTransaction } from '@herald/core';
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
