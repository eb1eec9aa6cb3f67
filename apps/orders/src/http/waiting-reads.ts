// Caps on reads that hold a connection open while they wait: long polls (`?wait`),
// `?consistentWith` and SSE streams. Each holds a socket and a waiter for up to minutes, so
// without a cap one client could take every connection the server allows and starve the
// `POST /orders` of everyone else. In-process, like the rate limit.

/** How many waiting reads may be open, in all and per client address. */
export interface WaitingReadLimits {
  readonly total: number;
  readonly perClient: number;
}

export const DEFAULT_WAITING_READ_LIMITS: WaitingReadLimits = { total: 512, perClient: 16 };

/** What {@link WaitingReads.enter} decided. */
export type WaitingReadSlot =
  | { readonly ok: true; readonly release: () => void }
  /** `client`: this client holds its share; `total`: the server holds as many as it allows. */
  | { readonly ok: false; readonly full: 'client' | 'total' };

/** Counts the waiting reads open, per client and in all. */
export class WaitingReads {
  readonly #limits: WaitingReadLimits;
  readonly #perClient = new Map<string, number>();
  #total = 0;

  constructor(limits: WaitingReadLimits = DEFAULT_WAITING_READ_LIMITS) {
    if (!(limits.total >= 1 && limits.perClient >= 1)) {
      throw new RangeError('waiting read limits must be at least 1');
    }
    this.#limits = limits;
  }

  /** Waiting reads open now. */
  get open(): number {
    return this.#total;
  }

  /** Takes a slot for a waiting read of `client`; `release` it exactly when the read ends. */
  enter(client: string): WaitingReadSlot {
    const held = this.#perClient.get(client) ?? 0;
    if (held >= this.#limits.perClient) return { ok: false, full: 'client' };
    if (this.#total >= this.#limits.total) return { ok: false, full: 'total' };
    this.#perClient.set(client, held + 1);
    this.#total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#perClient.get(client) ?? 1) - 1;
        if (left === 0) this.#perClient.delete(client);
        else this.#perClient.set(client, left);
      },
    };
  }
}
