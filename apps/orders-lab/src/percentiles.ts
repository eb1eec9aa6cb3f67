// Latency statistics. Percentiles use the nearest-rank method on the exact samples (no
// histogram buckets, no interpolation): p99 of 1000 samples is the 990th smallest, a value that
// was actually observed.

/** Distribution of a set of durations in ms. `null` everywhere when there were no samples. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

/**
 * The nearest-rank percentile `p` (0 < p ≤ 100) of ascending `sorted`: the smallest value with at
 * least p% of the samples at or below it. Undefined for no samples.
 *
 * @example percentile([1, 2, 3, 4], 50) === 2
 */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (!(p > 0 && p <= 100)) throw new RangeError(`a percentile is in (0, 100], not ${p}`);
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** p50, p99, p99.9, max and mean of `values` (any order). */
export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, p50: null, p99: null, p999: null, max: null, mean: null };
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  let sum = 0;
  for (const v of list) sum += v;
  return {
    count: list.length,
    p50: percentile(list, 50)!,
    p99: percentile(list, 99)!,
    p999: percentile(list, 99.9)!,
    max: list[list.length - 1]!,
    mean: sum / list.length,
  };
}
