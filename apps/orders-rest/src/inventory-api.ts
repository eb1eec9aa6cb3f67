// The inventory service of the REST baseline: reserve an order's lines (all or none), release
// them (compensation) or commit them (the order was confirmed). Every operation is idempotent per
// order id. A release that arrives before the reservation it undoes (the reserve call timed out
// and is still on its way) leaves a `cancelled` reservation, so the late reserve holds nothing.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '@herald/core';
import {
  type Reservation,
  type Shortage,
  describeShortages,
  reserveStock,
} from '@herald/orders-domain/inventory.ts';
import type { FaultController } from '@herald/orders-domain/faults.ts';
import { commitReservation, releaseReservation } from '@herald/orders-domain/reservations.ts';
import { readStockLevels, writeStockLevels } from '@herald/orders-domain/stock-levels.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { parseBody } from './rest-http.ts';

const reserveBody = z.object({
  orderId: z.string().min(1),
  lines: z.array(z.object({ sku: z.string().min(1), quantity: z.int().min(1) })).min(1),
});

const orderParams = z.object({ orderId: z.string().min(1) });

/** `POST /reservations` answers this; `cancelled` comes with 409 (the order was released first). */
export type ReservationAnswer =
  | { readonly status: 'reserved' | 'released' | 'committed' | 'cancelled' }
  | { readonly status: 'failed'; readonly shortages: readonly Shortage[]; readonly detail: string };

/** A reservation as this service stores it: a failed one keeps its shortages. */
type StoredReservation = Reservation & { readonly shortages?: readonly Shortage[] };

function answerOf(reservation: StoredReservation): ReservationAnswer {
  if (reservation.status === 'failed') {
    const shortages = reservation.shortages ?? [];
    return { status: 'failed', shortages, detail: describeShortages(shortages) };
  }
  return { status: reservation.status };
}

/** Registers the inventory routes. */
export function inventoryApi(
  app: FastifyInstance,
  deps: { readonly store: Store; readonly faults: FaultController },
): void {
  const { store, faults } = deps;

  app.post('/reservations', async (request, reply): Promise<ReservationAnswer> => {
    const { orderId, lines } = parseBody(reserveBody, request.body);
    await faults.perturb('inventory');
    const answer = await store.transaction(async (tx): Promise<ReservationAnswer> => {
      const existing = await tx.get<StoredReservation>(COLLECTIONS.reservations, orderId);
      if (existing !== undefined) return answerOf(existing);
      const outcome = reserveStock(await readStockLevels(tx, lines), lines);
      if (outcome.ok) {
        await writeStockLevels(tx, outcome.levels);
        await tx.put(COLLECTIONS.reservations, orderId, {
          orderId,
          lines,
          status: 'reserved',
        } satisfies Reservation);
        return { status: 'reserved' };
      }
      const shortages = [...outcome.shortages];
      await tx.put(COLLECTIONS.reservations, orderId, { orderId, lines, status: 'failed', shortages });
      return { status: 'failed', shortages, detail: describeShortages(shortages) };
    });
    if (answer.status === 'cancelled') reply.code(409);
    return answer;
  });

  app.post('/reservations/:orderId/release', async (request): Promise<ReservationAnswer> => {
    const { orderId } = parseBody(orderParams, request.params);
    await faults.perturb('inventory');
    return store.transaction(async (tx): Promise<ReservationAnswer> => {
      const reservation = await releaseReservation<StoredReservation>(tx, orderId);
      if (reservation === undefined) return { status: 'cancelled' };
      return reservation.status === 'reserved' ? { status: 'released' } : answerOf(reservation);
    });
  });

  app.post('/reservations/:orderId/commit', async (request, reply): Promise<ReservationAnswer> => {
    const { orderId } = parseBody(orderParams, request.params);
    await faults.perturb('inventory');
    const answer = await store.transaction(async (tx): Promise<ReservationAnswer> => {
      const reservation = await commitReservation<StoredReservation>(tx, orderId);
      if (reservation === undefined) return { status: 'cancelled' };
      return reservation.status === 'reserved' ? { status: 'committed' } : answerOf(reservation);
    });
    if (answer.status !== 'committed') reply.code(409);
    return answer;
  });
}
