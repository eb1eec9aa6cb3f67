// Reads that hold a connection open (SSE streams, long polls) are capped per client and in all,
// and a client that sends its request too slowly is cut at the request timeout: neither can take
// the connections that everyone else's POST /orders needs.
import assert from 'node:assert/strict';
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { OrderSystem } from '../../src/system.ts';
import { type TempFolder, apiOf, openTestSystem, placeOrder, tempFolder } from '../fixtures/order-system.ts';

let folder: TempFolder;
let system: OrderSystem;
let port: number;
let orderId: string;

before(async () => {
  folder = tempFolder();
  system = await openTestSystem(folder, {
    // Payment is down: the order stays pending, so its streams and long polls stay open.
    faults: { payment: { outage: true } },
    http: {
      adminToken: 'test-admin-token-0123456789',
      rateLimit: { perSecond: 0, burst: 0 },
      waitingReads: { total: 3, perClient: 2 },
      requestTimeoutMs: 1_500,
    },
  });
  const app = apiOf(system);
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
  ({ orderId } = await placeOrder(app, { customerId: 'c', items: [{ sku: 'WIDGET', quantity: 1 }] }));
});
after(async () => {
  await system.stop();
  folder[Symbol.dispose]();
});

/** Opens `path` from `localAddress`; resolves at the response head. */
function open(
  path: string,
  localAddress: string,
): Promise<{ status: number; req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
      res.on('error', () => undefined);
      if (res.statusCode !== 200) res.resume();
      resolve({ status: res.statusCode!, req, res });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('waiting reads and slow clients', () => {
  it('answers 429 to a client beyond its share of streams and long polls, 503 beyond the total, and frees a slot when a stream ends', async () => {
    const events = `/orders/${orderId}/events`;
    // An event stream answers its head at once; a long poll only when it ends.
    const a1 = await open(events, '127.0.0.1');
    const a2 = await open(events, '127.0.0.1');
    assert.deepEqual([a1.status, a2.status], [200, 200]);
    assert.equal((await open(events, '127.0.0.1')).status, 429);
    assert.equal(
      (await open(`/orders/${orderId}?wait=30`, '127.0.0.1')).status,
      429,
      'a long poll counts too',
    );
    const b1 = await open(events, '127.0.0.2');
    assert.equal(b1.status, 200, 'another client gets its own share');
    assert.equal((await open(events, '127.0.0.2')).status, 503, 'the server holds its total');
    // A plain read never waits and is not capped.
    assert.equal((await open(`/orders/${orderId}`, '127.0.0.2')).status, 200);

    a1.req.destroy();
    let b2: Awaited<ReturnType<typeof open>> | undefined;
    // The slot is freed when the server sees the stream closed: poll until it does.
    for (let i = 0; i < 200 && b2?.status !== 200; i++) {
      b2 = await open(events, '127.0.0.2');
      if (b2.status !== 200) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(b2?.status, 200, 'a closed stream gave its slot back');
    for (const r of [a2, b1, b2]) r?.req.destroy();
  });

  it('closes a connection whose request trickles in slower than the request timeout, while other clients are served', async () => {
    const TRICKLE_MS = 20_000;
    const slow = Array.from(
      { length: 10 },
      () =>
        new Promise<{ closedAfterMs: number; trickleDone: boolean }>((resolve) => {
          const started = performance.now();
          const socket = connect(port, '127.0.0.1');
          let trickleDone = false;
          socket.on('error', () => undefined);
          // Reads (and drops) the server's answer, so that its close is seen.
          socket.resume();
          socket.once('connect', () => socket.write('POST /orders HTTP/1.1\r\nHost: x\r\n'));
          const timer = setInterval(() => {
            if (performance.now() - started > TRICKLE_MS) {
              trickleDone = true;
              socket.destroy();
              return;
            }
            socket.write('x');
          }, 200);
          socket.once('close', () => {
            clearInterval(timer);
            resolve({ closedAfterMs: performance.now() - started, trickleDone });
          });
        }),
    );
    // Meanwhile an ordinary request is answered.
    const normal = await open('/healthz', '127.0.0.1');
    assert.equal(normal.status, 200);
    for (const outcome of await Promise.all(slow)) {
      assert.equal(outcome.trickleDone, false, 'the server closed the slow connection, not the client');
      assert.ok(outcome.closedAfterMs < TRICKLE_MS, `closed after ${Math.round(outcome.closedAfterMs)} ms`);
    }
  });
});
