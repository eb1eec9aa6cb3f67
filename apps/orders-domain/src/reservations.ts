// An order's reservation settled in a store transaction, for the inventory of either order
// system: its stock given back (the order was rejected) or let go (it was confirmed), the levels
// and the reservation changed together. Only a `reserved` reservation moves, so a settlement
// that arrives again (a redelivery, a retried call) changes nothing.
import type { StoreTransaction } from '@herald/core';
import { type Reservation, commitStock, releaseStock } from './inventory.ts';
import { readStockLevels, writeStockLevels } from './stock-levels.ts';
import { COLLECTIONS } from './topology.ts';

/**
 * Gives the stock an order holds back and marks its reservation `released`. With no
 * reservation yet (the reserve is still on its way), records the order `cancelled`, so the late
 * reserve holds nothing. Resolves the reservation as it was before; it was released only if
 * that one was `reserved`.
 *
 * @example
 * const before = await releaseReservation(tx, orderId);
 * if (before?.status === 'reserved') await announceRelease(tx, before);
 */
export async function releaseReservation<R extends Reservation = Reservation>(
  tx: StoreTransaction,
  orderId: string,
): Promise<R | undefined> {
  const reservation = await tx.get<R>(COLLECTIONS.reservations, orderId);
  if (reservation === undefined) {
    await tx.put(COLLECTIONS.reservations, orderId, {
      orderId,
      lines: [],
      status: 'cancelled',
    } satisfies Reservation);
    return undefined;
  }
  if (reservation.status !== 'reserved') return reservation;
  await writeStockLevels(tx, releaseStock(await readStockLevels(tx, reservation.lines), reservation.lines));
  await tx.put(COLLECTIONS.reservations, orderId, { ...reservation, status: 'released' });
  return reservation;
}

/**
 * Lets the stock an order holds go (it is sold) and marks its reservation `committed`. Resolves
 * the reservation as it was before; it was committed only if that one was `reserved`, and
 * nothing is written when there is none.
 */
export async function commitReservation<R extends Reservation = Reservation>(
  tx: StoreTransaction,
  orderId: string,
): Promise<R | undefined> {
  const reservation = await tx.get<R>(COLLECTIONS.reservations, orderId);
  if (reservation?.status !== 'reserved') return reservation;
  await writeStockLevels(tx, commitStock(await readStockLevels(tx, reservation.lines), reservation.lines));
  await tx.put(COLLECTIONS.reservations, orderId, { ...reservation, status: 'committed' });
  return reservation;
}
