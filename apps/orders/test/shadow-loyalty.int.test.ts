// A changed loyalty rule shadowed over a real run's history on the embedded log: the diff names
// exactly the orders the rule changes, and the run writes nothing to the log or the store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventLog } from '@herald/core';
import { doublePointsFrom } from '@herald/orders-domain/loyalty.ts';
import { OrderConfirmed, PointsAwarded, TOPICS } from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import { shadowService } from '@herald/service';
import { shadowLoyaltyExample } from '../examples/shadow-loyalty.ts';
import { loyaltyService } from '../src/services/loyalty/loyalty-service.ts';
import type { OrderSystem } from '../src/system.ts';
import {
  type TempFolder,
  apiOf,
  caughtUp,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';

/** Where the log ends and where every group stands: what a shadow run must leave as it found. */
async function positions(log: EventLog): Promise<string> {
  const lines: string[] = [];
  for (const topic of await log.listTopics()) {
    for (const p of (await log.describeTopic(topic.name)).partitionInfo) {
      lines.push(`${topic.name}/${p.partition} ${p.earliest}-${p.latest}`);
    }
  }
  for (const group of await log.listGroups()) {
    for (const p of (await log.describeGroup(group)).partitions) {
      lines.push(`${group} ${p.topic}/${p.partition} committed ${String(p.committed)}`);
    }
  }
  return lines.sort().join('\n');
}

describe('a shadow run of a changed loyalty rule', { timeout: 120_000 }, () => {
  let folder: TempFolder;
  let system: OrderSystem;
  /** Order ids by customer; `big-*` orders total 50 EUR, the others 10 or 25 EUR. */
  const orders = new Map<string, string[]>();

  before(async () => {
    folder = tempFolder();
    system = await openTestSystem(folder);
    const app = apiOf(system);
    const placed: [string, { sku: string; quantity: number }][] = [
      ['big-1', { sku: 'GADGET', quantity: 2 }],
      ['big-2', { sku: 'WIDGET', quantity: 5 }],
      ['small-1', { sku: 'WIDGET', quantity: 1 }],
      ['small-2', { sku: 'GADGET', quantity: 1 }],
      ['repeat', { sku: 'WIDGET', quantity: 1 }],
      ['repeat', { sku: 'WIDGET', quantity: 2 }],
    ];
    for (const [customerId, item] of placed) {
      const { orderId } = await placeOrder(app, { customerId, items: [item], currency: 'EUR' });
      const view = await settled(app, orderId);
      assert.equal(view.status, 'confirmed', `order of ${customerId} confirmed`);
      orders.set(customerId, [...(orders.get(customerId) ?? []), orderId]);
    }
    await caughtUp(system.log, [GROUPS.loyalty]);
  });
  after(async () => {
    await system.stop();
    folder[Symbol.dispose]();
  });

  it('reports as different exactly the orders the rule changes, the rest the same, and writes nothing', async () => {
    const store = system.storeOf('loyalty');
    const before = {
      positions: await positions(system.log),
      accounts: await store.list(COLLECTIONS.loyaltyAccounts),
      mailbox: await store.list(COLLECTIONS.mailbox),
    };

    const report = await shadowService({
      log: system.log,
      state: store,
      startFrom: 'empty',
      service: loyaltyService({ faults: system.faults, partitions: 1 }, { rule: doublePointsFrom(40) }),
    });

    assert.equal(report.group, GROUPS.loyalty);
    assert.deepEqual(report.outputs, [TOPICS.loyalty]);
    assert.equal(report.handled[OrderConfirmed.type], 6);
    assert.deepEqual(report.effects, { 'points-mail': 6 });
    assert.deepEqual(report.failures, []);
    assert.equal(report.events.length, 1);
    const points = report.events[0];
    assert.equal(points?.type, PointsAwarded.type);
    assert.deepEqual([points.same, points.different, points.new, points.missing], [4, 2, 0, 0]);
    const big = [...(orders.get('big-1') ?? []), ...(orders.get('big-2') ?? [])].sort();
    assert.deepEqual(
      points.samples.different.map((s) => (s.shadow?.data as { orderId: string }).orderId).sort(),
      big,
    );
    for (const sample of points.samples.different) {
      assert.deepEqual(
        [
          (sample.running?.data as { points: number }).points,
          (sample.shadow?.data as { points: number }).points,
        ],
        [50, 100],
      );
    }
    // Rebuilt from empty, the accounts are compared with the current ones: the big spenders differ.
    const accounts = report.state?.find((c) => c.collection === COLLECTIONS.loyaltyAccounts);
    assert.deepEqual(
      accounts && [accounts.same, accounts.different, accounts.new, accounts.removed],
      [3, 2, 0, 0],
    );
    assert.deepEqual(accounts?.samples.map((s) => s.id).sort(), ['big-1', 'big-2']);

    assert.equal(await positions(system.log), before.positions, 'no event appended, no group moved');
    assert.deepEqual(await store.list(COLLECTIONS.loyaltyAccounts), before.accounts, 'accounts unchanged');
    assert.deepEqual(await store.list(COLLECTIONS.mailbox), before.mailbox, 'no mail sent');
  });

  it('reports everything the same for an unchanged rule', async () => {
    const report = await shadowService({
      log: system.log,
      state: system.storeOf('loyalty'),
      startFrom: 'empty',
      service: loyaltyService({ faults: system.faults, partitions: 1 }),
    });
    assert.deepEqual(
      report.events.map((d) => [d.type, d.same, d.different, d.new, d.missing]),
      [[PointsAwarded.type, 6, 0, 0, 0]],
    );
    assert.deepEqual(
      report.state?.map((c) => [c.collection, c.same, c.different, c.new, c.removed]),
      [[COLLECTIONS.loyaltyAccounts, 5, 0, 0, 0]],
    );
  });

  it('ships as a runnable example whose report names the changed events and accounts', async () => {
    const text = await shadowLoyaltyExample();
    const row = (name: string) =>
      text
        .split('\n')
        .find((line) => line.startsWith(name))
        ?.split(/\s+/);
    // ada's first order (50 EUR) and linus's (50 EUR) earn double; ada's second keeps its points
    // but carries the higher balance; grace's is unchanged.
    assert.deepEqual(row(PointsAwarded.type), [PointsAwarded.type, '1', '3', '0', '0'], text);
    assert.deepEqual(
      row(COLLECTIONS.loyaltyAccounts),
      [COLLECTIONS.loyaltyAccounts, '1', '2', '0', '0'],
      text,
    );
    assert.match(text, /effects suppressed: points-mail 4/);
  });
});
