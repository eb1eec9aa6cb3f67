// One run against a system whose admin and metrics endpoints fail: the run completes, its
// requests are measured, and what failed is stated in the run, never thrown.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type LabSystem, call } from '../src/lab-systems.ts';
import { runScenario } from '../src/run-scenario.ts';
import { MODES, SCENARIOS } from '../src/scenarios.ts';

const SLOW_PAYMENT = SCENARIOS.find((s) => s.id === 'slow-payment')!;

describe('runScenario against a system whose admin calls fail', () => {
  let base = '';
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.url === '/orders') {
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end('{"orderId":"o","status":"pending"}');
      } else if (request.method === 'PUT' && request.url?.startsWith('/admin/faults/') === true) {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('fault store unavailable');
      } else if (request.method === 'DELETE' && request.url === '/admin/faults') {
        response.writeHead(204).end();
      } else {
        // /metrics: the connection is reset.
        request.socket.destroy();
      }
    });
  });
  const system = (): LabSystem => ({
    architecture: 'event-driven',
    ordersUrl: `${base}/orders`,
    command: 'a test server',
    setFault: async (service, update) => {
      await call('PUT', `${base}/admin/faults/${service}`, { body: update });
    },
    clearFaults: async () => {
      await call('DELETE', `${base}/admin/faults`);
    },
    counters: async () => {
      await call('GET', `${base}/metrics`);
      return { retries: 0, lag: 0 };
    },
    stop: async () => undefined,
    collect: async () => new Map(),
  });

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('runs without the fault, says why, and counts the counter reads that failed', async () => {
    const mode = { ...MODES.short, drainTimeoutMs: 200, lagSampleMs: 50 };
    const data = await runScenario({
      system: system(),
      scenario: SLOW_PAYMENT,
      mode,
      prefix: 'admin-fails',
      ratePerSecond: 50,
      durationMs: 600,
      warmupMs: 0,
    });
    assert.equal(data.samples.length, 30);
    assert.ok(data.samples.every((s) => s.status === 202));
    assert.equal(data.fault, null, 'no fault was in force');
    assert.ok(
      data.problems.includes(
        'the fault was not injected: PUT /admin/faults/payment answered 500: fault store unavailable',
      ),
      data.problems.join('\n'),
    );
    assert.ok(data.counterFailures >= 2, `counter failures: ${data.counterFailures}`);
    assert.ok(data.problems.some((p) => p.startsWith('reading counters failed: GET /metrics: fetch failed')));
    assert.equal(data.retries, null, 'retries are unknown, not zero');
    assert.deepEqual(data.drain.complete, false);
  });
});
