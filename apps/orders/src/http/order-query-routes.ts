// Reading orders: GET /orders/:orderId (now, waiting for a final state, consistent with a write,
// or as of a past moment) and GET /orders/:orderId/events, the order view as server-sent events.
// Waiting reads and streams end when the client goes away or the process shuts down.
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { OrderView } from '@herald/orders-domain/order-view.ts';
import { isFinal } from '@herald/orders-domain/order-view.ts';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';
import { orderParamsSchema, orderQuerySchema, orderViewSchema } from '@herald/orders-domain/http/schemas.ts';
import { type OrderQueries, parseConsistencyToken } from '../services/orders/order-queries.ts';
import { RATE_LIMITED, RETRY_AFTER, jsonResponse, problemResponse, textResponse } from './openapi.ts';
import type { WaitingReads } from './waiting-reads.ts';

const SSE_HEARTBEAT_MS = 15_000;

/** What the order reads go through, and how long they may wait. */
export interface OrderQueryRoutesOptions {
  readonly queries: OrderQueries;
  /** Caps on the reads that wait (long polls, `?consistentWith`, SSE streams). */
  readonly waitingReads: WaitingReads;
  /** Aborted when the process shuts down: waiting reads and SSE streams end. */
  readonly shutdown: AbortSignal;
  /** How long `?consistentWith` waits when no `?wait` is given. */
  readonly consistencyWaitMs: number;
  /** Longest an SSE stream stays open. */
  readonly sseMaxMs: number;
  readonly onError: (message: string, error: unknown) => void;
}

/** `GET /orders/:orderId` and `GET /orders/:orderId/events`. */
export const orderQueryRoutes: FastifyPluginAsyncZod<OrderQueryRoutesOptions> = async (app, options) => {
  const { queries, waitingReads, shutdown, consistencyWaitMs, sseMaxMs, onError } = options;

  /** A slot for a read that waits, or the 429/503 that says why there is none. */
  const waitingSlot = (client: string): (() => void) => {
    const slot = waitingReads.enter(client);
    if (slot.ok) return slot.release;
    throw slot.full === 'client'
      ? new ProblemError(
          problemOf(
            429,
            'too-many-waiting-reads',
            'this client has as many waiting reads and streams open as it may',
          ),
          { 'retry-after': '1' },
        )
      : new ProblemError(
          problemOf(503, 'unavailable', 'the server has as many waiting reads open as it allows'),
          {
            'retry-after': '1',
          },
        );
  };

  const tooManyWaiting = problemResponse(
    'Too many requests, or this client already holds its share of waiting reads and streams ' +
      '(wait, consistentWith, event streams).',
    { 'Retry-After': RETRY_AFTER },
  );
  const orderSchema = {
    operationId: 'getOrder',
    summary: 'An order and the state of each step',
    tags: ['orders'],
    security: [],
    params: orderParamsSchema,
    querystring: orderQuerySchema,
    response: {
      200: jsonResponse('The order as far as it converged.', orderViewSchema),
      400: problemResponse('A malformed id or parameter, or asOf combined with wait or consistentWith.'),
      404: problemResponse('No such order.'),
      422: problemResponse('The consistency token names no position in the log, or no placed order.'),
      429: { ...tooManyWaiting, headers: { ...RATE_LIMITED.headers, ...tooManyWaiting.headers } },
      503: problemResponse(
        'The view did not reach the consistency token in time, or the server holds as many waiting reads as it allows.',
        { 'Retry-After': RETRY_AFTER },
      ),
    },
  };
  app.get('/orders/:orderId', { schema: orderSchema }, async (request, reply) => {
    const { orderId } = request.params;
    const query = request.query;
    reply.header('cache-control', 'no-store');
    if (query.asOf !== undefined) {
      if (query.wait !== undefined || query.consistentWith !== undefined) {
        throw new ProblemError(
          problemOf(400, 'invalid-parameter', 'asOf cannot be combined with wait or consistentWith'),
        );
      }
      const at = Date.parse(query.asOf);
      const view = await queries.asOf(orderId, at);
      if (view === undefined) {
        throw new ProblemError(
          problemOf(404, 'not-found', `order ${orderId} did not exist at ${query.asOf}`),
        );
      }
      return { ...viewBody(view), asOf: new Date(at).toISOString() };
    }
    const waits = query.consistentWith !== undefined || query.wait !== undefined;
    const release = waits ? waitingSlot(request.ip) : undefined;
    try {
      return await readOrder(orderId, query, requestSignal(reply, shutdown));
    } finally {
      release?.();
    }
  });

  const readOrder = async (
    orderId: string,
    query: { readonly wait?: number | undefined; readonly consistentWith?: string | undefined },
    signal: AbortSignal,
  ) => {
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
      if (!(await queries.exists(target))) {
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
      if (!(await queries.waitForToken(target, waitMs, signal))) {
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
        ? await queries.view(orderId)
        : await queries.waitFor(orderId, isFinal, query.wait * 1000, signal);
    if (view === undefined) throw new ProblemError(problemOf(404, 'not-found', `no order ${orderId}`));
    return viewBody(view);
  };

  const eventsSchema = {
    operationId: 'streamOrder',
    summary: 'Server-Sent Events: the order view after each change, until final',
    tags: ['orders'],
    security: [],
    params: orderParamsSchema,
    querystring: orderQuerySchema.pick({}),
    response: {
      200: textResponse('`event: order` messages whose data is the Order.', 'text/event-stream'),
      400: problemResponse('A malformed id, or any query parameter.'),
      404: problemResponse('No such order.'),
      429: { ...tooManyWaiting, headers: { ...RATE_LIMITED.headers, ...tooManyWaiting.headers } },
      503: problemResponse('The server holds as many waiting reads and streams as it allows.', {
        'Retry-After': RETRY_AFTER,
      }),
    },
  };
  app.get('/orders/:orderId/events', { schema: eventsSchema }, async (request, reply) => {
    const { orderId } = request.params;
    if ((await queries.view(orderId)) === undefined) {
      throw new ProblemError(problemOf(404, 'not-found', `no order ${orderId}`));
    }
    const release = waitingSlot(request.ip);
    const signal = requestSignal(reply, shutdown);
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
      for await (const view of queries.watch(orderId, signal, sseMaxMs)) {
        raw.write(`event: order\nid: ${view.version}\ndata: ${JSON.stringify(viewBody(view))}\n\n`);
      }
    } catch (error) {
      onError(`SSE stream of ${orderId} failed`, error);
    } finally {
      clearInterval(heartbeat);
      release();
      raw.end();
    }
  });
};

function viewBody(view: OrderView) {
  const { reason, detail, ...rest } = view;
  return {
    ...rest,
    items: [...view.items],
    ...(reason === null ? {} : { reason }),
    ...(detail === null ? {} : { detail }),
    links: { self: `/orders/${view.orderId}`, events: `/orders/${view.orderId}/events` },
  };
}

/** Aborted when the client goes away or the process shuts down. */
function requestSignal(reply: FastifyReply, shutdown: AbortSignal): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => gone.abort());
  return AbortSignal.any([gone.signal, shutdown]);
}
