// The load generator against servers that misbehave on purpose: every failure is a sample saying
// what happened (timeout, connection, the status), and a run always resolves.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { constantArrivals } from '../src/arrival-schedule.ts';
import { runOpenLoop } from '../src/load-generator.ts';
import { indexOfCustomer, orderBody } from '../src/workload.ts';

const PREFIX = 'gen-test';
const servers: Server[] = [];

/** A loopback server whose answer to request `index` (from its body) is `handle`'s. */
async function serve(
  handle: (index: number, request: IncomingMessage, response: ServerResponse) => void,
): Promise<string> {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const { customerId } = JSON.parse(body) as { customerId: string };
      handle(indexOfCustomer(PREFIX, customerId)!, request, response);
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/orders`;
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

describe('runOpenLoop against a failing system', () => {
  beforeEach(() => {
    unhandled = [];
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    assert.deepEqual(unhandled, [], 'nothing was left unhandled');
  });
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('counts answers, error statuses and reset connections, each as what it was', async () => {
    const url = await serve((index, request, response) => {
      if (index % 3 === 0) {
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ orderId: `o-${index}`, status: 'pending' }));
      } else if (index % 3 === 1) {
        response.writeHead(503, { 'content-type': 'text/plain' });
        response.end('overloaded');
      } else {
        request.socket.destroy();
      }
    });
    const { samples } = await runOpenLoop({
      url,
      schedule: constantArrivals(200, 300),
      body: (index) => orderBody(PREFIX, index),
      // Every request is answered or reset by the server: the timeout never decides here.
      timeoutMs: 600_000,
      maxInFlight: 1_000,
    });
    assert.equal(samples.length, 60);
    for (const sample of samples) {
      const expected =
        sample.index % 3 === 0
          ? { status: 202, error: undefined, orderId: `o-${sample.index}` }
          : sample.index % 3 === 1
            ? { status: 503, error: undefined, orderId: undefined }
            : { status: 0, error: 'connection', orderId: undefined };
      assert.deepEqual(
        { status: sample.status, error: sample.error, orderId: sample.orderId },
        expected,
        `request ${sample.index}`,
      );
    }
  });

  it('counts requests a stalled system never answers as timeouts', async () => {
    const url = await serve(() => {
      // Never answers.
    });
    const { samples } = await runOpenLoop({
      url,
      schedule: constantArrivals(100, 200),
      body: (index) => orderBody(PREFIX, index),
      timeoutMs: 200,
      maxInFlight: 1_000,
    });
    assert.equal(samples.length, 20);
    assert.deepEqual(new Set(samples.map((s) => `${s.status} ${s.error}`)), new Set(['0 timeout']));
  });

  it('counts an answer whose body stalls as a timeout', async () => {
    const url = await serve((_index, _request, response) => {
      response.writeHead(202, { 'content-type': 'application/json' });
      response.write('{"orderId":');
    });
    const { samples } = await runOpenLoop({
      url,
      schedule: constantArrivals(100, 100),
      body: (index) => orderBody(PREFIX, index),
      timeoutMs: 200,
      maxInFlight: 1_000,
    });
    assert.equal(samples.length, 10);
    assert.deepEqual(new Set(samples.map((s) => `${s.status} ${s.error}`)), new Set(['0 timeout']));
  });

  it('counts connections a system refuses', async () => {
    const url = await serve(() => undefined);
    const server = servers[servers.length - 1]!;
    server.close();
    await once(server, 'close');
    const { samples } = await runOpenLoop({
      url,
      schedule: constantArrivals(100, 100),
      body: (index) => orderBody(PREFIX, index),
      timeoutMs: 600_000,
      maxInFlight: 1_000,
    });
    assert.deepEqual(new Set(samples.map((s) => `${s.status} ${s.error}`)), new Set(['0 connection']));
  });

  it('records requests beyond the in-flight limit as not sent, without waiting for them', async () => {
    const held: ServerResponse[] = [];
    const url = await serve((_index, _request, response) => held.push(response));
    let notSent = 0;
    const { samples } = await runOpenLoop({
      url,
      schedule: constantArrivals(100, 100),
      body: (index) => orderBody(PREFIX, index),
      timeoutMs: 600_000,
      maxInFlight: 4,
      // The server answers the four it holds only once the other six were refused.
      onSample: (sample) => {
        if (sample.error !== 'overload' || ++notSent < 6) return;
        const answer = () => {
          if (held.length < 4) return setTimeout(answer, 10);
          for (const response of held) response.writeHead(202).end('{}');
        };
        answer();
      },
    });
    assert.equal(samples.filter((s) => s.status === 202).length, 4);
    assert.equal(samples.filter((s) => s.error === 'overload').length, 6);
  });

  it('rejects with the error of a sample callback that throws, leaving nothing unhandled', async () => {
    const url = await serve((_index, _request, response) => response.writeHead(202).end('{}'));
    await assert.rejects(
      runOpenLoop({
        url,
        schedule: constantArrivals(100, 100),
        body: (index) => orderBody(PREFIX, index),
        timeoutMs: 600_000,
        maxInFlight: 1_000,
        onSample: () => {
          throw new Error('the display broke');
        },
      }),
      /the display broke/,
    );
  });
});
