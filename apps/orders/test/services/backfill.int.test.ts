// Loyalty and analytics are consumers added later, without a change to any producer. Started on
// a log with history, they backfill from the beginning: their views must equal those of a run
// where they were there from the start, and their side effects (the points e-mail) must not
// fire for history — while nothing else fires again either. F12 for the order system.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OrderSystem } from '../../src/system.ts';
import { COLLECTIONS, GROUPS, SERVICES } from '@herald/orders-domain/topology.ts';
import {
  type OrderBody,
  apiOf,
  caughtUp,
  mailboxOf,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from '../fixtures/order-system.ts';

/** Placed in this order, each settled before the next: the same outcomes in every run. */
const ORDERS: OrderBody[] = [
  { customerId: 'c1', items: [{ sku: 'WIDGET', quantity: 3 }] },
  {
    customerId: 'c2',
    items: [
      { sku: 'GADGET', quantity: 1 },
      { sku: 'WIDGET', quantity: 1 },
    ],
  },
  { customerId: 'c3', items: [{ sku: 'WIDGET', quantity: 2 }], currency: 'USD' },
  { customerId: 'c1', items: [{ sku: 'GADGET', quantity: 2 }] },
  { customerId: 'c4', items: [{ sku: 'RARE', quantity: 3 }] },
  { customerId: 'c5', items: [{ sku: 'WIDGET', quantity: 1 }], paymentToken: 'tok_decline' },
  { customerId: 'c6', items: [{ sku: 'WIDGET', quantity: 1 }], shippingCountry: 'KP' },
  { customerId: 'c2', items: [{ sku: 'RARE', quantity: 1 }] },
];
const CONFIRMED = 5;

const WITHOUT_ADDED = SERVICES.filter((s) => s !== 'loyalty' && s !== 'analytics');

async function placeAll(system: OrderSystem): Promise<void> {
  const app = apiOf(system);
  for (const body of ORDERS) {
    const { orderId } = await placeOrder(app, body);
    await settled(app, orderId);
  }
}

async function addedViews(system: OrderSystem) {
  // Loyalty emits PointsAwarded, which analytics counts: loyalty first, then analytics is final.
  await caughtUp(system.log, [GROUPS.loyalty]);
  await caughtUp(system.log, [GROUPS.analytics]);
  return {
    loyalty: await system.store.list(COLLECTIONS.loyaltyAccounts),
    funnel: await system.store.list(COLLECTIONS.funnel),
    revenue: await system.store.list(COLLECTIONS.revenue),
  };
}

const kinds = async (system: OrderSystem) => (await mailboxOf(system)).map((m) => m.kind);

describe('loyalty and analytics added later', { timeout: 60_000 }, () => {
  it('backfill to the same views as a from-the-start run, without repeating any side effect', async () => {
    // A: loyalty and analytics run from the start.
    using folderA = tempFolder();
    const a = await openTestSystem(folderA);
    let fromTheStart;
    try {
      await placeAll(a);
      fromTheStart = await addedViews(a);
      assert.equal((await kinds(a)).filter((k) => k === 'points-awarded').length, CONFIRMED);
    } finally {
      await a.stop();
    }
    assert.equal(fromTheStart.loyalty.length, 3, 'c1, c2, c3 earned points');
    assert.ok(fromTheStart.funnel.length === 1 && fromTheStart.revenue.length === 2);

    // B: the same history without them; then they are added, producers unchanged.
    using folderB = tempFolder();
    const before = await openTestSystem(folderB, { services: WITHOUT_ADDED });
    let mailBefore;
    let gatewayBefore;
    try {
      await placeAll(before);
      assert.deepEqual((await before.log.describeGroup(GROUPS.loyalty)).partitions, [], 'loyalty never ran');
      mailBefore = await before.store.list(COLLECTIONS.mailbox);
      gatewayBefore = await before.store.list(COLLECTIONS.gateway);
    } finally {
      await before.stop();
    }

    const added = await openTestSystem(folderB);
    try {
      const backfilled = await addedViews(added);
      assert.deepEqual(
        backfilled,
        fromTheStart,
        'the same points, funnel and revenue as the run from the start',
      );
      assert.deepEqual(
        await added.store.list(COLLECTIONS.mailbox),
        mailBefore,
        'no points e-mail for history, and no other message sent again',
      );
      assert.deepEqual(await added.store.list(COLLECTIONS.gateway), gatewayBefore, 'nobody charged again');

      // Once caught up, loyalty is live: a new confirmed order gets its e-mail.
      const app = apiOf(added);
      const { orderId } = await placeOrder(app, {
        customerId: 'c7',
        items: [{ sku: 'WIDGET', quantity: 1 }],
      });
      await settled(app, orderId);
      await caughtUp(added.log, [GROUPS.loyalty]);
      const points = (await mailboxOf(added)).filter((m) => m.kind === 'points-awarded');
      assert.deepEqual(
        points.map((m) => m.orderId),
        [orderId],
      );
    } finally {
      await added.stop();
    }
  });
});
