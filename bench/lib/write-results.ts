import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchReport } from './benchmark.ts';
import type { MachineFacts } from './machine-facts.ts';
import { formatTarget, verdictOf } from './stats.ts';

/** `bench/results`, where every run leaves its JSON. */
export const RESULTS_DIR = fileURLToPath(new URL('../results', import.meta.url));

/** The JSON a run writes: everything needed to compare it with another run by ratio. */
export interface ResultsFile {
  readonly benchmark: string;
  readonly date: string;
  readonly mode: 'full' | 'quick';
  readonly rounds: number;
  readonly machine: MachineFacts;
  readonly parameters: Readonly<Record<string, unknown>>;
  /** The benchmark's derived figures (see `BenchReport.notes`); empty when it has none. */
  readonly notes: readonly string[];
  readonly scenarios: readonly {
    readonly scenario: string;
    readonly unit: string;
    readonly better: 'higher' | 'lower';
    readonly baselineName: string;
    readonly herald: { readonly median: number; readonly rounds: readonly number[] };
    readonly baseline: { readonly median: number; readonly rounds: readonly number[] };
    /** Median of the per-round ratios Herald/baseline (see `verdictOf`). */
    readonly ratio: number;
    readonly target: string;
    readonly pass: boolean | null;
  }[];
}

/** Builds the JSON document of a run. */
export function resultsFile(
  benchmark: string,
  date: Date,
  options: BenchOptions,
  machine: MachineFacts,
  report: BenchReport,
): ResultsFile {
  return {
    benchmark,
    date: date.toISOString(),
    mode: options.quick ? 'quick' : 'full',
    rounds: options.rounds,
    machine,
    parameters: report.parameters,
    notes: report.notes ?? [],
    scenarios: report.scenarios.map((result) => {
      const verdict = verdictOf(result);
      return {
        scenario: result.scenario,
        unit: result.unit,
        better: result.better,
        baselineName: result.baselineName,
        herald: { median: verdict.herald, rounds: result.herald },
        baseline: { median: verdict.baseline, rounds: result.baseline },
        ratio: verdict.ratio,
        target: formatTarget(result.target, result.better),
        pass: verdict.pass ?? null,
      };
    }),
  };
}

/**
 * Writes `bench/results/<name>-<date>.json` and overwrites `bench/results/<name>-latest.json`
 * with the same content; returns both paths. The date is ISO 8601 with `:` replaced by `-`,
 * so the name is valid on every file system.
 */
export function writeResults(results: ResultsFile): { readonly dated: string; readonly latest: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = results.date.replaceAll(':', '-');
  const dated = join(RESULTS_DIR, `${results.benchmark}-${stamp}.json`);
  const latest = join(RESULTS_DIR, `${results.benchmark}-latest.json`);
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(dated, text);
  writeFileSync(latest, text);
  return { dated, latest };
}
