// The HTTP contract of docs/orders.md on a real SQLite file: bad input gets a clear problem+json and
// leaves no trace; Idempotency-Key retries; no 202 without a durable append; the admin endpoint
// for faults; the operational endpoints.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { TOPICS } from '@herald/orders-domain/events.ts';
import type { OrderSystem } from '../../src/system.ts';
import { COLLECTIONS, GROUPS } from '@herald/orders-domain/topology.ts';
import {
  ADMIN_TOKEN,
  type TempFolder,
  apiOf,
  countEvents,
  deadLetters,
  eventsOf,
  eventually,
  getOrder,
  openTestSystem,
  placeOrder,
  postOrder,
  settled,
  tempFolder,
} from '../fixtures/order-system.ts';

const ALL_TOPICS = Object.values(TOPICS);
const valid = { customerId: 'ada', items: [{ sku: 'WIDGET', quantity: 1 }] };
const json = (value: unknown) => JSON.stringify(value);
const UUID = '00000000-0000-4000-8000-000000000000';

interface Case {
  readonly name: string;
  readonly status: number;
  readonly type: string;
  readonly request: {
    method?: 'POST' | 'GET';
    url?: string;
    body?: string;
    headers?: Record<string, string>;
  };
}

/** Requests that must fail with a problem and store nothing (RELIABILITY.md, "Bad input"). */
const CORPUS: readonly Case[] = [
  { name: 'malformed JSON', status: 400, type: 'malformed-json', request: { body: '{"customerId":' } },
  { name: 'an empty body', status: 400, type: 'malformed-json', request: { body: '' } },
  {
    name: 'JSON with a trailing comma',
    status: 400,
    type: 'malformed-json',
    request: { body: '{"customerId":"a",}' },
  },
  {
    name: 'a depth bomb',
    status: 400,
    type: 'body-too-deep',
    request: { body: `${'['.repeat(5000)}${']'.repeat(5000)}` },
  },
  {
    name: 'a property given twice (two parsers could read two different orders)',
    status: 400,
    type: 'duplicate-property',
    request: {
      body: '{"customerId":"alice","items":[{"sku":"WIDGET","quantity":1}],"customerId":"mallory"}',
    },
  },
  {
    name: 'a __proto__ key',
    status: 400,
    type: 'forbidden-property',
    request: { body: '{"customerId":"a","items":[],"__proto__":{"admin":true}}' },
  },
  {
    name: 'a nested __proto__ key',
    status: 400,
    type: 'forbidden-property',
    request: { body: '{"customerId":"a","items":[{"sku":"WIDGET","quantity":1,"__proto__":{}}]}' },
  },
  {
    name: 'constructor.prototype',
    status: 400,
    type: 'forbidden-property',
    request: { body: '{"constructor":{"prototype":{"x":1}},"customerId":"a","items":[]}' },
  },
  {
    name: 'a body over the size limit',
    status: 413,
    type: 'body-too-large',
    request: { body: json({ ...valid, customerId: 'x'.repeat(20_000) }) },
  },
  {
    name: 'text/plain',
    status: 415,
    type: 'unsupported-media-type',
    request: { body: json(valid), headers: { 'content-type': 'text/plain' } },
  },
  {
    name: 'no content type',
    status: 415,
    type: 'unsupported-media-type',
    request: { body: json(valid), headers: { 'content-type': '' } },
  },
  {
    name: 'form encoding',
    status: 415,
    type: 'unsupported-media-type',
    request: { body: 'customerId=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  },
  {
    name: 'UTF-16 JSON',
    status: 415,
    type: 'unsupported-media-type',
    request: { body: json(valid), headers: { 'content-type': 'application/json; charset=utf-16' } },
  },
  {
    name: 'an array instead of an object',
    status: 422,
    type: 'invalid-request',
    request: { body: json([valid]) },
  },
  { name: 'null', status: 422, type: 'invalid-request', request: { body: 'null' } },
  {
    name: 'a missing customerId',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ items: valid.items }) },
  },
  {
    name: 'a numeric customerId',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, customerId: 42 }) },
  },
  {
    name: 'an empty customerId',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, customerId: '' }) },
  },
  {
    name: 'a 200-character customerId',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, customerId: 'c'.repeat(200) }) },
  },
  {
    name: 'a NUL in customerId',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, customerId: 'ada\u0000' }) },
  },
  {
    name: 'a right-to-left override in customerId',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, customerId: 'ada\u202Egpj.exe' }) },
  },
  {
    name: 'a lone surrogate in customerId',
    status: 422,
    type: 'invalid-request',
    request: { body: '{"customerId":"ad\\ud800a","items":[{"sku":"WIDGET","quantity":1}]}' },
  },
  {
    name: 'path traversal as customerId',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, customerId: '../../etc/passwd' }) },
  },
  { name: 'no items', status: 422, type: 'invalid-request', request: { body: json({ customerId: 'ada' }) } },
  {
    name: 'an empty item list',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: [] }) },
  },
  {
    name: 'items as an object',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: { sku: 'WIDGET', quantity: 1 } }) },
  },
  {
    name: '51 lines',
    status: 422,
    type: 'invalid-request',
    request: {
      body: json({ ...valid, items: Array.from({ length: 51 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })) }),
    },
  },
  {
    name: 'quantity 0',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: [{ sku: 'WIDGET', quantity: 0 }] }) },
  },
  {
    name: 'a negative quantity',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: [{ sku: 'WIDGET', quantity: -3 }] }) },
  },
  {
    name: 'a fractional quantity',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: [{ sku: 'WIDGET', quantity: 1.5 }] }) },
  },
  {
    name: 'a huge quantity',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: [{ sku: 'WIDGET', quantity: 1e9 }] }) },
  },
  {
    name: 'a quantity of 1e400 (Infinity)',
    status: 422,
    type: 'invalid-request',
    request: { body: '{"customerId":"ada","items":[{"sku":"WIDGET","quantity":1e400}]}' },
  },
  {
    name: 'a quantity as a string',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: [{ sku: 'WIDGET', quantity: '2' }] }) },
  },
  {
    name: 'an unknown top-level property',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, coupon: 'FREE' }) },
  },
  {
    name: 'a client-side price (money from the client)',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: [{ sku: 'WIDGET', quantity: 1, unitPrice: 1 }] }) },
  },
  {
    name: 'a client-side total',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, total: 1 }) },
  },
  {
    name: 'a lower-case SKU',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, items: [{ sku: 'widget', quantity: 1 }] }) },
  },
  {
    name: 'an unknown SKU',
    status: 422,
    type: 'invalid-order',
    request: { body: json({ ...valid, items: [{ sku: 'NOPE', quantity: 1 }] }) },
  },
  {
    name: 'the same SKU twice',
    status: 422,
    type: 'invalid-order',
    request: {
      body: json({
        ...valid,
        items: [
          { sku: 'WIDGET', quantity: 1 },
          { sku: 'WIDGET', quantity: 2 },
        ],
      }),
    },
  },
  {
    name: 'a currency an item is not sold in',
    status: 422,
    type: 'invalid-order',
    request: { body: json({ ...valid, items: [{ sku: 'RARE', quantity: 1 }], currency: 'USD' }) },
  },
  {
    name: 'an unknown currency',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, currency: 'XXX' }) },
  },
  {
    name: 'a lower-case currency',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, currency: 'eur' }) },
  },
  {
    name: 'an unassigned country code',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, shippingCountry: 'ZZ' }) },
  },
  {
    name: 'a lower-case country code',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, shippingCountry: 'de' }) },
  },
  {
    name: 'a payment token that is not a token',
    status: 422,
    type: 'invalid-request',
    request: { body: json({ ...valid, paymentToken: '4111 1111 1111 1111' }) },
  },
  {
    name: 'an Idempotency-Key of 300 characters',
    status: 400,
    type: 'invalid-idempotency-key',
    request: { body: json(valid), headers: { 'idempotency-key': 'k'.repeat(300) } },
  },
  {
    name: 'an Idempotency-Key with spaces',
    status: 400,
    type: 'invalid-idempotency-key',
    request: { body: json(valid), headers: { 'idempotency-key': 'not a key' } },
  },
  {
    name: 'an empty Idempotency-Key',
    status: 400,
    type: 'invalid-idempotency-key',
    request: { body: json(valid), headers: { 'idempotency-key': '""' } },
  },
  {
    name: 'a spoofed CloudEvents header',
    status: 400,
    type: 'spoofed-header',
    request: { body: json(valid), headers: { 'ce-id': 'forged' } },
  },
  {
    name: 'a spoofed internal header',
    status: 400,
    type: 'spoofed-header',
    request: { body: json(valid), headers: { 'x-herald-attempt': '9' } },
  },
  {
    name: 'GET of a malformed order id',
    status: 400,
    type: 'invalid-parameter',
    request: { method: 'GET', url: '/orders/not-an-id' },
  },
  {
    name: 'GET of an id with a traversal',
    status: 400,
    type: 'invalid-parameter',
    request: { method: 'GET', url: '/orders/..%2F..%2Fetc' },
  },
  {
    name: 'GET of an unknown order',
    status: 404,
    type: 'not-found',
    request: { method: 'GET', url: `/orders/${UUID}` },
  },
  {
    name: 'GET with a negative wait',
    status: 400,
    type: 'invalid-parameter',
    request: { method: 'GET', url: `/orders/${UUID}?wait=-1` },
  },
  {
    name: 'GET with a wait of an hour',
    status: 400,
    type: 'invalid-parameter',
    request: { method: 'GET', url: `/orders/${UUID}?wait=3600` },
  },
  {
    name: 'GET with an unknown query parameter',
    status: 400,
    type: 'invalid-parameter',
    request: { method: 'GET', url: `/orders/${UUID}?debug=1` },
  },
  {
    name: 'GET with a malformed consistency token',
    status: 400,
    type: 'invalid-parameter',
    request: { method: 'GET', url: `/orders/${UUID}?consistentWith=abc` },
  },
  {
    name: 'GET with a token of another topic',
    status: 422,
    type: 'unknown-position',
    request: { method: 'GET', url: `/orders/${UUID}?consistentWith=payments:0:0` },
  },
  {
    name: 'GET with a token from the future',
    status: 422,
    type: 'unknown-position',
    request: { method: 'GET', url: `/orders/${UUID}?consistentWith=orders:0:999999` },
  },
  {
    name: 'GET with a malformed asOf',
    status: 400,
    type: 'invalid-parameter',
    request: { method: 'GET', url: `/orders/${UUID}?asOf=yesterday` },
  },
  {
    name: 'an unknown route',
    status: 404,
    type: 'not-found',
    request: { method: 'GET', url: '/admin/../../etc/passwd' },
  },
];

