// Fault covered: the process dies after an order is committed and before its answer reaches the
// client (F19b). A proxy between the client and `npm start`'s program passes the request on,
// and at the first byte of the answer SIGKILLs the program's whole process group and drops the
// connection: the order is durable, the client never learns it. The client retries with the same
// Idempotency-Key against the restarted program and gets the original answer; the log holds one
// OrderPlaced for it, and the order settles.
import assert from 'node:assert/strict';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { openSqliteLog } from '@herald/sqlite';
import {
  type ChildSystem,
  cleanEnv,
  findFreePorts,
  startChildSystem,
} from '@herald/orders-domain/testing/child-system.ts';
import { OrderPlaced, TOPICS } from '@herald/orders-domain/events.ts';
import { eventsOf, tempFolder } from './fixtures/order-system.ts';
import { rawPost } from './fixtures/raw-post.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const KEY = 'f19b-lost-answer-key';
const BODY = JSON.stringify({ customerId: 'f19b', items: [{ sku: 'WIDGET', quantity: 1 }] });

const post = (port: number) => rawPost(port, BODY, { 'idempotency-key': KEY });

/** Forwards to `target`; at the first byte of an answer calls `onAnswer` and drops both sides. */
async function answerEatingProxy(target: number, onAnswer: () => Promise<void>): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.once('data', () => {
      void onAnswer().finally(() => {
        client.destroy();
        upstream.destroy();
      });
    });
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function start(folder: ReturnType<typeof tempFolder>, port: number): Promise<ChildSystem> {
  return startChildSystem({
    name: 'order system',
    script: MAIN,
    env: cleanEnv({
      HERALD_LOG: folder.logUrl,
      HERALD_CATALOG: folder.catalogPath,
      HERALD_ADMIN_TOKEN: 'a-token-of-sixteen-chars',
      PORT: String(port),
    }),
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  });
}

void describe('the order system killed between commit and answer', () => {
  void it('gives a client that retries with the same Idempotency-Key the original answer, with one order in the log', async () => {
    using folder = tempFolder();
    const port = await findFreePorts(1);
    const first = await start(folder, port);
    let second: ChildSystem | undefined;
    try {
      const proxy = await answerEatingProxy(port, async () => {
        // SIGKILL to the whole process group: nothing gets to finish anything.
        process.kill(-first.process.pid!, 'SIGKILL');
        await new Promise<void>((resolve) =>
          first.process.exitCode !== null || first.process.signalCode !== null
            ? resolve()
            : first.process.once('exit', () => resolve()),
        );
      });
      const lost = await post((proxy.address() as { port: number }).port);
      proxy.close();
      assert.ok(lost.error !== undefined, `the client got no answer (${JSON.stringify(lost)})`);
      assert.equal(first.process.signalCode, 'SIGKILL');

      second = await start(folder, port);
      const retried = await post(port);
      assert.equal(retried.status, 202, retried.body);
      assert.equal(retried.replayed, 'true', 'the answer is the first one, replayed');
      const { orderId } = JSON.parse(retried.body!) as { orderId: string };
      // The order the first process committed is carried on by the second one.
      const view = (await (await fetch(`http://127.0.0.1:${port}/orders/${orderId}?wait=30`)).json()) as {
        status: string;
      };
      assert.equal(view.status, 'confirmed');
    } finally {
      await second?.stop();
      await first.stop();
    }
    await using log = await openSqliteLog({ path: folder.dbPath });
    const placed = (await eventsOf(log, TOPICS.orders)).filter((e) => e.type === OrderPlaced.type);
    assert.equal(placed.length, 1, 'one OrderPlaced for the order whose answer was lost');
  });
});
