// What the lab prints: a progress line while it runs (redrawn in place on a terminal, a line
// per phase otherwise, e.g. in CI), and the summary table and targets at the end.
import type { LabProgress, LabResult } from './lab.ts';
import type { LiveSample } from './run-scenario.ts';
import type { LatencySummary } from './percentiles.ts';
import type { RunMetrics } from './run-metrics.ts';

const REDRAW_MS = 200;
const RECENT_MS = 1_000;

/** The progress display. */
export class TerminalProgress implements LabProgress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  #label = '';
  #prefix = '';
  #durationMs: number | undefined;
  #sent = 0;
  #ok = 0;
  #errors = 0;
  #elapsedMs = 0;
  #recent: { at: number; latency: number }[] = [];
  #lastDraw = 0;
  #lineShown = false;

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  phase(label: string, step: number, steps: number, durationMs?: number): void {
    this.#label = label;
    this.#prefix = `[${String(step).padStart(String(steps).length)}/${steps}]`;
    this.#durationMs = durationMs;
    this.#sent = 0;
    this.#ok = 0;
    this.#errors = 0;
    this.#elapsedMs = 0;
    this.#recent = [];
    if (this.#tty) this.#draw();
    else this.#out.write(`${this.#prefix} ${label}\n`);
  }

  sample({ sample, elapsedMs }: LiveSample): void {
    this.#sent++;
    if (sample.status >= 200 && sample.status < 300) this.#ok++;
    else this.#errors++;
    this.#elapsedMs = Math.max(this.#elapsedMs, elapsedMs);
    this.#recent.push({ at: elapsedMs, latency: sample.doneAt - sample.dueAt });
    const now = performance.now();
    if (this.#tty && now - this.#lastDraw >= REDRAW_MS) this.#draw();
  }

  note(text: string): void {
    this.#clear();
    this.#out.write(`${text}\n`);
  }

  /** Removes the progress line. */
  finish(): void {
    this.#clear();
  }

  #clear(): void {
    if (this.#tty && this.#lineShown) this.#out.write('\r\x1b[2K');
    this.#lineShown = false;
  }

  #draw(): void {
    this.#lastDraw = performance.now();
    const cutoff = this.#elapsedMs - RECENT_MS;
    this.#recent = this.#recent.filter((r) => r.at >= cutoff);
    const latencies = this.#recent.map((r) => r.latency).sort((a, b) => a - b);
    const p99 = latencies.length === 0 ? '–' : `${fmt(latencies[Math.ceil(latencies.length * 0.99) - 1])} ms`;
    const clock =
      this.#durationMs === undefined
        ? ''
        : ` ${(this.#elapsedMs / 1000).toFixed(1)}/${(this.#durationMs / 1000).toFixed(1)} s`;
    const bar =
      this.#durationMs === undefined ? '' : ` ${progressBar(this.#elapsedMs / this.#durationMs, 16)}`;
    const counts =
      this.#sent === 0 ? '' : `  sent ${this.#sent}  ok ${this.#ok}  err ${this.#errors}  p99(1 s) ${p99}`;
    const line = `${this.#prefix} ${this.#label}${bar}${clock}${counts}`;
    const width = this.#out.columns ?? 120;
    this.#out.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
    this.#lineShown = true;
  }
}

function progressBar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** A duration in ms for people: 0.85, 12.3, 431, 12 045. */
export function fmt(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toString();
}

function latency(summary: LatencySummary, key: 'p50' | 'p99' | 'p999' | 'max'): string {
  return fmt(summary[key]);
}

/** Rows of the summary: one per scenario and architecture. */
export function summaryRows(result: LabResult): string[][] {
  const rows: string[][] = [];
  for (const scenario of result.scenarios) {
    for (const architecture of ['event-driven', 'rest'] as const) {
      const m: RunMetrics = scenario.results[architecture];
      const r = m.reconciliation;
      rows.push([
        scenario.id,
        architecture === 'rest' ? 'REST' : 'event-driven',
        m.offeredRate.toFixed(1),
        m.acceptedRate.toFixed(1),
        latency(m.http, 'p50'),
        latency(m.http, 'p99'),
        latency(m.http, 'p999'),
        latency(m.http, 'max'),
        `${(m.errorRate * 100).toFixed(1)}%`,
        fmt(m.endToEnd.p50),
        fmt(m.endToEnd.p99),
        `${r.lost}/${r.accepted}`,
        String(r.failedOrders),
        String(r.duplicateEffects),
        m.retries === null ? '–' : String(m.retries),
        String(m.deadLetters),
        m.maxConsumerLag === null ? 'n/a' : String(m.maxConsumerLag),
        m.fault === null ? 'n/a' : m.recoveryMs === null ? 'no' : `${fmt(m.recoveryMs)}`,
      ]);
    }
  }
  return rows;
}

export const SUMMARY_HEADER = [
  'scenario',
  'arch',
  'offered/s',
  'accepted/s',
  'p50 ms',
  'p99 ms',
  'p99.9 ms',
  'max ms',
  'errors',
  'e2e p50',
  'e2e p99',
  'lost',
  'failed',
  'dup',
  'retries',
  'dead',
  'max lag',
  'recovery ms',
];

/** Lays out rows as a plain-text table; columns whose cells are all numbers are right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const isNumber = (text: string) => /^[-–\d.,/%×]+$|^n\/a$|^no$/.test(text);
  const right = header.map((_, i) => rows.length > 0 && rows.every((r) => isNumber(r[i] ?? '')));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (right[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The end-of-run text: summary table, sustained rates, targets, and what went wrong. */
export function formatSummary(result: LabResult): string {
  const lines = [formatTable(SUMMARY_HEADER, summaryRows(result)), ''];
  lines.push(
    'HTTP latency is POST /orders from each request’s due time (open loop); e2e is request → final status;',
    'lost = accepted orders without a record or final state; failed = not accepted + lost + never settled.',
    ...(result.mode.rounds > 1
      ? [
          `Each row is that system's median round (by p99) of ${result.mode.rounds}; every round is in results.json.`,
        ]
      : []),
    '',
  );
  for (const architecture of ['event-driven', 'rest'] as const) {
    const c = result.capacity[architecture];
    const steps = c.steps
      .map((s) => `${s.offeredRate.toFixed(0)}/s→p99 ${fmt(s.p99)} ms${s.passed ? ' ✓' : ' ✗'}`)
      .join(', ');
    const best = c.maxSustainedRate === null ? 'none' : `${c.maxSustainedRate.toFixed(0)}/s`;
    lines.push(
      `sustained at p99 < ${c.p99BoundMs} ms, ${architecture === 'rest' ? 'REST' : 'event-driven'}: ${best}  (${steps})`,
    );
  }
  lines.push('');
  for (const target of result.targets) {
    const mark = target.met === null ? '?' : target.met ? 'MET' : 'NOT MET';
    lines.push(`${mark.padEnd(7)}  ${target.target}\n         ${target.detail}`);
  }
  if (result.problems.length > 0) {
    lines.push('', `${result.problems.length} problem(s) besides failed requests (also in results.json):`);
    for (const problem of result.problems) lines.push(`  - ${problem}`);
  }
  return lines.join('\n');
}
