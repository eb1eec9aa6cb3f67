/**
 * What a benchmark is to the dispatcher (`bench/run.ts`): a named module whose default export
 * runs its scenarios and returns them as rows. Printing, JSON files and machine facts are the
 * dispatcher's job, so every benchmark reports the same way.
 */

/** Command-line options every benchmark receives. */
export interface BenchOptions {
  /** Smaller sizes and fewer rounds: a smoke run for CI, not a measurement to quote. */
  readonly quick: boolean;
  /** Rounds per scenario; each round runs the thing and its baseline once, in alternating order. */
  readonly rounds: number;
  /**
   * `--profile`: benchmarks that run their subject as a child process run it under
   * `node --cpu-prof` and report where its time goes; the others ignore it.
   */
  readonly profile: boolean;
}

/**
 * The ratio a scenario must reach. With `better: 'higher'` (throughput) the ratio
 * herald/baseline must be at least `ratio`; with `better: 'lower'` (latency) at most `ratio`.
 */
export interface Target {
  readonly ratio: number;
}

/** One row of the results table: the thing measured against its baseline in the same run. */
export interface ScenarioResult {
  readonly scenario: string;
  /** Unit of both measurements, e.g. `events/s`. */
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** Per-round measurements of Herald, in round order. */
  readonly herald: readonly number[];
  /** Per-round measurements of the baseline, in round order, from the same rounds. */
  readonly baseline: readonly number[];
  /** What the baseline is, in a few words (for the JSON and the docs). */
  readonly baselineName: string;
  /** Absent for rows that are reported without a target. */
  readonly target?: Target;
}

/** What a benchmark returns: its rows and the sizes it used. */
export interface BenchReport {
  readonly scenarios: readonly ScenarioResult[];
  /** Sizes, batch lengths, durability modes: whatever a reader needs to reproduce the run. */
  readonly parameters: Readonly<Record<string, unknown>>;
  /**
   * Figures derived from the rows that the table cannot show (an absolute cost per event, from
   * per-round differences), one line each: printed under the table and kept in the JSON.
   */
  readonly notes?: readonly string[];
}

/** A benchmark module's default export. */
export interface Benchmark {
  run(options: BenchOptions): Promise<BenchReport>;
}
