// How the REST orders service calls a downstream service: JSON over HTTP with a timeout per
// attempt, retries with backoff for failures that may pass (refused or reset connections,
// timeouts, 502/503/504), and an overall deadline. Every downstream operation is idempotent per
// order id, which is what makes retrying a timed-out call safe.
import { setTimeout as sleep } from 'node:timers/promises';

/** Why a call did not produce an answer the caller can use. */
export type CallFailureKind =
  /** No attempt got an answer in time. */
  | 'timeout'
  /** The service refused or dropped connections, or answered 502/503/504, on every attempt. */
  | 'unavailable'
  /** The service answered something the contract does not allow (4xx, 500, not JSON). */
  | 'bad-answer';

/** A failed call: what went wrong on the last attempt, and how many attempts there were. */
export class CallFailure extends Error {
  override readonly name = 'CallFailure';
  readonly kind: CallFailureKind;
  readonly service: string;
  readonly attempts: number;
  /**
   * Whether the service may have acted on an attempt: one timed out or lost its connection
   * mid-way. False when every attempt was refused before it arrived or answered an error (the
   * services answer 5xx before they change anything), so there is nothing to compensate.
   */
  readonly uncertain: boolean;

  constructor(service: string, kind: CallFailureKind, attempts: number, detail: string, uncertain = true) {
    super(`${service}: ${detail} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`);
    this.kind = kind;
    this.service = service;
    this.attempts = attempts;
    this.uncertain = uncertain;
  }
}

export interface RetryPolicy {
  /** Per attempt; an attempt that takes longer is aborted and counts as a timeout. */
  readonly attemptTimeoutMs: number;
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Wait before the second attempt; doubled before each further one. */
  readonly backoffMs: number;
  /** No attempt starts after this long since the call began. */
  readonly deadlineMs: number;
}

/** What a careful service does by default: 1 s per attempt, 3 attempts, 50 ms then 100 ms apart. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attemptTimeoutMs: 1_000,
  maxAttempts: 3,
  backoffMs: 50,
  deadlineMs: 4_000,
};

/** Counts what the client did, for `/admin/stats` and the lab. */
export interface CallCounters {
  calls: number;
  /** Attempts after the first. */
  retries: number;
  failures: number;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

/**
 * A JSON client of one downstream service.
 *
 * @example
 * const fraud = new DownstreamClient('fraud', 'http://127.0.0.1:3101');
 * const verdict = await fraud.post<FraudVerdict>('/checks', order);
 */
export class DownstreamClient {
  readonly service: string;
  readonly #baseUrl: string;
  readonly #policy: RetryPolicy;
  readonly #counters: CallCounters;

  constructor(
    service: string,
    baseUrl: string,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    counters?: CallCounters,
  ) {
    this.service = service;
    this.#baseUrl = baseUrl;
    this.#policy = policy;
    this.#counters = counters ?? { calls: 0, retries: 0, failures: 0 };
  }

  get counters(): Readonly<CallCounters> {
    return this.#counters;
  }

  /**
   * POSTs `body` and resolves with the JSON answer of a 2xx (409 too when `acceptConflict`).
   * Throws CallFailure when no attempt succeeded.
   */
  async post<T>(path: string, body: unknown, options: { acceptConflict?: boolean } = {}): Promise<T> {
    const policy = this.#policy;
    const started = performance.now();
    const payload = JSON.stringify(body);
    this.#counters.calls++;
    let last: { kind: CallFailureKind; detail: string } = { kind: 'unavailable', detail: 'not attempted' };
    let uncertain = false;
    let attempt = 0;
    while (attempt < policy.maxAttempts) {
      if (attempt > 0) {
        const wait = policy.backoffMs * 2 ** (attempt - 1);
        if (performance.now() - started + wait >= policy.deadlineMs) break;
        await sleep(wait);
        this.#counters.retries++;
      }
      attempt++;
      const outcome = await this.#attempt(path, payload, options.acceptConflict === true);
      if (outcome.ok) return outcome.value as T;
      last = outcome;
      uncertain ||= outcome.uncertain;
      if (!outcome.retryable) break;
    }
    this.#counters.failures++;
    throw new CallFailure(this.service, last.kind, attempt, last.detail, uncertain);
  }

  async #attempt(
    path: string,
    payload: string,
    acceptConflict: boolean,
  ): Promise<
    | { ok: true; value: unknown }
    | { ok: false; retryable: boolean; uncertain: boolean; kind: CallFailureKind; detail: string }
  > {
    const timeoutMs = this.#policy.attemptTimeoutMs;
    try {
      const response = await fetch(`${this.#baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      if (response.ok || (acceptConflict && response.status === 409)) {
        try {
          return { ok: true, value: JSON.parse(text) as unknown };
        } catch {
          return {
            ok: false,
            retryable: false,
            uncertain: false,
            kind: 'bad-answer',
            detail: `POST ${path} answered a body that is not JSON`,
          };
        }
      }
      const retryable = RETRYABLE_STATUS.has(response.status);
      return {
        ok: false,
        retryable,
        uncertain: false,
        kind: retryable ? 'unavailable' : 'bad-answer',
        detail: `POST ${path} answered ${response.status}: ${text.slice(0, 200)}`,
      };
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        return {
          ok: false,
          retryable: true,
          uncertain: true,
          kind: 'timeout',
          detail: `POST ${path} took longer than ${timeoutMs} ms`,
        };
      }
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return {
        ok: false,
        retryable: true,
        uncertain: cause?.code !== 'ECONNREFUSED',
        kind: 'unavailable',
        detail: `POST ${path} failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      };
    }
  }
}
