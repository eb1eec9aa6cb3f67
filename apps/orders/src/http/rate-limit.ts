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

/** One token bucket per client; `take` before handling a request. */
export class RateLimiter {
  readonly #options: RateLimitOptions;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RateLimitOptions) {
    this.#options = options;
  }

  /** Takes one token for `client`; returns the seconds to wait when there is none. */
  take(
    client: string,
    now = performance.now(),
  ): { readonly allowed: boolean; readonly retryAfterSeconds: number } {
    const { perSecond, burst } = this.#options;
    if (perSecond <= 0) return { allowed: true, retryAfterSeconds: 0 };
    let bucket = this.#buckets.get(client);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_CLIENTS) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: burst, at: now };
      this.#buckets.set(client, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)) };
  }
}
