// Idempotency-Key handling both order systems share (IETF draft): while a request under a key is
// being handled in this process, another request under the same key is not run but told so
// (409 with Retry-After), instead of racing the first to the stored answer.

/** What a request under a key that is being handled right now comes to. */
export interface KeyInFlight {
  readonly kind: 'key-in-flight';
}

/**
 * The Idempotency-Keys being handled in this process. Only this process: another process
 * handling the same key is caught by the stored key record, not here.
 *
 * @example
 * const keys = new KeysInFlight();
 * const outcome = await keys.run(idempotencyKey, () => place(request, idempotencyKey));
 */
export class KeysInFlight {
  readonly #keys = new Set<string>();

  /** Whether a request with this key is being handled right now. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /**
   * Runs `handle` holding `key` until it settles; without a key it just runs it. While another
   * call holds the key, answers `{ kind: 'key-in-flight' }` without running `handle`.
   */
  async run<T>(key: string | undefined, handle: () => Promise<T>): Promise<T | KeyInFlight> {
    if (key === undefined) return handle();
    if (this.#keys.has(key)) return { kind: 'key-in-flight' };
    this.#keys.add(key);
    try {
      return await handle();
    } finally {
      this.#keys.delete(key);
    }
  }
}
