// The orders API (ORDERS.md, "HTTP API"): Fastify routes over OrderPlacement and OrderQueries.
// Every error is RFC 9457 problem+json; a rejected request stores and appends nothing.
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  type EventLog,
  type MetricsMiddleware,
  type Store,
  isHeraldError,
  renderMetrics,
} from '@herald/core';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { z } from 'zod';
import type { Funnel, Revenue } from '@herald/orders-domain/analytics.ts';
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import type { LoyaltyAccount } from '@herald/orders-domain/loyalty.ts';
import type { OrderView } from '@herald/orders-domain/order-view.ts';
import { isFinal } from '@herald/orders-domain/order-view.ts';
import { FUNNEL_ID } from '../services/analytics/analytics-service.ts';
import { type FaultController, faultSettingsSchema } from '../services/faults.ts';
import type { OrderPlacement } from '../services/orders/order-placement.ts';
import { type OrderQueries, parseConsistencyToken } from '../services/orders/order-queries.ts';
import { COLLECTIONS } from '@herald/orders-domain/topology.ts';
import { HttpMetrics } from './http-metrics.ts';
import { parseJsonBody } from '@herald/orders-domain/http/json-body.ts';
import { buildOpenApiDocument } from './openapi.ts';
import {
  PROBLEM_CONTENT_TYPE,
  type Problem,
  ProblemError,
  problemOf,
  sendProblem,
} from '@herald/orders-domain/http/problem.ts';
import { type RateLimitOptions, RateLimiter } from './rate-limit.ts';
import {
  LIMITS,
  customerParamsSchema,
  faultServiceParamsSchema,
  orderParamsSchema,
  orderQuerySchema,
  placeOrderBody,
  skuParamsSchema,
} from '@herald/orders-domain/http/schemas.ts';
import { withServerSpan } from './server-span.ts';

/** Settings of the API. */
export interface HttpOptions {
  /** Bearer token of `/admin/*`. */
  readonly adminToken: string;
  /** Per client address. Default 200 requests/s, bursts of 400. */
  readonly rateLimit?: RateLimitOptions;
  /** How long `?consistentWith` waits when no `?wait` is given. Default 10 s. */
  readonly consistencyWaitMs?: number;
  /** Longest an SSE stream stays open. Default 5 minutes. */
  readonly sseMaxMs?: number;
}

/** What the API reads and writes through. */
export interface HttpDependencies {
  readonly log: EventLog;
  /** The orders service's store: orders, the catalog, the order view. */
  readonly store: Store;
  /**
   * The store of the service whose view a read serves (stock, loyalty, analytics). Default: `store`,
   * which every service shares on the embedded log.
   */
  readonly storeOf?: (service: 'inventory' | 'loyalty' | 'analytics') => Store;
  readonly placement: OrderPlacement;
  readonly queries: OrderQueries;
  readonly faults: FaultController;
  readonly registry: MetricsMiddleware['registry'];
  /** Whether the system takes traffic, and why not. */
  readonly readiness: () => { readonly ready: boolean; readonly detail: string };
  /** Aborted when the process shuts down: waiting reads and SSE streams end. */
  readonly shutdown: AbortSignal;
  readonly onError: (message: string, error: unknown) => void;
}

/** Request headers only the system itself may set: a client sending one is refused. */
const RESERVED_HEADER = /^(ce-|x-herald-)/;
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:~+/=-]{1,255}$/;
const SSE_HEARTBEAT_MS = 15_000;
const UNAVAILABLE_CODES = new Set(['BACKEND_UNAVAILABLE', 'CLOSED', 'TIMEOUT', 'CORRUPT_LOG', 'CONTENTION']);

/**
 * Builds the Fastify app (not listening yet: `app.listen`, or `app.inject` in tests).
 *
 * @example const app = buildHttpApp(deps, { adminToken }); await app.listen({ port: 3000 });
 */
