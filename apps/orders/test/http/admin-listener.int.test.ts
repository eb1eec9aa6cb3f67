// The admin API on a listener of its own (HERALD_ADMIN_PORT): its app serves `/admin/*` and the
// probes, the public API no longer serves `/admin/*` at all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN_TOKEN, openTestSystem, tempFolder } from '../fixtures/order-system.ts';

describe('the admin API on a listener of its own', () => {
  it('serves /admin/* from the admin app only, and the orders API from the public app only', async () => {
    using folder = tempFolder();
    await using system = await openTestSystem(folder, {
      http: { adminToken: ADMIN_TOKEN, rateLimit: { perSecond: 0, burst: 0 }, adminListener: true },
    });
    const { app, admin } = system.api!;
    assert.ok(admin !== undefined);
    const authorization = `Bearer ${ADMIN_TOKEN}`;
    const fromPublic = await app.inject({ method: 'GET', url: '/admin/faults', headers: { authorization } });
    assert.equal(fromPublic.statusCode, 404);
    const fromAdmin = await admin.inject({ method: 'GET', url: '/admin/faults', headers: { authorization } });
    assert.equal(fromAdmin.statusCode, 200, fromAdmin.body);
    assert.equal((await admin.inject({ method: 'GET', url: '/admin/faults' })).statusCode, 401);
    assert.equal((await admin.inject({ method: 'GET', url: '/orders/x' })).statusCode, 404);
    assert.equal((await admin.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const order = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ customerId: 'c', items: [{ sku: 'WIDGET', quantity: 1 }] }),
    });
    assert.equal(order.statusCode, 202, order.body);
  });
});
