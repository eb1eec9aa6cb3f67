/**
 * The commit watermark of one partition. Events finish out of order (different keys run
 * concurrently), but a partition's offset is committed only up to its oldest unfinished event,
 * so a crash redelivers exactly what was not finished and nothing after a gap is lost.
 */
export class OffsetTracker {
  /** Offsets delivered and not yet finished. */
  readonly #pending = new Set<number>();
  #highest: number;
  #committed: number;

  /** `first` is the first offset delivered: the position the partition was read from. */
  constructor(first: number) {
    this.#highest = first - 1;
    this.#committed = first;
  }

  /** An event was delivered and is being worked on. */
  delivered(offset: number): void {
    this.#pending.add(offset);
    this.#highest = Math.max(this.#highest, offset);
  }

  /** An event is done: its offset may be committed once every earlier one is done too. */
  finished(offset: number): void {
    this.#pending.delete(offset);
  }

  /** The oldest unfinished offset, or one past the highest delivered when everything finished. */
  get watermark(): number {
    return this.#pending.size === 0 ? this.#highest + 1 : Math.min(...this.#pending);
  }

  /** The offset to commit now, or undefined when nothing finished since the last commit. */
  toCommit(): number | undefined {
    const watermark = this.watermark;
    return watermark > this.#committed ? watermark : undefined;
  }

  /** The log accepted a commit of `offset`; an older one arriving late never moves it back. */
  committed(offset: number): void {
    this.#committed = Math.max(this.#committed, offset);
  }
}
