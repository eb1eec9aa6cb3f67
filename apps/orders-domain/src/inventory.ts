// Stock per SKU and reservations. Reserving is all or none: an order either holds every line
// it asked for, or nothing at all.

/** Stock of one SKU: `available` can be reserved; `reserved` is held for orders not yet final. */
export interface StockLevel {
  readonly sku: string;
  readonly available: number;
  readonly reserved: number;
}

export interface StockLine {
  readonly sku: string;
  readonly quantity: number;
}

/** What inventory keeps per order. */
export interface Reservation {
  readonly orderId: string;
  readonly lines: readonly StockLine[];
  readonly status: 'reserved' | 'failed' | 'released' | 'committed' | 'cancelled';
}

/** A line that could not be reserved, with what was there. */
export interface Shortage {
  readonly sku: string;
  readonly requested: number;
  readonly available: number;
}

/** All lines reserved (the new levels), or none (every shortage). */
export type ReservationOutcome =
  | { readonly ok: true; readonly levels: readonly StockLevel[] }
  | { readonly ok: false; readonly shortages: readonly Shortage[] };

/**
 * Reserves every line or none. `levels` holds the current stock of the SKUs involved (a SKU
 * missing from it has none). On success the new levels of every SKU touched are returned; on
 * failure nothing changes and every short line is listed.
 */
export function reserveStock(
  levels: ReadonlyMap<string, StockLevel>,
  lines: readonly StockLine[],
): ReservationOutcome {
  const next = new Map<string, StockLevel>();
  const shortages: Shortage[] = [];
  for (const line of lines) {
    const current = next.get(line.sku) ??
      levels.get(line.sku) ?? { sku: line.sku, available: 0, reserved: 0 };
    if (current.available < line.quantity) {
      shortages.push({ sku: line.sku, requested: line.quantity, available: current.available });
      continue;
    }
    next.set(line.sku, {
      sku: line.sku,
      available: current.available - line.quantity,
      reserved: current.reserved + line.quantity,
    });
  }
  return shortages.length > 0 ? { ok: false, shortages } : { ok: true, levels: [...next.values()] };
}

/** Gives reserved lines back (a compensation): the new levels of every SKU touched. */
export function releaseStock(
  levels: ReadonlyMap<string, StockLevel>,
  lines: readonly StockLine[],
): StockLevel[] {
  return moveReserved(levels, lines, (level, quantity) => ({
    sku: level.sku,
    available: level.available + quantity,
    reserved: Math.max(0, level.reserved - quantity),
  }));
}

/** Reserved lines leave the shop (the order was confirmed): the new levels of every SKU touched. */
export function commitStock(
  levels: ReadonlyMap<string, StockLevel>,
  lines: readonly StockLine[],
): StockLevel[] {
  return moveReserved(levels, lines, (level, quantity) => ({
    sku: level.sku,
    available: level.available,
    reserved: Math.max(0, level.reserved - quantity),
  }));
}

function moveReserved(
  levels: ReadonlyMap<string, StockLevel>,
  lines: readonly StockLine[],
  move: (level: StockLevel, quantity: number) => StockLevel,
): StockLevel[] {
  const next = new Map<string, StockLevel>();
  for (const line of lines) {
    const current = next.get(line.sku) ??
      levels.get(line.sku) ?? { sku: line.sku, available: 0, reserved: 0 };
    next.set(line.sku, move(current, line.quantity));
  }
  return [...next.values()];
}

/** A short explanation of shortages for people: `"LAMP: 5 requested, 2 available"`. */
export function describeShortages(shortages: readonly Shortage[]): string {
  return shortages.map((s) => `${s.sku}: ${s.requested} requested, ${s.available} available`).join('; ');
}
