// Saga timeouts on a real SQLite file: an order with no decision within the decision timeout is
// rejected (`decision-timeout`) by the saga's durable timer and compensated like any rejection;
// a step that answers after the timeout has its effect compensated too; an order decided in time
// leaves no timer behind. The timeout is the system's own setting (1.5 s here), not a test wait.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pendingTimers } from '@herald/core';
import { TOPICS } from '@herald/orders-domain/events.ts';
import type { GatewayEntry } from '@herald/orders-domain/payment.ts';
import type { SagaState } from '@herald/orders-domain/saga.ts';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import type { OrderSystem } from '../src/system.ts';
import {
  type TempFolder,
  apiOf,
  caughtUp,
  eventNamesOf,
  eventually,
  getOrder,
  mailboxOf,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';

const DECISION_TIMEOUT_MS = 1_500;
const FLOW_TOPICS = [TOPICS.orders, TOPICS.inventory, TOPICS.payments, TOPICS.fraud, TOPICS.notifications];

void describe('saga timeouts in the order system', { timeout: 90_000 }, () => {
  let folder: TempFolder;
  let system: OrderSystem;

  before(async () => {
    folder = tempFolder();
    system = await openTestSystem(folder, { decisionTimeoutMs: DECISION_TIMEOUT_MS });
  });
  after(async () => {
    await system.stop();
    folder[Symbol.dispose]();
  });

  const stock = async (sku: string) => (await system.store.get<StockLevel>(COLLECTIONS.stock, sku))!;
  const outcomeMessages = async (orderId: string) =>
    (await mailboxOf(system)).filter((m) => m.orderId === orderId && m.kind !== 'points-awarded');
  const timedOutCount = async () => {
    const metric = await system.registry.getSingleMetric('herald_orders_sagas_timed_out_total')?.get();
    return metric?.values[0]?.value ?? 0;
  };

  void it('rejects an order that gets no decision in time and compensates it: stock released, authorization voided, one message', async () => {
    const app = apiOf(system);
    const stockBefore = await stock('GADGET');
    const timedOutBefore = await timedOutCount();
    await system.faults.update('fraud', { outage: true });
    let orderId: string;
    try {
      ({ orderId } = await placeOrder(app, {
        customerId: 'no-fraud-answer',
        items: [{ sku: 'GADGET', quantity: 3 }],
      }));
      const view = await eventually(`order ${orderId} to be compensated while fraud is down`, async () => {
        const v = await getOrder(app, orderId);
        return v.steps.inventory === 'released' &&
          v.steps.payment === 'voided' &&
          v.steps.notification === 'sent'
          ? v
          : undefined;
      });
      assert.equal(view.status, 'rejected');
      assert.equal(view.reason, 'decision-timeout');
      assert.match(view.detail ?? '', /no decision within 1.5 s: no answer from fraud/);
      assert.equal(view.steps.fraud, 'pending');
      assert.deepEqual((await stock('GADGET')).available, stockBefore.available, 'stock given back');
      assert.equal(
        (await system.store.get<GatewayEntry>(COLLECTIONS.gateway, orderId))?.voided,
        true,
        'the authorization is voided at the gateway',
      );
    } finally {
      await system.faults.update('fraud', { outage: false });
    }
    // Fraud answers late: recorded, the decision stays, nothing more happens.
    const final = await settled(app, orderId);
    assert.equal(final.status, 'rejected');
    assert.equal(final.steps.fraud, 'passed');
    await caughtUp(system.log, Object.values(GROUPS));
    const saga = await system.store.get<SagaState>(COLLECTIONS.sagas, orderId);
    assert.equal(saga?.outcomes.fraud, 'ok', 'the late answer is recorded');
    assert.equal(saga?.decision?.status === 'rejected' && saga.decision.reason, 'decision-timeout');
    const names = await eventNamesOf(system.log, orderId, FLOW_TOPICS);
    assert.equal(names.filter((n) => n === 'order-rejected').length, 1, names.join(', '));
    assert.equal(names.filter((n) => n === 'order-confirmed').length, 0, names.join(', '));
    const messages = await outcomeMessages(orderId);
    assert.deepEqual(
      messages.map((m) => m.kind),
      ['order-rejected'],
      'one message to the customer',
    );
    assert.equal(await timedOutCount(), timedOutBefore + 1, 'herald_orders_sagas_timed_out_total');
  });

  void it('compensates a payment that answers after the timeout: the late authorization is voided', async () => {
    const app = apiOf(system);
    const stockBefore = await stock('WIDGET');
    await system.faults.update('payment', { outage: true });
    let orderId: string;
    try {
      ({ orderId } = await placeOrder(app, {
        customerId: 'late-payment',
        items: [{ sku: 'WIDGET', quantity: 2 }],
      }));
      const view = await eventually(`order ${orderId} to time out while payment is down`, async () => {
        const v = await getOrder(app, orderId);
        return v.status === 'rejected' && v.steps.inventory === 'released' ? v : undefined;
      });
      assert.equal(view.reason, 'decision-timeout');
      assert.match(view.detail ?? '', /no answer from payment/);
      assert.equal(view.steps.payment, 'pending', 'payment has not answered yet');
      assert.equal(await system.store.get(COLLECTIONS.gateway, orderId), undefined, 'nothing authorized yet');
    } finally {
      await system.faults.update('payment', { outage: false });
    }
    // Payment comes back: it authorizes the placed order (the late answer), then reads the
    // rejection behind it (same key, same topic) and voids what it just authorized.
    const final = await settled(app, orderId);
    assert.equal(final.status, 'rejected');
    assert.equal(final.steps.payment, 'voided');
    const entry = await system.store.get<GatewayEntry>(COLLECTIONS.gateway, orderId);
    assert.equal(entry?.authorization.status, 'authorized', 'the late answer authorized');
    assert.deepEqual([entry.captured, entry.voided], [false, true], 'and the authorization is voided');
    assert.deepEqual((await stock('WIDGET')).available, stockBefore.available);
    await caughtUp(system.log, Object.values(GROUPS));
    const names = await eventNamesOf(system.log, orderId, [TOPICS.payments]);
    assert.deepEqual(names, ['payment-authorized', 'payment-voided']);
    const saga = await system.store.get<SagaState>(COLLECTIONS.sagas, orderId);
    assert.equal(saga?.outcomes.payment, 'ok', 'the late answer reached the saga, which kept its decision');
    assert.deepEqual(
      (await outcomeMessages(orderId)).map((m) => m.kind),
      ['order-rejected'],
    );
  });

  void it('leaves no timer behind for an order decided in time', async () => {
    const app = apiOf(system);
    const { orderId } = await placeOrder(app, {
      customerId: 'in-time',
      items: [{ sku: 'WIDGET', quantity: 1 }],
    });
    assert.equal((await settled(app, orderId)).status, 'confirmed');
    await caughtUp(system.log, Object.values(GROUPS));
    const timers = await pendingTimers(system.store);
    assert.deepEqual(
      timers.filter((t) => t.id.startsWith(`${orderId}/`)),
      [],
      'the decision cancelled the deadline',
    );
  });
});
