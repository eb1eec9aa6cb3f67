// The orders API (docs/orders.md, "HTTP API"): Fastify route plugins over OrderPlacement and
// OrderQueries, one per route group. This file sets what every route shares: body parsing, the
// rate limit, request metrics, and errors as RFC 9457 problem+json; a rejected request stores
// and appends nothing.
import type { Socket } from 'node:net';
import { type EventLog, type Store, isHeraldError } from '@herald/core';
import helmet from '@fastify/helmet';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Registry } from 'prom-client';
import { parseJsonBody } from '@herald/orders-domain/http/json-body.ts';
import {
  PROBLEM_CONTENT_TYPE,
  type Problem,
  ProblemError,
  problemOf,
  sendProblem,
} from '@herald/orders-domain/http/problem.ts';
import { LIMITS } from '@herald/orders-domain/http/schemas.ts';
import type { FaultController } from '@herald/orders-domain/faults.ts';
import type { OrderPlacement } from '../services/orders/order-placement.ts';
import type { OrderQueries } from '../services/orders/order-queries.ts';
import { adminRoutes } from './admin-routes.ts';
import { HttpMetrics } from './http-metrics.ts';
import { inRequestSpan, requestTraceIds, traceRequests } from './http-tracing.ts';
import { type RenderedMetrics, operationsRoutes } from './operations-routes.ts';
import { orderQueryRoutes } from './order-query-routes.ts';
import { orderRoutes } from './order-routes.ts';
import { registerOpenApi } from './openapi.ts';
import { problemRoutes, withAbsoluteType } from './problem-pages.ts';
import { type RateLimitOptions, registerRateLimit } from './rate-limit.ts';
import { problemValidatorCompiler } from './validate.ts';
import { viewRoutes } from './view-routes.ts';
import { type WaitingReadLimits, WaitingReads } from './waiting-reads.ts';

/** Settings of the API. */
export interface HttpOptions {
  /** Bearer token of `/admin/*`. */
  readonly adminToken: string;
  /** Per client address. Default 200 requests/s, bursts of 400. */
  readonly rateLimit?: RateLimitOptions;
  /** Open connections the API accepts at most; default 1024. */
  readonly maxConnections?: number;
  /** How long `?consistentWith` waits when no `?wait` is given. Default 10 s. */
  readonly consistencyWaitMs?: number;
  /** Longest an SSE stream stays open. Default 5 minutes. */
  readonly sseMaxMs?: number;
  /**
   * Waiting reads (long polls, `?consistentWith`, SSE streams) open at once, in all and per
   * client address. Default 512 and 16: beyond them 503, and 429 for the client that holds its share.
   */
  readonly waitingReads?: WaitingReadLimits;
  /**
   * A request (headers and body) must arrive within this time, else the connection is closed
   * with 408; checked every second. Default 15 s.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Which routes this app serves: `all` (default), `public` (all but `/admin/*`, when the admin
   * API has a listener of its own) or `admin` (`/admin/*` and the probes only).
   */
  readonly routes?: 'all' | 'public' | 'admin';
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
  /**
   * Everything `/metrics` serves, in Prometheus' text format: the process's registry (where the
   * API's request metrics go, see `registry`) and the consumers' metrics wherever they run.
   */
  readonly metrics: () => Promise<RenderedMetrics>;
  /** Where the API registers its request metrics; `metrics` must render it. */
  readonly registry: Registry;
  /**
   * The API's logger: one JSON line per request answered (the access log), with the trace and
   * span ids of the request's span. Default: none.
   */
  readonly logger?: FastifyBaseLogger;
  /** Whether the system takes traffic, and why not. */
  readonly readiness: () => { readonly ready: boolean; readonly detail: string };
  /** Aborted when the process shuts down: waiting reads and SSE streams end. */
  readonly shutdown: AbortSignal;
  readonly onError: (message: string, error: unknown) => void;
}

/** When each app last accepted a connection: what closeApi waits to go quiet. */
const lastConnection = new WeakMap<FastifyInstance, number>();
/** closeApi closes the listener once no connection arrived for this long. */
const DRAIN_QUIET_MS = 200;
/** …and at the latest after this long, however busy the port stays. */
const DRAIN_MAX_MS = 5_000;

/**
 * Closes the API without resetting a request a client already sent. Closing a listening socket
 * makes the kernel reset the connections still waiting in its backlog, so first the API drains:
 * `shutdown` is aborted (every new request is answered 503 with `Connection: close`, and
 * readiness reads false), and the listener stays open until no connection arrived for 200 ms
 * (at most 5 s). Then it closes, and the requests in flight finish.
 */
