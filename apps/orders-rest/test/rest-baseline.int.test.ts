// The REST baseline as it runs in the lab: `start-rest-baseline.ts` starts one process per
// service on real ports and real SQLite files; the tests drive `POST /orders` and the admin
// endpoints over HTTP.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import {
  type ChildSystem,
  cleanEnv,
  findFreePorts,
  startChildSystem,
} from '@herald/orders-domain/testing/child-system.ts';

const SCRIPT = new URL('../src/start-rest-baseline.ts', import.meta.url).pathname;
const TOKEN = 'test-admin-token-0123456789';

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly headers: Headers;
  readonly body: Record<string, unknown> & {
    orderId?: string;
    status?: unknown;
    reason?: string;
    steps?: Record<string, string>;
    type?: string;
  };
}

let dir: string;
let system: ChildSystem;
let base: number;
const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(url(base, path), {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Answer['body']),
  };
}

const admin = { authorization: `Bearer ${TOKEN}` };

/** Waits until `check` holds, polling; fails after `timeoutMs`. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** The faults a downstream applies right now; `refused` when it does not accept connections. */
async function downstreamFaults(offset: number): Promise<Record<string, unknown> | 'refused'> {
  try {
    const response = await fetch(url(base + offset, '/healthz'), { signal: AbortSignal.timeout(1_000) });
    return ((await response.json()) as { faults: Record<string, unknown> }).faults;
  } catch {
    return 'refused';
  }
}

const PAYMENT = 3;
let customer = 0;
const order = (extra: Record<string, unknown> = {}) => ({
  customerId: `rest-test-${++customer}`,
  items: [{ sku: 'MUG-01', quantity: 2 }],
  shippingCountry: 'DE',
  ...extra,
});

describe('REST baseline', { timeout: 60_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-rest-'));
    base = await findFreePorts(5);
    system = await startChildSystem({
      name: 'rest baseline',
      script: SCRIPT,
      args: [
        '--port',
        String(base),
        '--data-dir',
        dir,
        '--attempt-timeout-ms',
        '1000',
        '--max-attempts',
        '2',
      ],
      env: cleanEnv({ HERALD_ADMIN_TOKEN: TOKEN }),
      readyUrl: url(base, '/readyz'),
    });
  });

  after(async () => {
    await system?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('confirms an order synchronously: 201 with the final state, payment captured, customer told', async () => {
    const answer = await call('POST', '/orders', order());
    assert.equal(answer.status, 201);
    assert.equal(answer.body.status, 'confirmed');
    assert.deepEqual(answer.body.steps, {
      inventory: 'reserved',
      payment: 'captured',
      fraud: 'passed',
      notification: 'sent',
    });
    assert.equal(answer.headers.get('location'), `/orders/${answer.body.orderId}`);
    const read = await call('GET', `/orders/${answer.body.orderId}`);
    assert.equal(read.body.status, 'confirmed');
  });

  it('rejects a declined payment and releases the stock it had reserved', async () => {
    const answer = await call('POST', '/orders', order({ paymentToken: 'tok_decline' }));
    assert.equal(answer.status, 201);
    assert.equal(answer.body.status, 'rejected');
    assert.equal(answer.body.reason, 'payment-declined');
    assert.deepEqual(answer.body.steps, {
      inventory: 'released',
      payment: 'declined',
      fraud: 'passed',
      notification: 'sent',
    });
  });

  it('rejects an order out of stock and voids the payment it had authorized', async () => {
    const answer = await call('POST', '/orders', order({ items: [{ sku: 'POSTER-LTD', quantity: 5 }] }));
    assert.equal(answer.status, 201);
    assert.equal(answer.body.status, 'rejected');
    assert.equal(answer.body.reason, 'out-of-stock');
    assert.deepEqual(answer.body.steps, {
      inventory: 'failed',
      payment: 'voided',
      fraud: 'passed',
      notification: 'sent',
    });
  });

  it('refuses an invalid request with problem+json and places nothing', async () => {
    const invalid = await call('POST', '/orders', { customerId: 'x', items: [] });
    assert.equal(invalid.status, 422);
    assert.match(invalid.type, /^application\/problem\+json/);
    const unknown = await call('POST', '/orders', order({ items: [{ sku: 'NOPE-1', quantity: 1 }] }));
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.type, '/problems/invalid-order');
  });

  it('answers a repeated Idempotency-Key with the first answer and refuses it for another body', async () => {
    const body = order();
    const first = await call('POST', '/orders', body, { 'idempotency-key': 'key-1' });
    const again = await call('POST', '/orders', body, { 'idempotency-key': 'key-1' });
    assert.equal(again.status, 201);
    assert.equal(again.body.orderId, first.body.orderId);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const other = await call('POST', '/orders', order(), { 'idempotency-key': 'key-1' });
    assert.equal(other.status, 422);
  });

  it('keeps the admin endpoints behind the bearer token', async () => {
    assert.equal((await call('GET', '/admin/faults')).status, 401);
    assert.equal(
      (await call('GET', '/admin/faults', undefined, { authorization: 'Bearer wrong' })).status,
      401,
    );
    assert.equal((await call('GET', '/admin/faults', undefined, admin)).status, 200);
  });

  it('answers 504 when payment times out, releases the stock and leaves no authorization behind', async () => {
    const set = await call('PUT', '/admin/faults/payment', { latencyMs: 2_500 }, admin);
    assert.equal(set.status, 200);
    await eventually('payment to apply the latency', async () => {
      const faults = await downstreamFaults(PAYMENT);
      return faults !== 'refused' && faults.latencyMs === 2_500;
    });
    const answer = await call('POST', '/orders', order());
    assert.equal(answer.status, 504);
    assert.match(answer.type, /^application\/problem\+json/);
    assert.equal(answer.body.type, '/problems/downstream-timeout');
    const orderId = answer.body.orderId!;
    const view = await call('GET', `/orders/${orderId}`);
    assert.equal(view.body.status, 'pending');
    assert.equal(view.body.steps?.inventory, 'released');
    // The authorization still on its way when the chain gave up is voided once it lands.
    await eventually(
      'the late authorization to be voided',
      async () => {
        const response = await fetch(url(base + PAYMENT, `/authorizations/${orderId}`));
        if (!response.ok) return false;
        const { gateway } = (await response.json()) as { gateway: { voided: boolean } | null };
        return gateway?.voided === true;
      },
      20_000,
    );
    assert.equal((await call('DELETE', '/admin/faults', undefined, admin)).status, 204);
  });

  it('answers 503 during a payment outage, compensates, and confirms again once payment is back', async () => {
    await call('PUT', '/admin/faults/payment', { outage: true }, admin);
    await eventually(
      'payment to refuse connections',
      async () => (await downstreamFaults(PAYMENT)) === 'refused',
    );
    const failed = await call('POST', '/orders', order());
    assert.equal(failed.status, 503);
    assert.equal(failed.body.type, '/problems/downstream-unavailable');
    const view = await call('GET', `/orders/${failed.body.orderId}`);
    assert.equal(view.body.steps?.inventory, 'released');
    assert.equal(view.body.steps?.payment, 'pending');

    await call('DELETE', '/admin/faults', undefined, admin);
    await eventually('payment to listen again', async () => (await downstreamFaults(PAYMENT)) !== 'refused');
    const confirmed = await call('POST', '/orders', order());
    assert.equal(confirmed.status, 201);
    assert.equal(confirmed.body.status, 'confirmed');
  });
});
