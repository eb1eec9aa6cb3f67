// A changed loyalty rule tried out before it ships: the order system runs a few orders on an
// embedded log in a temporary folder, then the loyalty service with "double points from 40 EUR"
// is shadowed over that history. Nothing is written; the report says which PointsAwarded events
// and which accounts the new rule would change.
//
//   ./node_modules/.bin/node apps/orders/examples/shadow-loyalty.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatShadowReport } from '@herald/core/ops';
import { doublePointsFrom } from '@herald/orders-domain/loyalty.ts';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import { shadowService } from '@herald/service';
import { loyaltyService } from '../src/services/loyalty/loyalty-service.ts';
import { openOrderSystem } from '../src/system.ts';

const ORDERS = [
  { customerId: 'ada', items: [{ sku: 'WIDGET', quantity: 5 }] },
  { customerId: 'grace', items: [{ sku: 'WIDGET', quantity: 1 }] },
  { customerId: 'ada', items: [{ sku: 'WIDGET', quantity: 2 }] },
  { customerId: 'linus', items: [{ sku: 'GADGET', quantity: 2 }] },
];

/** Runs the example and returns the report as text. */
export async function shadowLoyaltyExample(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-shadow-'));
  try {
    const system = await openOrderSystem({
      logUrl: `sqlite:${join(dir, 'herald.db')}`,
      catalog: [
        { sku: 'WIDGET', name: 'Widget', prices: { EUR: 1000 }, initialStock: 100 },
        { sku: 'GADGET', name: 'Gadget', prices: { EUR: 2500 }, initialStock: 100 },
      ],
      http: { adminToken: 'example-admin-token-0123456789', rateLimit: { perSecond: 0, burst: 0 } },
    });
    try {
      const app = system.api?.app;
      if (app === undefined) throw new Error('the order system runs no API');
      for (const order of ORDERS) {
        const response = await app.inject({
          method: 'POST',
          url: '/orders',
          payload: { ...order, currency: 'EUR' },
        });
        if (response.statusCode !== 202) throw new Error(`order refused: ${response.body}`);
      }
      // The running loyalty version has handled every confirmed order once its group has no lag
      // and every order is confirmed.
      for (;;) {
        const { partitions } = await system.log.describeGroup(GROUPS.loyalty);
        const accounts = await system.storeOf('loyalty').list<{ orders: number }>('loyalty.accounts');
        const counted = accounts.reduce((sum, { value }) => sum + value.orders, 0);
        if (counted === ORDERS.length && partitions.every((p) => p.lag === 0)) break;
        await sleep(50);
      }
      const report = await shadowService({
        log: system.log,
        state: system.storeOf('loyalty'),
        startFrom: 'empty',
        service: loyaltyService({ faults: system.faults, partitions: 1 }, { rule: doublePointsFrom(40) }),
      });
      return formatShadowReport(report);
    } finally {
      await system.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(await shadowLoyaltyExample());
