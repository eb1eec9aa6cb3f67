// One process per service on a shared log file, and a service process killed with SIGKILL in
// the middle of the flow (F3 for the order system). The API, the saga and the view run in the
// test process; inventory, payment, fraud and notification run in a child process that is
// killed twice while orders keep coming, and started again. Every accepted order must reach
// its final state, with one charge, one message, no event emitted twice and the stock adding up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import { isFinal, isSettled } from '@herald/orders-domain/order-view.ts';
import type { GatewayEntry } from '@herald/orders-domain/payment.ts';
import { TOPICS } from '@herald/orders-domain/events.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import {
  type OrderBody,
  TEST_CATALOG,
  apiOf,
  eventsOf,
  eventually,
  getOrder,
  mailboxOf,
  openTestSystem,
  placeOrder,
  tempFolder,
} from './fixtures/order-system.ts';
import { type ServiceProcess, startServiceProcess } from './fixtures/service-process.ts';

const DOWNSTREAM = ['inventory', 'payment', 'fraud', 'notification'];
const SESSION_TIMEOUT_MS = 1500;

/** A mix of outcomes: mostly confirmed, some declined, some stopped by fraud. */
function orderBody(i: number): OrderBody {
  const body: OrderBody = { customerId: `k${i}`, items: [{ sku: 'WIDGET', quantity: 1 + (i % 3) }] };
  if (i % 7 === 3) body.paymentToken = 'tok_decline';
  if (i % 11 === 5) body.shippingCountry = 'KP';
  return body;
}

describe('services in their own processes', { timeout: 90_000 }, () => {
  it('bring every accepted order to its final state across SIGKILLs of a service process', async () => {
    using folder = tempFolder();
    const system = await openTestSystem(folder, {
      services: ['orders'],
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
    });
    const start = async () => {
      const child = startServiceProcess(folder, DOWNSTREAM, {
        HERALD_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      });
      await child.waitForLine(/^ready: inventory, payment, fraud, notification/);
      // A process without the API serves health and metrics on the service kit's server.
      const health = /; health on (http:\S+)$/.exec(child.lines.find((l) => l.startsWith('ready: '))!)?.[1];
      assert.ok(health !== undefined, child.lines.join('\n'));
      assert.equal((await fetch(`${health}/readyz`)).status, 200);
      assert.match(await (await fetch(`${health}/metrics`)).text(), /herald_consumer_lag/);
      return child;
    };
    let child: ServiceProcess | undefined;
    try {
      const app = apiOf(system);
      const accepted: { orderId: string; body: OrderBody }[] = [];
      const place = async (from: number, to: number) => {
        for (let i = from; i < to; i++) {
          const body = orderBody(i);
          accepted.push({ orderId: (await placeOrder(app, body)).orderId, body });
        }
      };
      const finalCount = async () => {
        let n = 0;
        for (const { orderId } of accepted) if (isFinal(await getOrder(app, orderId))) n++;
        return n;
      };
      /**
       * Kills the services while orders are being placed, once some are final: placing goes on
       * until the kill is done and a few orders after it, so the kill always leaves work behind.
       * Returns the index of the next order.
       */
      const killWhilePlacing = async (process: ServiceProcess, from: number): Promise<number> => {
        let killed = false;
        let next = from;
        const placing = (async () => {
          for (let after = 0; after < 3; next++) {
            await place(next, next + 1);
            if (killed) after++;
          }
        })();
        await eventually('some orders to be final', async () =>
          (await finalCount()) > 0 ? true : undefined,
        );
        process.child.kill('SIGKILL');
        const { signal } = await process.exited;
        killed = true;
        assert.equal(signal, 'SIGKILL', process.lines.slice(-5).join('\n'));
        await placing;
        const final = await finalCount();
        assert.ok(
          final < accepted.length,
          `the kill left work unfinished (${final} of ${accepted.length} final)`,
        );
        return next;
      };

      child = await start();
      let next = await killWhilePlacing(child, 0);
      await place(next, next + 6); // while the services are down: accepted, and waiting in the log

      child = await start();
      next = await killWhilePlacing(child, next + 6);
      await place(next, next + 6);

      child = await start();
      await eventually(
        'every accepted order to settle',
        async () => {
          for (const { orderId } of accepted) if (!isSettled(await getOrder(app, orderId))) return undefined;
          return true;
        },
        40_000,
      );

      // One charge, one message per order.
      const gateway = new Map(
        (await system.store.list<GatewayEntry>(COLLECTIONS.gateway)).map((r) => [r.id, r.value]),
      );
      const mailbox = (await mailboxOf(system)).filter((m) => m.kind !== 'points-awarded');
      let widgetsSold = 0;
      for (const { orderId, body } of accepted) {
        const view = await getOrder(app, orderId);
        const entry = gateway.get(orderId);
        assert.ok(entry !== undefined, `the gateway saw ${orderId}`);
        assert.equal(mailbox.filter((m) => m.orderId === orderId).length, 1, `one message about ${orderId}`);
        if (view.status === 'confirmed') {
          assert.ok(entry.captured && !entry.voided);
          widgetsSold += body.items[0]!.quantity;
        } else {
          assert.ok(!entry.captured, `rejected ${orderId} was not captured`);
          assert.equal(entry.voided, entry.authorization.status === 'authorized');
        }
      }
      const expected = accepted.filter(
        ({ body }) => body.paymentToken === undefined && body.shippingCountry === undefined,
      );
      assert.equal(
        accepted.filter(({ orderId }) => gateway.get(orderId)?.captured === true).length,
        expected.length,
        'exactly the orders with a good card and an allowed country were confirmed',
      );

      // No event emitted twice: the inbox and the handler's writes commit in one transaction.
      for (const topic of [
        TOPICS.orders,
        TOPICS.inventory,
        TOPICS.payments,
        TOPICS.fraud,
        TOPICS.notifications,
      ]) {
        const ids = (await eventsOf(system.log, topic)).map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length, `a duplicate event in ${topic}`);
      }
      // The stock adds up: what left is what confirmed orders bought; nothing stays reserved.
      const widget = (await system.store.get<StockLevel>(COLLECTIONS.stock, 'WIDGET'))!;
      const initial = TEST_CATALOG.find((i) => i.sku === 'WIDGET')!.initialStock;
      assert.deepEqual(widget, { sku: 'WIDGET', available: initial - widgetsSold, reserved: 0 });
      // The restarted process took over every partition of its groups.
      const { members } = await system.log.describeGroup(GROUPS.payment);
      assert.equal(members.length, 1);
    } finally {
      if (child !== undefined && child.child.exitCode === null && child.child.signalCode === null) {
        child.child.kill('SIGTERM');
        await child.exited;
      }
      await system.stop();
    }
  });
});
