import { COORDINATOR_ERRORS, hasKafkaError } from './kafka-errors.ts';

export interface CoordinatorBackoffOptions {
  /**
   * How long, from the first coordinator error, trying again is worth it. A member uses its
   * session timeout: the group gives a silent member that long before it expires it, so a
   * coordinator that cannot serve the group for a whole session is down for every member alike.
   */
  readonly budgetMs: number;
  /** The first wait; each next one doubles, up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** A monotonic clock in ms (default `performance.now`). */
  readonly now?: () => number;
  /** Waits `ms` (a closing member resolves it early; the next attempt then sees it closed). */
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Backoff for one group operation (a join) while the group coordinator is not serving the
 * group: a broker that just started or took over the group's offsets partition answers
 * COORDINATOR_LOAD_IN_PROGRESS until it has loaded the group, and NOT_COORDINATOR or
 * COORDINATOR_NOT_AVAILABLE while the coordinator moves. The wire drops its cached coordinator
 * on each of these, so the next attempt finds the coordinator again. Other errors are not
 * retried here.
 */
export class CoordinatorBackoff {
  readonly #options: CoordinatorBackoffOptions;
  readonly #now: () => number;
  #deadline: number | undefined;
  #delayMs: number;

  constructor(options: CoordinatorBackoffOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#delayMs = Math.max(1, options.initialDelayMs);
  }

  /**
   * After a failed attempt: waits and resolves true when `error` is a coordinator error and the
   * budget allows another attempt (never waiting past the budget); resolves false at once
   * otherwise, and the caller throws the error.
   */
  async retry(error: unknown): Promise<boolean> {
    if (!hasKafkaError(error, ...COORDINATOR_ERRORS)) return false;
    const now = this.#now();
    this.#deadline ??= now + this.#options.budgetMs;
    const left = this.#deadline - now;
    if (left <= 0) return false;
    const delay = Math.min(this.#delayMs, left);
    this.#delayMs = Math.min(this.#options.maxDelayMs, this.#delayMs * 2);
    await this.#options.sleep(delay);
    return true;
  }
}
