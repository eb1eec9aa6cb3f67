import type { ScenarioResult } from './benchmark.ts';
import { formatNumber, formatRatio, formatTarget, verdictOf } from './stats.ts';

const HEADER = ['scenario', 'herald', 'baseline', 'unit', 'ratio', 'target', 'verdict'] as const;
const NUMERIC_COLUMNS = new Set([1, 2, 4]);

/**
 * The results as a plain-text table, one row per scenario: medians of Herald and of its
 * baseline, the median per-round ratio herald/baseline, the target, and `pass`, `FAIL`, or
 * `info` for a row reported without a target.
 */
export function formatTable(results: readonly ScenarioResult[]): string {
  const rows: string[][] = results.map((result) => {
    const verdict = verdictOf(result);
    return [
      result.scenario,
      formatNumber(verdict.herald),
      formatNumber(verdict.baseline),
      result.unit,
      formatRatio(verdict.ratio),
      formatTarget(result.target, result.better),
      verdict.pass === undefined ? 'info' : verdict.pass ? 'pass' : 'FAIL',
    ];
  });
  const all = [[...HEADER], ...rows];
  const widths = HEADER.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, column) =>
        NUMERIC_COLUMNS.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(all[0]!), rule, ...rows.map(line)].join('\n');
}
