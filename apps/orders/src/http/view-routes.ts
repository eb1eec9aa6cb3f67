// The shop's read models over HTTP: the catalog, stock levels, loyalty accounts and the analytics
// views, each read from the store of the service that owns it.
import type { Store } from '@herald/core';
import type { FastifyPluginAsync } from 'fastify';
import type { Funnel, Revenue } from '@herald/orders-domain/analytics.ts';
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import type { LoyaltyAccount } from '@herald/orders-domain/loyalty.ts';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';
import { customerParamsSchema, skuParamsSchema } from '@herald/orders-domain/http/schemas.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { FUNNEL_ID } from '../services/analytics/analytics-service.ts';
import { validate } from './validate.ts';

/** Where each view is read from. */
export interface ViewRoutesOptions {
  /** The orders service's store: the catalog. */
  readonly store: Store;
  /** The store of the service whose view a read serves. */
  readonly storeOf: (service: 'inventory' | 'loyalty' | 'analytics') => Store;
}

/** `GET /catalog`, `GET /inventory/:sku`, `GET /loyalty/:customerId` and `GET /analytics`. */
export const viewRoutes: FastifyPluginAsync<ViewRoutesOptions> = async (app, { store, storeOf }) => {
  app.get('/catalog', async () => {
    const items = (await store.list<CatalogItem>(COLLECTIONS.catalog)).map(({ value }) => ({
      sku: value.sku,
      name: value.name,
      prices: value.prices,
    }));
    return { items };
  });

  app.get('/inventory/:sku', async (request) => {
    const { sku } = validate(skuParamsSchema, request.params, 400, 'invalid-parameter');
    const level = await storeOf('inventory').get<StockLevel>(COLLECTIONS.stock, sku);
    if (level === undefined) throw new ProblemError(problemOf(404, 'not-found', `no stock for ${sku}`));
    return level;
  });

  app.get('/loyalty/:customerId', async (request) => {
    const { customerId } = validate(customerParamsSchema, request.params, 400, 'invalid-parameter');
    const account = await storeOf('loyalty').get<LoyaltyAccount>(COLLECTIONS.loyaltyAccounts, customerId);
    if (account === undefined)
      throw new ProblemError(problemOf(404, 'not-found', `no loyalty account for ${customerId}`));
    return account;
  });

  app.get('/analytics', async () => ({
    funnel: (await storeOf('analytics').get<Funnel>(COLLECTIONS.funnel, FUNNEL_ID)) ?? null,
    revenue: (await storeOf('analytics').list<Revenue>(COLLECTIONS.revenue)).map((r) => r.value),
  }));
};