function send(app: FastifyInstance, c: Case): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...c.request.headers };
  if (headers['content-type'] === '') delete headers['content-type'];
  const method = c.request.method ?? 'POST';
  return app.inject({
    method,
    url: c.request.url ?? '/orders',
    headers,
    ...(method === 'POST' ? { payload: c.request.body ?? '' } : {}),
  });
}

function assertProblem(response: LightMyRequestResponse, status: number, type: string, what: string): void {
  assert.equal(response.statusCode, status, `${what}: ${response.body}`);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/, what);
  const problem = response.json<{ type: string; title: string; status: number; detail: string }>();
  // inject() addresses the app as http://localhost:80: types are absolute URIs on that base.
  assert.equal(problem.type, `http://localhost:80/problems/${type}`, what);
  assert.equal(problem.status, status, what);
  assert.ok(
    problem.title.length > 0 && problem.detail.length > 0,
    `${what}: title and detail say what is wrong`,
  );
}

describe('the orders API', { timeout: 60_000 }, () => {
  let folder: TempFolder;
  let system: OrderSystem;

  before(async () => {
    folder = tempFolder();
    // Injected errors alternate with successes (error rate 0.5 fails every other call), so no
    // event can use up its retries by bad luck: the test checks retrying, not the dice.
    let draws = 0;
    system = await openTestSystem(folder, { faultRandom: () => (draws++ % 2 === 0 ? 0.25 : 0.75) });
  });
  after(async () => {
    await system.stop();
    folder[Symbol.dispose]();
  });

  const trace = async () => ({
    events: await countEvents(system.log, ALL_TOPICS),
    orders: (await system.store.list(COLLECTIONS.orders)).length,
    keys: (await system.store.list(COLLECTIONS.idempotencyKeys)).length,
  });

  it(`answers each of ${CORPUS.length} bad requests with a clear problem and stores nothing`, async () => {
    assert.ok(CORPUS.length >= 30);
    const app = apiOf(system);
    const before = await trace();
    for (const c of CORPUS) assertProblem(await send(app, c), c.status, c.type, c.name);
    assert.deepEqual(await trace(), before, 'nothing stored, nothing appended');
    // The process survived all of it.
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });

  it('says where each schema problem is, as JSON pointers', async () => {
    const response = await postOrder(
      apiOf(system),
      json({ customerId: 7, items: [{ sku: 'WIDGET', quantity: 0, x: 1 }] }),
    );
    const problem = response.json<{ errors: { pointer: string }[] }>();
    assert.deepEqual(problem.errors.map((e) => e.pointer).sort(), [
      '/customerId',
      '/items/0/quantity',
      '/items/0/x',
    ]);
  });

  it('refuses request headers that are too large, before Fastify, still as problem+json', async () => {
    const app = apiOf(system);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const before = await trace();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(
        `POST /orders HTTP/1.1\r\nHost: x\r\nX-Flood: ${'a'.repeat(20_000)}\r\ncontent-length: 2\r\n\r\n{}`,
      );
    });
    assert.match(answer, /^HTTP\/1\.1 431 /);
    assert.match(answer, /content-type: application\/problem\+json/);
    assert.ok(answer.includes(`"type":"http://127.0.0.1:${port}/problems/header-too-large"`), answer);
    assert.deepEqual(await trace(), before);
  });

  it('answers a retried POST with the same Idempotency-Key and body with the original answer', async () => {
    const app = apiOf(system);
    const before = await trace();
    const headers = { 'idempotency-key': '"retry-1"' };
    const first = await postOrder(app, valid, headers);
    const second = await postOrder(app, valid, headers);
    assert.equal(first.statusCode, 202);
    assert.equal(second.statusCode, 202);
    assert.deepEqual(second.json(), first.json());
    assert.equal(second.headers['location'], first.headers['location']);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    const after = await trace();
    assert.equal(after.orders, before.orders + 1, 'one order');
    assert.equal(after.keys, before.keys + 1);
    const { orderId } = first.json<{ orderId: string }>();
    const placed = (await eventsOf(system.log, TOPICS.orders)).filter(
      (e) => e.partitionkey === orderId && e.type.endsWith('order-placed.v1'),
    );
    assert.equal(placed.length, 1, 'one OrderPlaced');

    const other = await postOrder(app, { ...valid, items: [{ sku: 'WIDGET', quantity: 2 }] }, headers);
    assertProblem(other, 422, 'idempotency-key-reused', 'same key, other body');
    assert.equal((await trace()).orders, after.orders);

    // Keys are the customer's own: another customer's request with the same key is its own order.
    const someoneElse = await postOrder(app, { ...valid, customerId: 'grace' }, headers);
    assert.equal(someoneElse.statusCode, 202, someoneElse.body);
    assert.notEqual(someoneElse.json<{ orderId: string }>().orderId, orderId);
    assert.equal(someoneElse.headers['idempotent-replayed'], undefined);
  });

  it('answers 409 to a request whose Idempotency-Key is still being handled, then the original answer', async () => {
    const app = apiOf(system);
    const before = await trace();
    // Hold the store's write queue so the first request is caught mid-flight, deterministically.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holding = system.store.transaction(() => gate);
    const headers = { 'idempotency-key': 'concurrent-1' };
    const first = postOrder(app, valid, headers);
    await eventually('the first request to hold its key', async () =>
      system.api!.placement.handling(valid.customerId, 'concurrent-1') ? true : undefined,
    );
    const concurrent = await Promise.all([postOrder(app, valid, headers), postOrder(app, valid, headers)]);
    for (const response of concurrent)
      assertProblem(response, 409, 'idempotency-key-in-flight', 'concurrent same key');
    assert.equal(concurrent[0].headers['retry-after'], '1');
    release();
    await holding;
    const accepted = await first;
    assert.equal(accepted.statusCode, 202);
    const replayed = await postOrder(app, valid, headers);
    assert.equal(replayed.statusCode, 202);
    assert.equal(replayed.json<{ orderId: string }>().orderId, accepted.json<{ orderId: string }>().orderId);
    const after = await trace();
    assert.equal(after.orders, before.orders + 1);
    assert.equal(after.events - before.events >= 1, true);
    assert.equal(
      (await eventsOf(system.log, TOPICS.orders)).filter(
        (e) =>
          e.partitionkey === accepted.json<{ orderId: string }>().orderId &&
          e.type.endsWith('order-placed.v1'),
      ).length,
      1,
    );
  });

  it('serves the catalog, stock, health, metrics and the OpenAPI document', async () => {
    const app = apiOf(system);
    const catalog = (await app.inject('/catalog')).json<{ items: { sku: string; prices: object }[] }>();
    assert.deepEqual(
      catalog.items.map((i) => i.sku),
      ['GADGET', 'RARE', 'WIDGET'],
    );
    assert.deepEqual((await app.inject('/inventory/RARE')).json(), {
      sku: 'RARE',
      available: 2,
      reserved: 0,
    });
    assertProblem(await app.inject('/inventory/NOPE'), 404, 'not-found', 'unknown SKU');
    assert.equal((await app.inject('/readyz')).statusCode, 200);

    const { orderId } = await placeOrder(app, valid);
    await settled(app, orderId);
    const metrics = await app.inject('/metrics');
    assert.match(
      metrics.body,
      /herald_events_processed_total\{group="inventory\.reservations",topic="orders"/,
    );
    assert.match(
      metrics.body,
      /herald_consumer_lag\{group="payment\.authorizations",topic="orders",partition="\d"\} \d+/,
    );
    assert.match(
      metrics.body,
      /herald_http_requests_total\{method="POST",route="\/orders",status="202"\} \d+/,
    );
    // Request durations as a histogram, by the semantic conventions' name, labels and buckets:
    // a dashboard computes p99 from it.
    assert.match(metrics.body, /^# TYPE http_server_request_duration_seconds histogram$/m);
    for (const le of ['0.005', '0.1', '1', '10', '+Inf']) {
      assert.match(
        metrics.body,
        new RegExp(
          `^http_server_request_duration_seconds_bucket\\{le="${le.replace('+', '\\+')}",http_request_method="POST",http_route="/orders",http_response_status_code="202"\\} \\d+$`,
          'm',
        ),
        `the ${le} bucket`,
      );
    }
    // The runtime's own metrics: the process and Node.js, once.
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.equal(metrics.body.match(new RegExp(`^${name} `, 'gm'))?.length, 1, `${name} once`);
    }
    // What the API wrote through its producer, by the messaging conventions.
    assert.match(
      metrics.body,
      /^messaging_client_sent_messages_total\{messaging_system="herald_sqlite",messaging_operation_name="send",messaging_destination_name="orders"\} [1-9]/m,
    );

    const openapi = (await app.inject('/openapi.json')).json<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: { PlaceOrder: { additionalProperties: boolean; required: string[] } } };
    }>();
    assert.equal(openapi.openapi, '3.1.0');
    for (const path of [
      '/orders',
      '/orders/{orderId}',
      '/orders/{orderId}/events',
      '/catalog',
      '/inventory/{sku}',
      '/metrics',
    ]) {
      assert.ok(path in openapi.paths, path);
    }
    assert.equal(openapi.components.schemas.PlaceOrder.additionalProperties, false);
    assert.deepEqual(openapi.components.schemas.PlaceOrder.required.sort(), ['customerId', 'items']);
  });

  it('guards /admin/faults with the bearer token', async () => {
    const app = apiOf(system);
    assertProblem(await app.inject('/admin/faults'), 401, 'unauthorized', 'no token');
    assertProblem(
      await app.inject({ url: '/admin/faults', headers: { authorization: 'Bearer wrong' } }),
      401,
      'unauthorized',
      'wrong token',
    );
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    assert.equal((await app.inject({ url: '/admin/faults', headers: admin })).statusCode, 200);
    assertProblem(
      await app.inject({
        method: 'PUT',
        url: '/admin/faults/payment',
        headers: admin,
        payload: json({ errorRate: 2 }),
      }),
      422,
      'invalid-request',
      'error rate above 1',
    );
    assertProblem(
      await app.inject({
        method: 'PUT',
        url: '/admin/faults/orders',
        headers: admin,
        payload: json({ outage: true }),
      }),
      404,
      'not-found',
      'orders takes no faults',
    );
  });

  it('applies injected faults: errors are retried, latency delays, an outage stops a consumer until lifted', async () => {
    const app = apiOf(system);
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const put = (service: string, settings: object) =>
      app.inject({ method: 'PUT', url: `/admin/faults/${service}`, headers: admin, payload: json(settings) });

    assert.equal((await put('inventory', { errorRate: 0.5 })).statusCode, 200);
    assert.equal((await put('fraud', { latencyMs: 200 })).statusCode, 200);
    assert.equal((await put('notification', { outage: true })).statusCode, 200);
    await eventually('the notification consumer to stop', async () =>
      (await system.log.describeGroup(GROUPS.notification)).members.length === 0 ? true : undefined,
    );

    const started = Date.now();
    const orders = await Promise.all(
      ['f1', 'f2', 'f3', 'f4'].map((customerId) =>
        placeOrder(app, { customerId, items: [{ sku: 'WIDGET', quantity: 1 }] }),
      ),
    );
    for (const { orderId } of orders) {
      const view = await getOrder(app, orderId, '?wait=20');
      assert.equal(
        view.status,
        'confirmed',
        `transient errors were retried until they passed; dead letters: ${(await deadLetters(system.log)).join(' | ')}`,
      );
    }
    assert.ok(Date.now() - started >= 200, 'fraud took at least its injected latency');
    for (const { orderId } of orders) {
      assert.equal(
        (await getOrder(app, orderId)).steps.notification,
        'pending',
        'nobody mails during the outage',
      );
    }
    const metrics = (await app.inject('/metrics')).body;
    assert.match(metrics, /herald_events_retried_total\{group="inventory\.reservations"[^}]*\} [1-9]/);
    assert.match(
      metrics,
      /herald_consumer_lag\{group="notification\.mailer",topic="orders",partition="\d"\} [1-9]/,
    );

    const cleared = await app.inject({
      method: 'DELETE',
      url: '/admin/faults',
      headers: { authorization: admin.authorization },
    });
    assert.equal(cleared.statusCode, 204);
    for (const { orderId } of orders) assert.equal((await settled(app, orderId)).steps.notification, 'sent');
  });

  it('answers 503 when the view cannot reach a consistency token in time', async () => {
    const app = apiOf(system);
    const view = system.runners.find((r) => r.service.name === 'orders')!;
    await view.stop();
    const { orderId, consistencyToken } = await placeOrder(app, valid);
    const response = await app.inject(
      `/orders/${orderId}?consistentWith=${encodeURIComponent(consistencyToken)}&wait=0.3`,
    );
    assertProblem(response, 503, 'view-behind', 'the view is stopped');
    assert.equal(response.headers['retry-after'], '1');
    assert.equal((await app.inject('/readyz')).statusCode, 503, 'not ready with a stopped service');
  });

  it('never answers 202 without a durable append: a log that fails gives 503 and keeps nothing', async () => {
    const app = apiOf(system);
    await system.log.close();
    const response = await postOrder(app, valid, { 'idempotency-key': 'after-failure' });
    assertProblem(response, 503, 'unavailable', 'the log is gone');
  });
});

