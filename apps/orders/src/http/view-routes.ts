// The shop's read models over HTTP: the catalog, stock levels, loyalty accounts and the analytics
// views, each read from the store of the service that owns it.
import type { Store } from '@herald/core';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Funnel, Revenue } from '@herald/orders-domain/analytics.ts';
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import type { LoyaltyAccount } from '@herald/orders-domain/loyalty.ts';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';
import {
  analyticsSchema,
  catalogSchema,
  customerParamsSchema,
  loyaltyAccountSchema,
  skuParamsSchema,
  stockSchema,
} from '@herald/orders-domain/http/schemas.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { FUNNEL_ID } from '../services/analytics/analytics-service.ts';
import { RATE_LIMITED, jsonResponse, problemResponse } from './openapi.ts';

/** Where each view is read from. */
export interface ViewRoutesOptions {
  /** The orders service's store: the catalog. */
  readonly store: Store;
  /** The store of the service whose view a read serves. */
  readonly storeOf: (service: 'inventory' | 'loyalty' | 'analytics') => Store;
}

/** `GET /catalog`, `GET /inventory/:sku`, `GET /loyalty/:customerId` and `GET /analytics`. */
export const viewRoutes: FastifyPluginAsyncZod<ViewRoutesOptions> = async (app, { store, storeOf }) => {
  const read = (operationId: string, summary: string) =>
    ({ operationId, summary, tags: ['views'], security: [] }) as const;
  const catalog = {
    ...read('getCatalog', 'The catalog'),
    response: { 200: jsonResponse('Items and prices (minor units).', catalogSchema), 429: RATE_LIMITED },
  };
  app.get('/catalog', { schema: catalog }, async () => {
    const items = (await store.list<CatalogItem>(COLLECTIONS.catalog)).map(({ value }) => ({
      sku: value.sku,
      name: value.name,
      prices: value.prices,
    }));
    return { items };
  });

  const inventory = {
    ...read('getStock', 'Stock of one SKU'),
    params: skuParamsSchema,
    response: {
      200: jsonResponse('Units available and reserved.', stockSchema),
      400: problemResponse('A malformed SKU.'),
      404: problemResponse('No such SKU.'),
      429: RATE_LIMITED,
    },
  };
  app.get('/inventory/:sku', { schema: inventory }, async (request) => {
    const { sku } = request.params;
    const level = await storeOf('inventory').get<StockLevel>(COLLECTIONS.stock, sku);
    if (level === undefined) throw new ProblemError(problemOf(404, 'not-found', `no stock for ${sku}`));
    return level;
  });

  const loyalty = {
    ...read('getLoyaltyAccount', "A customer's loyalty points"),
    params: customerParamsSchema,
    response: {
      200: jsonResponse('Points and confirmed orders.', loyaltyAccountSchema),
      400: problemResponse('A malformed customer id.'),
      404: problemResponse('No loyalty account: the customer has no confirmed order yet.'),
      429: RATE_LIMITED,
    },
  };
  app.get('/loyalty/:customerId', { schema: loyalty }, async (request) => {
    const { customerId } = request.params;
    const account = await storeOf('loyalty').get<LoyaltyAccount>(COLLECTIONS.loyaltyAccounts, customerId);
    if (account === undefined)
      throw new ProblemError(problemOf(404, 'not-found', `no loyalty account for ${customerId}`));
    return account;
  });

  const analytics = {
    ...read('getAnalytics', 'The order funnel and revenue per currency'),
    response: { 200: jsonResponse('Counts and sums so far.', analyticsSchema), 429: RATE_LIMITED },
  };
  app.get('/analytics', { schema: analytics }, async () => {
    const funnel = await storeOf('analytics').get<Funnel>(COLLECTIONS.funnel, FUNNEL_ID);
    return {
      funnel: funnel ?? null,
      revenue: (await storeOf('analytics').list<Revenue>(COLLECTIONS.revenue)).map((r) => r.value),
    };
  });
};
