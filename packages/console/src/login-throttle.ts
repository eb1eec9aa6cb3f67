// Failed logins are throttled per user name and per client address: after `maxFailures` within
// `windowMs`, further attempts for that name (or from that address) are refused until the
// window has passed, whether the password is right or not. A success clears the name's count.

/** How many failed logins are allowed, and over how long. */
export interface LoginThrottleOptions {
  /** Failures per user name within the window. Default 5. */
  readonly maxPerUser?: number;
  /** Failures per client address within the window. Default 20. */
  readonly maxPerAddress?: number;
  /** Default 15 minutes. */
  readonly windowMs?: number;
  readonly now?: () => number;
}

export class LoginThrottle {
  readonly #byUser = new Map<string, number[]>();
  readonly #byAddress = new Map<string, number[]>();
  readonly #maxPerUser: number;
  readonly #maxPerAddress: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    this.#maxPerUser = options.maxPerUser ?? 5;
    this.#maxPerAddress = options.maxPerAddress ?? 20;
    this.#windowMs = options.windowMs ?? 15 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds to wait before `user` may try from `address` again; 0 when they may now. */
  retryAfter(user: string, address: string): number {
    const now = this.#now();
    const wait = (failures: number[] | undefined, max: number): number => {
      const recent = (failures ?? []).filter((at) => at > now - this.#windowMs);
      if (recent.length < max) return 0;
      return Math.max(1, Math.ceil((recent[recent.length - max]! + this.#windowMs - now) / 1000));
    };
    return Math.max(
      wait(this.#byUser.get(user), this.#maxPerUser),
      wait(this.#byAddress.get(address), this.#maxPerAddress),
    );
  }

  failed(user: string, address: string): void {
    const now = this.#now();
    for (const [map, key] of [
      [this.#byUser, user],
      [this.#byAddress, address],
    ] as const) {
      const recent = (map.get(key) ?? []).filter((at) => at > now - this.#windowMs);
      recent.push(now);
      map.set(key, recent.slice(-100));
    }
    if (this.#byUser.size + this.#byAddress.size > 10_000) this.#prune(now);
  }

  succeeded(user: string): void {
    this.#byUser.delete(user);
  }

  #prune(now: number): void {
    for (const map of [this.#byUser, this.#byAddress]) {
      for (const [key, failures] of map)
        if (failures.every((at) => at <= now - this.#windowMs)) map.delete(key);
    }
  }
}