export async function closeApi(app: FastifyInstance): Promise<void> {
  const started = performance.now();
  for (;;) {
    const now = performance.now();
    const quietFor = now - (lastConnection.get(app) ?? 0);
    if (quietFor >= DRAIN_QUIET_MS || now - started >= DRAIN_MAX_MS) break;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_QUIET_MS - quietFor));
  }
  await app.close();
}

/**
 * Builds the Fastify app (not listening yet: `app.listen`, or `app.inject` in tests).
 *
 * @example const app = buildHttpApp(deps, { adminToken }); await app.listen({ port: 3000 });
 */
export function buildHttpApp(deps: HttpDependencies, options: HttpOptions): FastifyInstance {
  const app = Fastify({
    ...(deps.logger === undefined ? { logger: false } : { loggerInstance: deps.logger }),
    // Fastify's own "incoming request"/"request completed" pair is replaced by one access-log
    // line per answer (below), with the route and the duration.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: LIMITS.bodyBytes,
    // Slow clients: the whole request must arrive within this time. Node checks it every
    // `connectionsCheckingInterval` (30 s by default, which let a slow client hold a socket for
    // twice the timeout); every second here.
    requestTimeout: options.requestTimeoutMs ?? 15_000,
    // The headers too: Node's own headersTimeout (60 s) would otherwise govern a client that
    // trickles its headers.
    http: {
      connectionsCheckingInterval: 1_000,
      requestTimeout: options.requestTimeoutMs ?? 15_000,
      headersTimeout: options.requestTimeoutMs ?? 15_000,
    },
    keepAliveTimeout: 10_000,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    clientErrorHandler: answerClientError,
  });
  // First: every request gets its server span before any other hook runs.
  traceRequests(app);
  // Clients beyond this many open connections are turned away by the kernel's accept, before
  // any of them can hold the process's memory or file descriptors.
  app.server.maxConnections = options.maxConnections ?? 1024;
  // Security headers on every answer (nosniff, no framing, HSTS, a CSP that allows nothing:
  // the API serves JSON and event streams, never a page).
  void app.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    frameguard: { action: 'deny' },
  });
  const rateLimit = registerRateLimit(app, options.rateLimit ?? { perSecond: 200, burst: 400 });
  const httpMetrics = new HttpMetrics(deps.registry);
  // Routes declare zod schemas: requests are validated with them (a failure is a problem, see
  // validate.ts) and the OpenAPI document is generated from them. Answers are not checked
  // against their schemas, only documented.
  app.setValidatorCompiler(problemValidatorCompiler());
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerOpenApi(app);
  const methodsOf = routeMethods(app);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, LIMITS.depth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  // Every route is rate-limited per client but the probes (/healthz, /readyz): an orchestrator
  // that polls them must never read a 429 as "unhealthy"; nor are the problem pages, which a
  // client that was just refused may want to read. Answers carry RateLimit-* headers.
  app.server.on('connection', () => lastConnection.set(app, performance.now()));
  app.addHook('onRequest', async (request, reply) => {
    (request as { startedAt?: number }).startedAt = performance.now();
    if (deps.shutdown.aborted) {
      // Draining (see closeApi): answered, never reset, and the client is told to go elsewhere.
      throw new ProblemError(problemOf(503, 'unavailable', 'the service is shutting down; retry'), {
        'retry-after': '1',
        connection: 'close',
      });
    }
    const path = request.url.split('?')[0] ?? '';
    if (path === '/healthz' || path === '/readyz' || path.startsWith('/problems/')) return;
    await rateLimit?.(request, reply);
  });
  app.addHook('onResponse', async (request, reply) => {
    const started = (request as { startedAt?: number }).startedAt ?? performance.now();
    const seconds = (performance.now() - started) / 1000;
    const route = request.routeOptions.url ?? 'unmatched';
    httpMetrics.observe(request.method, route, reply.statusCode, seconds);
    // The access log, with the request span's ids: the path without its query (a query may
    // carry anything), never a header.
    inRequestSpan(request, () =>
      request.log.info(
        {
          ...requestTraceIds(request),
          method: request.method,
          route,
          path: request.url.split('?')[0],
          status: reply.statusCode,
          durationMs: Math.round(seconds * 100_000) / 100,
        },
        'request answered',
      ),
    );
  });

  app.setErrorHandler((error: FastifyError | ProblemError | Error, request, reply) => {
    const instance = request.url.split('?')[0] ?? '/';
    const base = baseUrlOf(request);
    if (error instanceof ProblemError)
      return sendProblem(reply, withAbsoluteType({ ...error.problem, instance }, base), error.headers);
    const answer = problemForError(error);
    if (answer.status >= 500 && answer.status !== 503)
      deps.onError(`${request.method} ${instance} failed`, error);
    return sendProblem(
      reply,
      withAbsoluteType({ ...answer, instance }, base),
      answer.status === 503 ? { 'retry-after': '1' } : {},
    );
  });
  // A path no route has is 404; a path that routes serve with other methods is 405, and `Allow`
  // lists those methods (RFC 9110 §15.5.6).
  app.setNotFoundHandler((request, reply) => {
    const instance = request.url.split('?')[0] ?? '/';
    const allowed = methodsOf(instance);
    const problem =
      allowed.length === 0
        ? problemOf(404, 'not-found', `no route for ${request.method} ${instance}`, { instance })
        : problemOf(
            405,
            'method-not-allowed',
            `${instance} does not take ${request.method}; it takes ${allowed.join(', ')}`,
            { instance },
          );
    return sendProblem(
      reply,
      withAbsoluteType(problem, baseUrlOf(request)),
      allowed.length === 0 ? {} : { allow: allowed.join(', ') },
    );
  });

  const routes = options.routes ?? 'all';
  if (routes !== 'admin') {
    void app.register(orderRoutes, { placement: deps.placement });
    void app.register(orderQueryRoutes, {
      queries: deps.queries,
      waitingReads: new WaitingReads(options.waitingReads),
      shutdown: deps.shutdown,
      consistencyWaitMs: options.consistencyWaitMs ?? 10_000,
      sseMaxMs: options.sseMaxMs ?? 300_000,
      onError: deps.onError,
    });
    void app.register(viewRoutes, { store: deps.store, storeOf: deps.storeOf ?? (() => deps.store) });
  }
  void app.register(problemRoutes);
  void app.register(operationsRoutes, { metrics: deps.metrics, readiness: deps.readiness });
  if (routes !== 'public')
    void app.register(adminRoutes, { adminToken: options.adminToken, faults: deps.faults });

  return app;
}

