// The orders service's consumers: the saga (decides each order) and the view (what GET serves).
// Its API, in `src/http`, uses OrderPlacement and OrderQueries on the same store.
import type { Store } from '@herald/core';
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { type ServiceDefinition, combineServices } from '@herald/service';
import type { FlowDeps } from '../flow.ts';
import { orderProjection } from './order-projection.ts';
import { orderSaga } from './order-saga.ts';
import type { ViewChanges } from './view-changes.ts';

/** Seeds the catalog once per store (the first start); later starts keep what the store has. */
export async function seedCatalog(store: Store, catalog: readonly CatalogItem[]): Promise<boolean> {
  return store.transaction(async (tx) => {
    if ((await tx.get(COLLECTIONS.seeded, 'orders')) !== undefined) return false;
    for (const item of catalog) await tx.put(COLLECTIONS.catalog, item.sku, item);
    await tx.put(COLLECTIONS.seeded, 'orders', { at: new Date().toISOString(), items: catalog.length });
    return true;
  });
}

/** The catalog the API prices orders from: what the store holds. */
export async function readCatalog(store: Store): Promise<CatalogItem[]> {
  return (await store.list<CatalogItem>(COLLECTIONS.catalog)).map((r) => r.value);
}

/** The orders service's consumers (the saga and the view), and its catalog seeding. */
export function ordersService(
  deps: FlowDeps,
  options: {
    readonly catalog: readonly CatalogItem[];
    readonly changes: ViewChanges;
    /** See `OrderSagaOptions.decisionTimeoutMs`. */
    readonly decisionTimeoutMs?: number;
  },
): ServiceDefinition {
  const saga = orderSaga(deps, {
    ...(options.decisionTimeoutMs === undefined ? {} : { decisionTimeoutMs: options.decisionTimeoutMs }),
    prepare: async (context) => {
      if (await seedCatalog(context.store, options.catalog)) {
        context.logger.info(`orders: seeded the catalog with ${options.catalog.length} items`);
      }
    },
  });
  return combineServices('orders', [saga, orderProjection(options.changes)]);
}
