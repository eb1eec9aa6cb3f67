import type { StoredEvent } from '../envelope.ts';

/**
 * What one group member delivered from one partition under one claim of it, so that a commit
 * of an event delivered under an earlier claim is refused (`FENCED`) even after the member has
 * claimed the partition again and the offset is its own once more.
 *
 * Nothing is remembered per event on the usual path: an offset that no earlier claim of this
 * member delivered can only have come from this claim. Only events delivered again below that
 * point (redelivered after the partition was lost and claimed anew) are kept, in a WeakSet.
 */
export class DeliveryClaim {
  /** Offsets below this were delivered under an earlier claim of the partition. */
  readonly #before: number;
  #end: number;
  #redelivered: WeakSet<StoredEvent> | undefined;

  constructor(before: number) {
    this.#before = before;
    this.#end = before;
  }

  /** The offset after the last event delivered under this claim or any before it. */
  get end(): number {
    return this.#end;
  }

  /** Records that `event` is being handed out under this claim. Runs for every event delivered. */
  delivered(event: StoredEvent): void {
    const offset = event.offset;
    if (offset < this.#before) (this.#redelivered ??= new WeakSet()).add(event);
    if (offset >= this.#end) this.#end = offset + 1;
  }

  /** Whether `event` was delivered under this claim (and not under an earlier one). */
  owns(event: StoredEvent): boolean {
    return event.offset >= this.#before || this.#redelivered?.has(event) === true;
  }
}

/**
 * The claims one member made of each partition, by a key naming the partition. Each backend's
 * subscription keeps one and starts a {@link DeliveryClaim} whenever it claims a partition.
 *
 * @example
 * const claim = history.claim(`${topic}#${partition}`); // on claiming
 * claim.delivered(event);                               // on handing an event out
 * if (!claim.owns(event)) throw fenced;                 // on commit(event)
 */
export class ClaimHistory {
  readonly #latest = new Map<string, DeliveryClaim>();

  /** Starts a new claim of the partition `key`; what earlier claims delivered stays theirs. */
  claim(key: string): DeliveryClaim {
    const claim = new DeliveryClaim(this.#latest.get(key)?.end ?? 0);
    this.#latest.set(key, claim);
    return claim;
  }
}
