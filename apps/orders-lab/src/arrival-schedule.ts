// The open-loop arrival schedule: request i is due at a fixed time, whatever happened to the
// requests before it. Latency is measured from that due time, so a system (or a generator) that
// falls behind shows up as latency instead of silently lowering the offered rate, the
// coordinated omission a closed loop suffers from.

/** A constant-arrival-rate schedule of a bounded number of requests. */
export interface ArrivalSchedule {
  /** Requests per second offered. */
  readonly ratePerSecond: number;
  readonly durationMs: number;
  /** How many requests the schedule holds: `floor(rate × duration)`. */
  readonly count: number;
  /** When request `index` is due, in ms after the schedule starts. */
  dueAt(index: number): number;
  /** How many requests are due by `elapsedMs` after the start (never more than `count`). */
  dueBy(elapsedMs: number): number;
}

/**
 * Requests evenly spaced at `ratePerSecond` for `durationMs`: request i is due at
 * `i × 1000 / rate` ms.
 *
 * @example constantArrivals(200, 10_000).dueAt(3) === 15
 */
export function constantArrivals(ratePerSecond: number, durationMs: number): ArrivalSchedule {
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
    throw new RangeError(`the rate must be a positive number, not ${ratePerSecond}`);
  }
  if (!(durationMs >= 0) || !Number.isFinite(durationMs)) {
    throw new RangeError(`the duration must be a non-negative number of ms, not ${durationMs}`);
  }
  const intervalMs = 1000 / ratePerSecond;
  const count = Math.floor((ratePerSecond * durationMs) / 1000 + 1e-9);
  return {
    ratePerSecond,
    durationMs,
    count,
    dueAt(index) {
      if (!Number.isInteger(index) || index < 0 || index >= count) {
        throw new RangeError(`request ${index} is not in the schedule of ${count}`);
      }
      return index * intervalMs;
    },
    dueBy(elapsedMs) {
      if (elapsedMs < 0) return 0;
      return Math.min(count, Math.floor(elapsedMs / intervalMs + 1e-9) + 1);
    },
  };
}