export function buildHttpApp(deps: HttpDependencies, options: HttpOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: LIMITS.bodyBytes,
    // Slow clients: the whole request must arrive within this time.
    requestTimeout: 15_000,
    keepAliveTimeout: 10_000,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    clientErrorHandler: answerClientError,
  });
  const limiter = new RateLimiter(options.rateLimit ?? { perSecond: 200, burst: 400 });
  const httpMetrics = new HttpMetrics();
  const consistencyWaitMs = options.consistencyWaitMs ?? 10_000;
  const sseMaxMs = options.sseMaxMs ?? 300_000;
  const adminToken = Buffer.from(options.adminToken);
  const storeOf = deps.storeOf ?? (() => deps.store);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, LIMITS.depth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.addHook('onRequest', async (request) => {
    (request as { startedAt?: number }).startedAt = performance.now();
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/orders') && !path.startsWith('/inventory') && !path.startsWith('/catalog')) return;
    const { allowed, retryAfterSeconds } = limiter.take(request.ip);
    if (!allowed) {
      throw new ProblemError(
        problemOf(
          429,
          'too-many-requests',
          `slow down: at most ${(options.rateLimit ?? { perSecond: 200 }).perSecond} requests per second`,
        ),
        {
          'retry-after': String(retryAfterSeconds),
        },
      );
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    const started = (request as { startedAt?: number }).startedAt ?? performance.now();
    httpMetrics.observe(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      (performance.now() - started) / 1000,
    );
  });

  app.setErrorHandler((error: FastifyError | ProblemError | Error, request, reply) => {
    const instance = request.url.split('?')[0] ?? '/';
    if (error instanceof ProblemError)
      return sendProblem(reply, { ...error.problem, instance }, error.headers);
    const answer = problemForError(error);
    if (answer.status >= 500 && answer.status !== 503)
      deps.onError(`${request.method} ${instance} failed`, error);
    return sendProblem(reply, { ...answer, instance }, answer.status === 503 ? { 'retry-after': '1' } : {});
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problemOf(404, 'not-found', `no route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

  // POST /orders ------------------------------------------------------------------------------
  app.post('/orders', { onRequest: [refuseReservedHeaders, requireJson] }, async (request, reply) =>
    withServerSpan(request, '/orders', async (span) => {
      const key = idempotencyKeyOf(request.headers['idempotency-key']);
      const body = validate(placeOrderBody, request.body, 422, 'invalid-request');
      const outcome = await deps.placement.place(
        {
          customerId: body.customerId,
          items: body.items,
          currency: body.currency,
          paymentToken: body.paymentToken,
          shippingCountry: body.shippingCountry ?? null,
        },
        key,
      );
      switch (outcome.kind) {
        case 'accepted': {
          span.setAttribute('herald.order_id', outcome.order.orderId);
          reply.code(202).header('location', outcome.order.links.self);
          if (outcome.replayed) reply.header('idempotent-replayed', 'true');
          return { status: 202, value: reply.send(outcome.order) };
        }
        case 'invalid':
          throw new ProblemError(
            problemOf(422, 'invalid-order', outcome.problems.map((p) => p.detail).join('; '), {
              errors: outcome.problems.map((p) => ({ pointer: p.pointer, detail: p.detail })),
            }),
          );
        case 'key-reused':
          throw new ProblemError(
            problemOf(
              422,
              'idempotency-key-reused',
              'this Idempotency-Key was used before with a different request body',
            ),
          );
        case 'key-in-flight':
          throw new ProblemError(
            problemOf(
              409,
              'idempotency-key-in-flight',
              'a request with this Idempotency-Key is being handled; retry later',
            ),
            { 'retry-after': '1' },
          );
      }
    }),
  );

  // GET /orders/:orderId ----------------------------------------------------------------------
  app.get('/orders/:orderId', async (request, reply) => {
    const { orderId } = validate(orderParamsSchema, request.params, 400, 'invalid-parameter');
    const query = validate(orderQuerySchema, request.query, 400, 'invalid-parameter');
    reply.header('cache-control', 'no-store');
    if (query.asOf !== undefined) {
      if (query.wait !== undefined || query.consistentWith !== undefined) {
        throw new ProblemError(
          problemOf(400, 'invalid-parameter', 'asOf cannot be combined with wait or consistentWith'),
        );
      }
      const at = Date.parse(query.asOf);
      const view = await deps.queries.asOf(orderId, at);
      if (view === undefined) {
        throw new ProblemError(
          problemOf(404, 'not-found', `order ${orderId} did not exist at ${query.asOf}`),
        );
      }
      return { ...viewBody(view), asOf: new Date(at).toISOString() };
    }
    const signal = requestSignal(reply, deps.shutdown);
    if (query.consistentWith !== undefined) {
      const target = parseConsistencyToken(query.consistentWith);
      if (target === undefined) {
        throw new ProblemError(
          problemOf(
            400,
            'invalid-parameter',
            'consistentWith must be a consistency token, <topic>:<partition>:<offset> or event:<event id>',
          ),
        );
      }
      if (!(await deps.queries.exists(target))) {
        throw new ProblemError(
          problemOf(
            422,
            'unknown-position',
            target.kind === 'event'
              ? `${query.consistentWith} names the event of an order never placed`
              : `${query.consistentWith} is not a position of topic orders`,
          ),
        );
      }
      const waitMs = query.wait === undefined ? consistencyWaitMs : query.wait * 1000;
      if (!(await deps.queries.waitForToken(target, waitMs, signal))) {
        throw new ProblemError(
          problemOf(
            503,
            'view-behind',
            `the order view has not processed ${query.consistentWith} yet; retry`,
          ),
          { 'retry-after': '1' },
        );
      }
    }
    const view =
      query.wait === undefined || query.consistentWith !== undefined
        ? await deps.queries.view(orderId)
        : await deps.queries.waitFor(orderId, isFinal, query.wait * 1000, signal);
    if (view === undefined) throw new ProblemError(problemOf(404, 'not-found', `no order ${orderId}`));
    return viewBody(view);
  });

  // GET /orders/:orderId/events (SSE) ---------------------------------------------------------
  app.get('/orders/:orderId/events', async (request, reply) => {
    const { orderId } = validate(orderParamsSchema, request.params, 400, 'invalid-parameter');
    validate(orderQuerySchema.pick({}), request.query, 400, 'invalid-parameter');
    if ((await deps.queries.view(orderId)) === undefined) {
      throw new ProblemError(problemOf(404, 'not-found', `no order ${orderId}`));
    }
    const signal = requestSignal(reply, deps.shutdown);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    try {
      for await (const view of deps.queries.watch(orderId, signal, sseMaxMs)) {
        raw.write(`event: order\nid: ${view.version}\ndata: ${JSON.stringify(viewBody(view))}\n\n`);
      }
    } catch (error) {
      deps.onError(`SSE stream of ${orderId} failed`, error);
    } finally {
      clearInterval(heartbeat);
      raw.end();
    }
  });

  // Catalog, inventory, loyalty, analytics ----------------------------------------------------
  app.get('/catalog', async () => {
    const items = (await deps.store.list<CatalogItem>(COLLECTIONS.catalog)).map(({ value }) => ({
      sku: value.sku,
      name: value.name,
      prices: value.prices,
    }));
    return { items };
  });

  app.get('/inventory/:sku', async (request) => {
    const { sku } = validate(skuParamsSchema, request.params, 400, 'invalid-parameter');
    const level = await storeOf('inventory').get<StockLevel>(COLLECTIONS.stock, sku);
    if (level === undefined) throw new ProblemError(problemOf(404, 'not-found', `no stock for ${sku}`));
    return level;
  });

  app.get('/loyalty/:customerId', async (request) => {
    const { customerId } = validate(customerParamsSchema, request.params, 400, 'invalid-parameter');
    const account = await storeOf('loyalty').get<LoyaltyAccount>(COLLECTIONS.loyaltyAccounts, customerId);
    if (account === undefined)
      throw new ProblemError(problemOf(404, 'not-found', `no loyalty account for ${customerId}`));
    return account;
  });

  app.get('/analytics', async () => ({
    funnel: (await storeOf('analytics').get<Funnel>(COLLECTIONS.funnel, FUNNEL_ID)) ?? null,
    revenue: (await storeOf('analytics').list<Revenue>(COLLECTIONS.revenue)).map((r) => r.value),
  }));

  // Operations ---------------------------------------------------------------------------------
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    const { ready, detail } = deps.readiness();
    if (!ready) throw new ProblemError(problemOf(503, 'unavailable', detail), { 'retry-after': '1' });
    return { status: 'ready', detail };
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await renderMetrics(deps.registry);
    return reply.type(contentType).send(`${body}\n${httpMetrics.render()}`);
  });

  const openapi = JSON.stringify(buildOpenApiDocument());
  app.get('/openapi.json', async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(openapi),
  );

  // Admin: faults ------------------------------------------------------------------------------
  const requireAdmin = async (request: FastifyRequest) => {
    const header = request.headers.authorization ?? '';
    const token = Buffer.from(header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '');
    if (token.length !== adminToken.length || !timingSafeEqual(token, adminToken)) {
      throw new ProblemError(problemOf(401, 'unauthorized', 'a valid admin bearer token is required'), {
        'www-authenticate': 'Bearer realm="herald-admin"',
      });
    }
  };
  app.get('/admin/faults', { onRequest: [requireAdmin] }, async () => ({ services: deps.faults.all() }));
  app.put('/admin/faults/:service', { onRequest: [requireAdmin, requireJson] }, async (request) => {
    const { service } = validate(faultServiceParamsSchema, request.params, 404, 'not-found');
    const update = validate(faultSettingsSchema, request.body, 422, 'invalid-request');
    return { service, settings: await deps.faults.update(service, update) };
  });
  app.delete('/admin/faults', { onRequest: [requireAdmin] }, async (_request, reply) => {
    await deps.faults.clear();
    return reply.code(204).send();
  });

  return app;
}

// Helpers ----------------------------------------------------------------------------------------

function viewBody(view: OrderView) {
  const { reason, detail, ...rest } = view;
  return {
    ...rest,
    ...(reason === null ? {} : { reason }),
    ...(detail === null ? {} : { detail }),
    links: { self: `/orders/${view.orderId}`, events: `/orders/${view.orderId}/events` },
  };
}

/** Validates with a zod schema; a failure is a problem listing every issue as a JSON pointer. */
function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  status: 400 | 404 | 422,
  slug: 'invalid-request' | 'invalid-parameter' | 'not-found',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((issue) => {
    const base = issue.path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        pointer: `${base}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        detail: 'unknown property',
      }));
    }
    return [{ pointer: base === '' ? '/' : base, detail: issue.message }];
  });
  const summary = errors.map((e) => `${e.pointer}: ${e.detail}`).join('; ');
  throw new ProblemError(problemOf(status, slug, summary.slice(0, 1000), { errors: errors.slice(0, 50) }));
}

