// The orders benchmark's arithmetic and tables, kept apart from the processes it runs so that
// each rule can be tested on its own: which step counts as sustained, how the time from the 202
// to the final state is taken, what a counter per order is, and how the per-system tables print.
import type { RequestSample } from '@herald/orders-lab/load-generator.ts';
import type { OrderRecord } from '@herald/orders-lab/reconcile.ts';
import { indexOfCustomer } from '@herald/orders-lab/workload.ts';

/** A capacity step as the benchmark judges it: the lab's verdict plus the settlement check. */
export interface JudgedStep {
  readonly offeredRate: number;
  readonly acceptedRate: number;
  /** The lab's `stepPasses`: ≥ 99% accepted, no errors, POST p99 under the bound. */
  readonly passed: boolean;
  /** Every order the step accepted reached its final state and settled, none lost. */
  readonly settled: boolean;
}

/**
 * The highest sustained rate: the accepted rate of the highest-offered step that both passed
 * and settled; null when none did.
 */
export function sustainedRate(steps: readonly JudgedStep[]): number | null {
  let best: JudgedStep | undefined;
  for (const step of steps) {
    if (!step.passed || !step.settled) continue;
    if (best === undefined || step.offeredRate > best.offeredRate) best = step;
  }
  return best?.acceptedRate ?? null;
}

/**
 * For each accepted request whose order the system recorded with a decision, the ms from the
 * moment the client had its answer to the decision (`decidedAt`, the system's wall clock).
 * `startedAtWall` is the epoch ms of the run's time 0, which sample times are relative to.
 * A decision stamped before the answer arrived counts as 0.
 */
export function answerToFinal(
  samples: readonly RequestSample[],
  records: ReadonlyMap<string, OrderRecord>,
  prefix: string,
  startedAtWall: number,
): number[] {
  const byIndex = new Map<number, OrderRecord>();
  for (const [customerId, record] of records) {
    const index = indexOfCustomer(prefix, customerId);
    if (index !== undefined) byIndex.set(index, record);
  }
  const values: number[] = [];
  for (const sample of samples) {
    if (sample.status < 200 || sample.status >= 300) continue;
    const record = byIndex.get(sample.index);
    if (record === undefined || record.decidedAt === null || record.orderId !== sample.orderId) continue;
    values.push(Math.max(0, record.decidedAt - (startedAtWall + sample.doneAt)));
  }
  return values;
}

/** `delta / orders`, or null when there were no orders or no counter to read. */
export function perOrder(delta: number | null, orders: number): number | null {
  if (delta === null || orders <= 0) return null;
  return delta / orders;
}

/**
 * A plain-text grid: the first column left-aligned, the others right-aligned, a rule under the
 * header. Rows shorter than the header are padded with empty cells.
 */
export function formatGrid(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((row) => header.map((_, column) => row[column] ?? ''));
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(all[0]!), widths.map((width) => '-'.repeat(width)).join('  '), ...all.slice(1).map(line)].join(
    '\n',
  );
}

/** A figure for a grid cell: `—` for none, else `digits` decimals with thousands separators. */
export function cell(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