describe('the orders API under a burst', () => {
  it('answers every route with security headers: nosniff, no framing, a CSP that allows nothing', async () => {
    using folder = tempFolder();
    const system = await openTestSystem(folder, { services: ['orders'] });
    try {
      const app = apiOf(system);
      for (const url of ['/healthz', '/openapi.json', '/analytics', '/no-such-route']) {
        const response = await app.inject(url);
        assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
        assert.equal(response.headers['x-frame-options'], 'DENY', url);
        assert.match(String(response.headers['content-security-policy']), /default-src 'none'/, url);
        assert.match(String(response.headers['content-security-policy']), /frame-ancestors 'none'/, url);
      }
      assert.equal(app.server.maxConnections, 1024);
    } finally {
      await system.stop();
    }
  });

  it('answers 429 with Retry-After above the rate limit, storing nothing', async () => {
    using folder = tempFolder();
    const system = await openTestSystem(folder, {
      services: ['orders'],
      http: { adminToken: ADMIN_TOKEN, rateLimit: { perSecond: 1, burst: 3 } },
    });
    try {
      const app = apiOf(system);
      const statuses: number[] = [];
      let limited: LightMyRequestResponse | undefined;
      for (let i = 0; i < 6; i++) {
        const response = await postOrder(app, json({ customerId: 'burst' }));
        statuses.push(response.statusCode);
        if (response.statusCode === 429) limited = response;
      }
      assert.deepEqual(statuses.slice(0, 3), [422, 422, 422]);
      assert.ok(limited !== undefined, `no 429 in ${statuses.join()}`);
      assertProblem(limited, 429, 'too-many-requests', 'burst');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.equal((await system.store.list(COLLECTIONS.orders)).length, 0);
      assert.equal(limited.headers['ratelimit-limit'], '3');
      assert.equal(limited.headers['ratelimit-remaining'], '0');
      assert.equal((await app.inject('/healthz')).statusCode, 200, 'health is never rate limited');
      // Every other route shares the client's bucket, which is empty now.
      for (const url of ['/analytics', '/metrics', '/openapi.json', '/admin/faults', '/loyalty/burst'])
        assert.equal((await app.inject(url)).statusCode, 429, `${url} is rate limited too`);
    } finally {
      await system.stop();
    }
  });

  it('limits each client address on its own: one client above its share leaves another untouched', async () => {
    using folder = tempFolder();
    const system = await openTestSystem(folder, {
      services: ['orders'],
      http: { adminToken: ADMIN_TOKEN, rateLimit: { perSecond: 1, burst: 2 } },
    });
    try {
      const app = apiOf(system);
      const from = (remoteAddress: string) => app.inject({ url: '/catalog', remoteAddress });
      const first = [await from('10.0.0.1'), await from('10.0.0.1'), await from('10.0.0.1')];
      assert.deepEqual(
        first.map((r) => r.statusCode),
        [200, 200, 429],
      );
      assert.equal(first[0]?.headers['ratelimit-remaining'], '1', 'the first answer says one is left');
      const other = await from('10.0.0.2');
      assert.equal(other.statusCode, 200, 'another client has its own share');
      assert.equal(other.headers['ratelimit-remaining'], '1');
    } finally {
      await system.stop();
    }
  });

  it('does not limit at all with a rate of 0 (HERALD_RATE_LIMIT=0)', async () => {
    using folder = tempFolder();
    const system = await openTestSystem(folder, {
      services: ['orders'],
      http: { adminToken: ADMIN_TOKEN, rateLimit: { perSecond: 0, burst: 0 } },
    });
    try {
      const app = apiOf(system);
      for (let i = 0; i < 50; i++) {
        const response = await app.inject('/catalog');
        assert.equal(response.statusCode, 200, `request ${i}`);
        assert.equal(response.headers['ratelimit-limit'], undefined, 'no RateLimit-* headers when off');
      }
    } finally {
      await system.stop();
    }
  });
});
