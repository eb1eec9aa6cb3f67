// The order system with its services in an engine thread and the API in this one (what
// `npm start` runs): orders placed through the API are recorded by the engine thread's store and
// settle; idempotency keys, long-polls and consistency tokens work across the threads; the
// consumers' metrics and states reach the API's endpoints; a stop commits everything accepted;
// a failed engine thread makes the API unready and refuse orders instead of accepting them. On a
// Postgres store the API records orders through its own pool, without the engine thread.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isSettled } from '@herald/orders-domain/order-view.ts';
import type { OrderSystem } from '../src/system.ts';
import {
  type TempFolder,
  apiOf,
  countEvents,
  eventually,
  getOrder,
  openTestSystem,
  placeOrder,
  postOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';
import { postgresUnavailable, testSchemas, unavailable } from './fixtures/test-postgres.ts';

const folders: TempFolder[] = [];
after(() => {
  for (const folder of folders) folder[Symbol.dispose]();
});
function folder(): TempFolder {
  const f = tempFolder();
  folders.push(f);
  return f;
}

const widget = (customerId: string) => ({
  customerId,
  items: [{ sku: 'WIDGET', quantity: 1 }],
  shippingCountry: 'DE',
});

describe('the order system with its services in an engine thread', { timeout: 120_000 }, () => {
  it('settles orders placed through the API, with idempotency keys and consistency tokens working across the threads', async () => {
    await using system = await openTestSystem(folder(), { engineThread: true });
    const app = apiOf(system);
    assert.equal(system.runners.length, 0, 'no consumer runs in the API thread');
    const placed = await Promise.all(Array.from({ length: 20 }, (_, i) => placeOrder(app, widget(`c${i}`))));
    for (const { orderId } of placed) assert.equal((await settled(app, orderId)).status, 'confirmed');

    const keyed = { 'idempotency-key': 'engine-key-1' };
    const first = await postOrder(app, widget('keyed'), keyed);
    const again = await postOrder(app, widget('keyed'), keyed);
    assert.equal(first.statusCode, 202);
    assert.equal(again.statusCode, 202);
    assert.equal(again.json<{ orderId: string }>().orderId, first.json<{ orderId: string }>().orderId);
    const otherBody = { ...widget('keyed'), items: [{ sku: 'WIDGET', quantity: 2 }] };
    assert.equal((await postOrder(app, otherBody, keyed)).statusCode, 422);

    const { orderId, consistencyToken } = first.json<{ orderId: string; consistencyToken: string }>();
    const consistent = await getOrder(
      app,
      orderId,
      `?consistentWith=${encodeURIComponent(consistencyToken)}`,
    );
    assert.equal(consistent.orderId, orderId);
    // A long-poll is woken by the engine thread's view commits (its own fallback re-read is 200 ms).
    const final = await getOrder(app, orderId, '?wait=20');
    assert.ok(isSettled(final) || final.status !== 'pending', JSON.stringify(final));
  });

  it("reports the engine thread's services on /readyz and its consumers' metrics beside the API's on /metrics", async () => {
    await using system = await openTestSystem(folder(), { engineThread: true });
    const app = apiOf(system);
    await settled(app, (await placeOrder(app, widget('metrics'))).orderId);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    for (const name of ['orders', 'inventory', 'payment', 'fraud', 'notification', 'loyalty', 'analytics']) {
      assert.match(ready.json<{ detail: string }>().detail, new RegExp(`${name}: running`));
    }
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^herald_sqlite_transactions_total \d+/m);
    assert.match(metrics, /^herald_http_requests_total\{/m);
    assert.match(metrics, /^http_server_request_duration_seconds_bucket\{/m);
    // The process's runtime metrics once (from the API thread), and the producer metrics of
    // OrderPlaced, written by the engine thread.
    assert.equal(metrics.match(/^process_cpu_seconds_total /gm)?.length, 1, 'process metrics once');
    assert.match(metrics, /^messaging_client_sent_messages_total\{messaging_system="herald_sqlite",/m);
    const types = metrics.split('\n').filter((line) => line.startsWith('# TYPE '));
    assert.equal(new Set(types).size, types.length, 'every metric is typed once');
    const help = metrics.split('\n').filter((line) => line.startsWith('# HELP '));
    assert.equal(new Set(help).size, help.length, 'every metric is described once');
  });

  it('commits every accepted order when it stops, and the services settle them after a restart', async () => {
    const f = folder();
    const accepted: string[] = [];
    {
      const system = await openTestSystem(f, { engineThread: true });
      const app = apiOf(system);
      const posts = Array.from({ length: 30 }, (_, i) => postOrder(app, widget(`s${i}`)));
      const stopping = (async () => {
        await posts[10];
        await system.stop();
      })();
      for (const response of await Promise.all(posts)) {
        if (response.statusCode === 202) accepted.push(response.json<{ orderId: string }>().orderId);
        else assert.equal(response.statusCode, 503, response.body);
      }
      await stopping;
    }
    assert.ok(accepted.length >= 11, `${accepted.length} accepted`);
    await using system = await openTestSystem(f, { engineThread: true });
    assert.ok((await countEvents(system.log, ['orders'])) >= accepted.length);
    for (const orderId of accepted) assert.ok(isSettled(await settled(apiOf(system), orderId)));
  });

  it('turns unready and refuses orders with 503 once the engine thread failed, reporting the failure once', async () => {
    const failures: Error[] = [];
    let system: OrderSystem | undefined;
    try {
      system = await openTestSystem(folder(), {
        engineThread: true,
        onEngineFailure: (error) => failures.push(error),
      });
      const app = apiOf(system);
      await placeOrder(app, widget('before'));
      system.engine!.crash();
      await eventually('the engine thread to fail', async () => (failures.length > 0 ? true : undefined));
      assert.equal(failures.length, 1);
      assert.match(failures[0]!.message, /engine thread/);
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
      const refused = await postOrder(app, widget('after'));
      assert.equal(refused.statusCode, 503, refused.body);
    } finally {
      await system?.stop();
    }
    assert.equal(failures.length, 1, 'stopping after the failure reports nothing more');
  });

  it('records orders through its own pool on a Postgres store, so a POST needs no turn of the engine thread', async (t) => {
    const reason = await postgresUnavailable();
    if (reason !== undefined) return unavailable(t, reason);
    const shared = folder();
    await using schemas = testSchemas({ max: 2 });
    const first = await openTestSystem(shared, {
      engineThread: true,
      storeUrl: schemas.storeUrl,
      onEngineFailure: () => undefined,
    });
    let accepted: string;
    try {
      const app = apiOf(first);
      await placeOrder(app, widget('before'));
      // No consumer, no relay and no engine thread left: the API still stores the order and its
      // OrderPlaced (in the orders service's outbox) in one transaction of its own.
      first.engine!.crash();
      await eventually('the engine thread to end', async () =>
        (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 503 ? true : undefined,
      );
      ({ orderId: accepted } = await placeOrder(app, widget('while-the-engine-is-gone')));
    } finally {
      await first.stop();
    }
    // The services of the next start publish the outbox and settle it.
    await using second = await openTestSystem(shared, { engineThread: true, storeUrl: schemas.storeUrl });
    assert.equal((await settled(apiOf(second), accepted)).status, 'confirmed');
  });
});
