// A token bucket per client address: bursts above the limit get 429 instead of queueing up
// work. In-process and approximate (one bucket per address, forgotten when the table is full);
// a deployment behind a gateway would rate-limit there.

export interface RateLimitOptions {
  /** Sustained requests per second per client; 0 turns limiting off. */
  readonly perSecond: number;
  /** Requests a client may make at once. */
  readonly burst: number;
}

const MAX_CLIENTS = 10_000;

/** What {@link RateLimiter.take} decided; `limit` 0 means limiting is off. */
export interface RateDecision {
  readonly allowed: boolean;
  readonly retryAfterSeconds: number;
  readonly limit: number;
  readonly remaining: number;
  readonly resetSeconds: number;
}

/** One token bucket per client; `take` before handling a request. */
export class RateLimiter {
  readonly #options: RateLimitOptions;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RateLimitOptions) {
    this.#options = options;
  }

  /**
   * Takes one token for `client`. Says whether the request may go on, the seconds to wait when
   * not, and what the `RateLimit-*` headers tell the client: the burst, the whole tokens left,
   * and the seconds until the bucket is full again.
   */
  take(client: string, now = performance.now()): RateDecision {
    const { perSecond, burst } = this.#options;
    if (perSecond <= 0)
      return { allowed: true, retryAfterSeconds: 0, limit: 0, remaining: 0, resetSeconds: 0 };
    let bucket = this.#buckets.get(client);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_CLIENTS) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: burst, at: now };
      this.#buckets.set(client, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    return {
      allowed,
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)),
      limit: burst,
      remaining: Math.floor(bucket.tokens),
      resetSeconds: Math.ceil((burst - bucket.tokens) / perSecond),
    };
  }
}
