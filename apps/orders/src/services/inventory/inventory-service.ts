// Inventory: owns stock per SKU and the reservation of each order. Reserves all lines of a
// placed order or none; releases them when the order is rejected (compensation); lets them go
// when it is confirmed.
import { createProducer } from '@herald/core';
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';
import { type Reservation, describeShortages, reserveStock } from '@herald/orders-domain/inventory.ts';
import {
  OrderConfirmed,
  OrderPlaced,
  OrderRejected,
  StockReleased,
  StockReservationFailed,
  StockReserved,
  TOPICS,
  eventIdOf,
} from '@herald/orders-domain/events.ts';
import { commitReservation, releaseReservation } from '@herald/orders-domain/reservations.ts';
import { readStockLevels, seedStock, writeStockLevels } from '@herald/orders-domain/stock-levels.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { type ServiceDefinition, defineService } from '@herald/service';
import { type FlowDeps, outageOf, produced, withFaults } from '../flow.ts';

const SOURCE = '/inventory';

/** The inventory service: group `inventory.reservations` on topic `orders`. */
export function inventoryService(
  deps: FlowDeps,
  options: { readonly catalog: readonly CatalogItem[] },
): ServiceDefinition {
  return defineService({
    name: 'inventory',
    group: GROUPS.inventory,
    consumes: [TOPICS.orders],
    produces: produced(deps, TOPICS.inventory),
    middleware: withFaults(deps.faults, 'inventory'),
    pause: outageOf(deps.faults, 'inventory'),
    async prepare(context) {
      const { store } = context;
      if (await seedStock(store, options.catalog)) {
        context.logger.info(`inventory: seeded stock of ${options.catalog.length} SKUs from the catalog`);
      }
    },
    handlers(router, context) {
      const { log } = context;
      const events = createProducer({ sink: log, source: SOURCE });

      router.on(OrderPlaced, async (order, _event, ctx) => {
        const lines = order.items.map(({ sku, quantity }) => ({ sku, quantity }));
        const key = order.orderId;
        await ctx.transaction(async (tx) => {
          // A reservation exists only if this order was handled under another event id: leave it.
          if ((await tx.get(COLLECTIONS.reservations, key)) !== undefined) return;
          const outcome = reserveStock(await readStockLevels(tx, lines), lines);
          if (outcome.ok) {
            await writeStockLevels(tx, outcome.levels);
            await tx.put(COLLECTIONS.reservations, key, {
              orderId: key,
              lines,
              status: 'reserved',
            } satisfies Reservation);
            await events
              .within(tx)
              .publish(
                TOPICS.inventory,
                StockReserved,
                { orderId: key, lines },
                { key, id: eventIdOf(key, 'stock-reserved') },
              );
          } else {
            await tx.put(COLLECTIONS.reservations, key, {
              orderId: key,
              lines,
              status: 'failed',
            } satisfies Reservation);
            await events.within(tx).publish(
              TOPICS.inventory,
              StockReservationFailed,
              {
                orderId: key,
                shortages: [...outcome.shortages],
                detail: describeShortages(outcome.shortages),
              },
              { key, id: eventIdOf(key, 'stock-reservation-failed') },
            );
          }
        });
      });

      // Compensation. OrderRejected comes after OrderPlaced in the same partition (same key), so
      // the reservation it undoes is always decided by then.
      router.on(OrderRejected, async ({ orderId }, _event, ctx) => {
        await ctx.transaction(async (tx) => {
          const reservation = await releaseReservation(tx, orderId);
          if (reservation?.status !== 'reserved') return;
          await events
            .within(tx)
            .publish(
              TOPICS.inventory,
              StockReleased,
              { orderId, lines: [...reservation.lines] },
              { key: orderId, id: eventIdOf(orderId, 'stock-released') },
            );
        });
      });

      router.on(OrderConfirmed, async ({ orderId }, _event, ctx) => {
        await ctx.transaction((tx) => commitReservation(tx, orderId));
      });
    },
  });
}
