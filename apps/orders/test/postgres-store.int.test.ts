// The order system with HERALD_STORE=postgres://… in one process: every service in its own
// schema, an outbox relay per service publishing to the log (here an embedded log file, so the
// test needs Postgres only). Checks what changes for clients — the consistency token names
// OrderPlaced by id, and reads that wait for it answer once the view applied it — and that each
// service's state stays in its own schema.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import type { GatewayEntry } from '@herald/orders-domain/payment.ts';
import { eventIdOf } from '@herald/orders-domain/events.ts';
import { openOrderSystem } from '../src/system.ts';
import { COLLECTIONS, GROUPS, SERVICES } from '@herald/orders-domain/topology.ts';
import { schemaOf } from '@herald/service';
import {
  TEST_CATALOG,
  apiOf,
  getOrder,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';
import { postgresUnavailable, testSchemas, unavailable } from './fixtures/test-postgres.ts';

describe('the order system on a Postgres store', { timeout: 60_000 }, () => {
  it('refuses a log that cannot hold its state when no store is given', async () => {
    await assert.rejects(
      openOrderSystem({ logUrl: 'kafka://127.0.0.1:1' }),
      /HERALD_LOG must be a sqlite: URL.*HERALD_STORE=postgres/,
    );
  });

  it('keeps each service in its own schema and answers event tokens once the view applied the event', async (t) => {
    const reason = await postgresUnavailable();
    if (reason !== undefined) return unavailable(t, reason);
    using folder = tempFolder();
    await using schemas = testSchemas({ max: 2 });
    const system = await openTestSystem(folder, { storeUrl: schemas.storeUrl });
    try {
      const app = apiOf(system);
      const { orderId, consistencyToken } = await placeOrder(app, {
        customerId: 'ada',
        items: [{ sku: 'WIDGET', quantity: 2 }],
      });
      const placedId = eventIdOf(orderId, 'order-placed');
      assert.equal(consistencyToken, `event:${placedId}`, 'OrderPlaced has no position yet at the 202');

      const view = await getOrder(app, orderId, `?consistentWith=${encodeURIComponent(consistencyToken)}`);
      assert.equal(view.orderId, orderId);
      assert.notEqual(
        await system.storeOf('orders').inboxStatus(GROUPS.ordersView, placedId, ''),
        'unseen',
        'the view had applied OrderPlaced when the read answered',
      );
      const unknown = await app.inject({
        method: 'GET',
        url: `/orders/${orderId}?consistentWith=${encodeURIComponent('event:nobody/order-placed')}`,
      });
      assert.equal(unknown.statusCode, 422, unknown.body);
      const malformed = await app.inject({
        method: 'GET',
        url: `/orders/${orderId}?consistentWith=${encodeURIComponent('event:nobody/order-confirmed')}`,
      });
      assert.equal(malformed.statusCode, 400, malformed.body);

      assert.equal((await settled(app, orderId)).status, 'confirmed');
      // Each service's state is in its schema and nowhere else; the API reads stock from inventory's.
      const payment = system.storeOf('payment');
      const entry = await payment.get<GatewayEntry>(COLLECTIONS.gateway, orderId);
      assert.ok(entry?.captured === true);
      assert.equal(await system.storeOf('orders').get(COLLECTIONS.gateway, orderId), undefined);
      assert.equal((await system.storeOf('notification').list(COLLECTIONS.mailbox)).length, 1);
      const stock = await app.inject({ method: 'GET', url: '/inventory/WIDGET' });
      const initial = TEST_CATALOG.find((i) => i.sku === 'WIDGET')!.initialStock;
      assert.deepEqual(stock.json<StockLevel>(), { sku: 'WIDGET', available: initial - 2, reserved: 0 });
      // The relays count what they published to the log, once each: OrderPlaced among them.
      const metrics = (await app.inject('/metrics')).body;
      const sent = metrics.match(
        /^messaging_client_sent_messages_total\{messaging_system="herald_sqlite",messaging_operation_name="send",messaging_destination_name="orders"\} (\d+)$/m,
      );
      assert.ok(sent !== null && Number(sent[1]) >= 1, `the relays' sends among:\n${metrics}`);
    } finally {
      await system.stop();
    }
    // Every outbox was published before the relays stopped.
    for (const service of SERVICES) {
      const { rows } = await schemas.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM "${schemaOf(schemas.prefix, service)}".herald_outbox`,
      );
      assert.equal(rows[0]?.n, '0', `${service}'s outbox is empty`);
    }
  });
});