// Errors as problems ----------------------------------------------------------------------------

/**
 * `http(s)://host[:port]` as the client addressed this server: the base of the absolute problem
 * type URIs, so they resolve to the problem pages through whatever name the client used.
 */
function baseUrlOf(request: FastifyRequest): string {
  const host = request.host === '' ? undefined : request.host;
  return `${request.protocol}://${host ?? socketAddressOf(request.socket)}`;
}

/** This end of a connection as `host:port` (IPv6 in brackets). */
function socketAddressOf(socket: Socket): string {
  const address = socket.localAddress ?? '127.0.0.1';
  return `${address.includes(':') ? `[${address}]` : address}:${socket.localPort ?? 80}`;
}

/**
 * Records every route's path and method; the returned lookup says which methods routes serve on
 * a concrete path (`/orders/abc` matches `/orders/:orderId`). Register before the routes.
 */
function routeMethods(app: FastifyInstance): (path: string) => string[] {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', ({ url, method }) => {
    const pattern = new RegExp(
      `^${url
        .split('/')
        .map((part) =>
          part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('/')}$`,
    );
    routes.push({ pattern, methods: Array.isArray(method) ? [...method] : [method] });
  });
  return (path) => {
    const methods = new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods));
    return [...methods].sort();
  };
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
  if (isHeraldError(error) && error.retryable) {
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
  const tooSlow = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const status = tooLarge ? 431 : tooSlow ? 408 : 400;
  const body = JSON.stringify(
    withAbsoluteType(
      problemOf(
        status,
        tooLarge ? 'header-too-large' : tooSlow ? 'request-timeout' : 'bad-request',
        tooLarge
          ? 'the request headers are too large'
          : tooSlow
            ? 'the request did not arrive within the request timeout'
            : 'the request could not be parsed',
      ),
      // No request was parsed, so no Host header: the address the client connected to.
      `http://${socketAddressOf(socket)}`,
    ),
  );
  const reason = tooLarge ? 'Request Header Fields Too Large' : tooSlow ? 'Request Timeout' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      `content-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
