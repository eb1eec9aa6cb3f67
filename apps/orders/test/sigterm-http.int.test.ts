// SIGTERM under HTTP load: the order system is stopped while a hundred POST /orders are in
// flight, many still in the listener's backlog (closing a listener resets those; the API drains
// first). Every request must get an HTTP answer — 202 for an order it took, 503 for one it
// refused while draining — and never a reset connection; every 202 must be an order in the log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteLog } from '@herald/sqlite';
import { cleanEnv, findFreePorts, startChildSystem } from '@herald/orders-domain/testing/child-system.ts';
import { TOPICS } from '@herald/orders-domain/events.ts';
import { tempFolder } from './fixtures/order-system.ts';
import { type RawAnswer, rawPost } from './fixtures/raw-post.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const IN_FLIGHT = 100;

void describe('the order system stopped by SIGTERM under HTTP load', () => {
  void it('answers every request in flight, 202 or 503, never resetting one, and every 202 is an order in the log', async (t) => {
    using folder = tempFolder();
    const port = await findFreePorts(1);
    const system = await startChildSystem({
      name: 'order system',
      script: MAIN,
      env: cleanEnv({
        HERALD_LOG: folder.logUrl,
        HERALD_CATALOG: folder.catalogPath,
        HERALD_ADMIN_TOKEN: 'a-token-of-sixteen-chars',
        HERALD_RATE_LIMIT: '0',
        PORT: String(port),
      }),
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
    const body = JSON.stringify({ customerId: 'c1', items: [{ sku: 'WIDGET', quantity: 1 }] });
    let answers: RawAnswer[];
    try {
      const inFlight = Array.from({ length: IN_FLIGHT }, () => rawPost(port, body));
      // Stopped as soon as the first order is taken: the others are in flight or queued.
      await Promise.race(inFlight);
      const stopped = system.stop();
      answers = await Promise.all(inFlight);
      await stopped;
    } finally {
      await system.stop();
    }
    const resets = answers.filter((a) => a.error !== undefined);
    assert.deepEqual(resets, [], 'requests got no HTTP answer');
    const statuses = new Set(answers.map((a) => a.status));
    assert.ok(
      [...statuses].every((s) => s === 202 || s === 503),
      `statuses ${[...statuses].join(', ')}`,
    );
    const taken = answers.filter((a) => a.status === 202).map((a) => a.orderId!);
    t.diagnostic(`${taken.length} taken, ${answers.length - taken.length} answered 503 while closing`);
    assert.ok(taken.length > 0, 'no order was taken before the stop');
    await using log = await openSqliteLog({ path: folder.dbPath });
    const placed = new Set<string>();
    const { partitions } = await log.describeTopic(TOPICS.orders);
    for (let partition = 0; partition < partitions; partition++) {
      for (const event of await log.read(TOPICS.orders, { partition, from: 'earliest', limit: 10_000 })) {
        if (event.type.includes('order-placed') && event.data !== undefined)
          placed.add((JSON.parse(new TextDecoder().decode(event.data)) as { orderId: string }).orderId);
      }
    }
    const missing = taken.filter((id) => !placed.has(id));
    assert.deepEqual(missing, [], 'orders answered 202 that are not in the log');
  });
});