function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) {
    throw new ProblemError(problemOf(400, 'invalid-idempotency-key', 'send one Idempotency-Key header'));
  }
  // The draft standard sends it as a structured-field string ("…"); a bare token is accepted too.
  const key =
    header.length >= 2 && header.startsWith('"') && header.endsWith('"') ? header.slice(1, -1) : header;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ProblemError(
      problemOf(
        400,
        'invalid-idempotency-key',
        'the Idempotency-Key must be 1-255 characters of letters, digits and _ . : ~ + / = -',
      ),
    );
  }
  return key;
}

async function requireJson(request: FastifyRequest): Promise<void> {
  const header = request.headers['content-type'];
  const [mediaType = '', ...parameters] = (header ?? '').split(';').map((s) => s.trim().toLowerCase());
  const charset = parameters
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (mediaType !== 'application/json' || (charset !== undefined && charset !== 'utf-8')) {
    throw new ProblemError(
      problemOf(
        415,
        'unsupported-media-type',
        `send the body as application/json (UTF-8), not ${header === undefined ? 'without a Content-Type' : JSON.stringify(header)}`,
      ),
    );
  }
}

async function refuseReservedHeaders(request: FastifyRequest): Promise<void> {
  const reserved = Object.keys(request.headers).filter((name) => RESERVED_HEADER.test(name));
  if (reserved.length > 0) {
    throw new ProblemError(
      problemOf(
        400,
        'spoofed-header',
        `the header(s) ${reserved.slice(0, 5).join(', ')} are set by the system itself and cannot be sent`,
      ),
    );
  }
}

