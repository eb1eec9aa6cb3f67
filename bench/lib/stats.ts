import type { ScenarioResult, Target } from './benchmark.ts';

/** The middle value (the mean of the two middle values for an even count). Throws on an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The nearest-rank percentile `q` (0 < q ≤ 1) of `values`: the smallest value that at least a
 * fraction `q` of them do not exceed. `percentile(v, 1)` is the maximum. Throws on an empty list.
 */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  if (!(q > 0 && q <= 1)) throw new RangeError(`a percentile is in (0, 1], got ${String(q)}`);
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.ceil(q * sorted.length) - 1]!;
}

/** `count` things done in `ms` milliseconds, per second. */
export function perSecond(count: number, ms: number): number {
  if (!(ms > 0)) throw new RangeError(`elapsed time must be positive, got ${String(ms)}`);
  return (count * 1000) / ms;
}

/** A scenario's medians, its ratio herald/baseline, and whether that ratio meets the target. */
export interface Verdict {
  readonly herald: number;
  readonly baseline: number;
  /** The median of the per-round ratios herald/baseline. */
  readonly ratio: number;
  /** Undefined when the scenario has no target. */
  readonly pass: boolean | undefined;
}

/**
 * Judges a scenario. The ratio is the median of the per-round ratios, not the ratio of the
 * medians: the two sides of one round run back to back, so a slow spell on a shared machine
 * slows both and cancels out of that round's ratio, where it would skew a ratio of medians
 * taken from different rounds.
 */
export function verdictOf(result: ScenarioResult): Verdict {
  if (result.herald.length !== result.baseline.length) {
    throw new RangeError(
      `${result.scenario}: ${result.herald.length} Herald rounds but ${result.baseline.length} baseline rounds`,
    );
  }
  const ratio = median(result.herald.map((value, round) => value / result.baseline[round]!));
  const pass = result.target === undefined ? undefined : meets(ratio, result.target, result.better);
  return { herald: median(result.herald), baseline: median(result.baseline), ratio, pass };
}

function meets(ratio: number, target: Target, better: 'higher' | 'lower'): boolean {
  return better === 'higher' ? ratio >= target.ratio : ratio <= target.ratio;
}

/** `0.7234` → `0.72×`; three significant figures below 0.1 so small ratios stay readable. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return String(ratio);
  return `${ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2)}×`;
}

/** A target as a reader checks it: `≥ 0.60×` for throughput, `≤ 1.15×` for latency, `—` for none. */
export function formatTarget(target: Target | undefined, better: 'higher' | 'lower'): string {
  if (target === undefined) return '—';
  return `${better === 'higher' ? '≥' : '≤'} ${formatRatio(target.ratio)}`;
}

/** A measurement with thousands separators and no false precision: `461,234`, `12.3`, `0.042`. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
