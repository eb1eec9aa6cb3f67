// The per-client rate limit, by @fastify/rate-limit: each client address may make `burst`
// requests per window of `burst / perSecond` seconds (so `perSecond` on average, in bursts of
// `burst`). Above it the API answers 429 with Retry-After and RateLimit-* headers instead of
// queueing up work. In-process and approximate (a bounded table of clients, the oldest
// forgotten first); a deployment behind a gateway would rate-limit there.
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';

export interface RateLimitOptions {
  /** Sustained requests per second per client; 0 turns limiting off. */
  readonly perSecond: number;
  /** Requests a client may make at once. */
  readonly burst: number;
}

/** Clients the limiter remembers at once. */
const MAX_CLIENTS = 10_000;

/** Takes one request of the client's share; throws the 429 when the share is used up. */
export type RateLimitCheck = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * Registers the limiter on `app` and returns the check the app runs where it wants it (in its
 * own `onRequest` hook, after draining and before any route guard, for unmatched paths too);
 * `undefined` when `perSecond` is 0.
 */
export function registerRateLimit(
  app: FastifyInstance,
  { perSecond, burst }: RateLimitOptions,
): RateLimitCheck | undefined {
  if (!(perSecond > 0)) return undefined;
  if (!(burst >= 1)) throw new RangeError('the rate limit burst must be at least 1');
  void app.register(fastifyRateLimit, {
    global: false,
    max: burst,
    timeWindow: Math.max(1, Math.round((burst / perSecond) * 1000)),
    cache: MAX_CLIENTS,
    // RateLimit-Limit, -Remaining and -Reset (the IETF draft), and Retry-After on a 429.
    enableDraftSpec: true,
    errorResponseBuilder: () =>
      new ProblemError(
        problemOf(429, 'too-many-requests', `slow down: at most ${perSecond} requests per second`),
      ),
  });
  // The plugin decorates the app once it has loaded, which is before the first request.
  let check: RateLimitCheck | undefined;
  return (request, reply) => {
    check ??= app.rateLimit() as RateLimitCheck;
    return check(request, reply);
  };
}