/** Aborted when the client goes away or the process shuts down. */
function requestSignal(reply: FastifyReply, shutdown: AbortSignal): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => gone.abort());
  return AbortSignal.any([gone.signal, shutdown]);
}

function problemForError(error: FastifyError | Error): Problem {
  const code = (error as FastifyError).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return problemOf(413, 'body-too-large', `the body is larger than ${LIMITS.bodyBytes} bytes`);
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return problemOf(415, 'unsupported-media-type', error.message);
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return problemOf(400, 'malformed-json', 'the body is empty');
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return problemOf(400, 'bad-request', error.message);
  if (code === 'FST_ERR_PROTO_POISONING' || code === 'FST_ERR_CTP_CONSTRUCTOR_POISONING') {
    return problemOf(400, 'forbidden-property', error.message);
  }
  if (isHeraldError(error) && UNAVAILABLE_CODES.has(error.code)) {
    return problemOf(
      503,
      'unavailable',
      'the order could not be stored right now; nothing was accepted, retry later',
    );
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500)
    return problemOf(status, 'bad-request', error.message);
  return problemOf(500, 'internal-error', 'the request failed unexpectedly');
}

/** Errors Node's HTTP parser raises before Fastify sees a request: still problem+json. */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify(
    problemOf(
      status,
      tooLarge ? 'header-too-large' : 'bad-request',
      tooLarge ? 'the request headers are too large' : 'the request could not be parsed',
    ),
  );
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
