// The lab's report: every chart as an SVG document, and one self-contained HTML page (inline
// CSS, charts inlined) with the targets, the summary table, and per scenario the latency over
// time of both architectures side by side.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Architecture } from './lab-systems.ts';
import type { LabResult, RoundSummary, ScenarioResult } from './lab.ts';
import type { LatencyWindow, RunMetrics } from './run-metrics.ts';
import {
  type ChartBand,
  type ChartPanel,
  type ChartSeries,
  escapeXml,
  groupedBars,
  linePanels,
  shortNumber,
} from './charts.ts';
import { SUMMARY_HEADER, fmt, summaryRows } from './terminal.ts';

const COLORS: Readonly<Record<Architecture, { main: string; light: string }>> = {
  'event-driven': { main: '#2563eb', light: '#93c5fd' },
  rest: { main: '#ea580c', light: '#fdba74' },
};
const LABEL: Readonly<Record<Architecture, string>> = {
  'event-driven': 'event-driven (202)',
  rest: 'REST (201)',
};
const ARCHS: readonly Architecture[] = ['event-driven', 'rest'];

/** One chart: its file name and SVG document. */
export interface Chart {
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

function latencySeries(
  windows: readonly LatencyWindow[],
  windowMs: number,
  color: { main: string; light: string },
): ChartSeries[] {
  const at = (w: LatencyWindow) => (w.t + windowMs / 2) / 1000;
  return [
    {
      name: 'max',
      color: color.light,
      width: 1,
      dash: '2 3',
      points: windows.map((w) => ({ x: at(w), y: w.max })),
    },
    { name: 'p99', color: color.main, width: 2.2, points: windows.map((w) => ({ x: at(w), y: w.p99 })) },
    {
      name: 'p50',
      color: color.main,
      width: 1.4,
      dash: '6 4',
      points: windows.map((w) => ({ x: at(w), y: w.p50 })),
    },
  ];
}

function errorSeries(windows: readonly LatencyWindow[], windowMs: number): ChartSeries {
  return {
    name: 'window with errors',
    color: '#dc2626',
    markers: true,
    width: 0,
    points: windows.map((w) => ({
      x: (w.t + windowMs / 2) / 1000,
      y: w.errors > 0 ? (w.max ?? w.p99) : null,
    })),
  };
}

function faultBand(m: RunMetrics): ChartBand[] {
  return m.fault === null ? [] : [{ from: m.fault.startMs / 1000, to: m.fault.endMs / 1000, label: 'fault' }];
}

/** Every chart of the report. */
export async function buildCharts(result: LabResult): Promise<Chart[]> {
  const charts: Chart[] = [];
  const windowMs = result.mode.windowMs;
  const scenarioLabel = (s: ScenarioResult) => s.id;

  charts.push({
    file: 'overview-http-p99.svg',
    title: 'POST /orders p99 per scenario',
    svg: await groupedBars({
      title: 'POST /orders p99 latency per scenario (ms, log scale)',
      yLabel: 'ms',
      yScale: 'log',
      series: ARCHS.map((a) => ({ name: LABEL[a], color: COLORS[a].main })),
      groups: result.scenarios.map((s) => ({
        label: scenarioLabel(s),
        values: ARCHS.map((a) => s.results[a].http.p99),
      })),
      format: (v) => fmt(v),
    }),
  });
  charts.push({
    file: 'overview-e2e-p99.svg',
    title: 'End-to-end p99 per scenario',
    svg: await groupedBars({
      title: 'End-to-end p99, request → final status (ms, log scale)',
      yLabel: 'ms',
      yScale: 'log',
      series: ARCHS.map((a) => ({ name: LABEL[a], color: COLORS[a].main })),
      groups: result.scenarios.map((s) => ({
        label: scenarioLabel(s),
        values: ARCHS.map((a) => s.results[a].endToEnd.p99),
      })),
      format: (v) => fmt(v),
    }),
  });

  for (const scenario of result.scenarios) {
    const durationS = result.mode.durationMs / 1000;
    const httpPanels: ChartPanel[] = ARCHS.map((a) => {
      const m = scenario.results[a];
      return {
        title: LABEL[a],
        bands: faultBand(m),
        series: [...latencySeries(m.series.http, windowMs, COLORS[a]), errorSeries(m.series.http, windowMs)],
      };
    });
    charts.push({
      file: `${scenario.id}-http.svg`,
      title: `${scenario.title}: POST /orders latency over time`,
      svg: await linePanels({
        title: `${scenario.title}: POST /orders latency over time (per ${windowMs / 1000} s window)`,
        panels: httpPanels,
        xLabel: 'seconds into the run (request due time)',
        yLabel: 'ms (log)',
        yScale: 'log',
        xDomain: [0, durationS],
      }),
    });
    const e2ePanels: ChartPanel[] = ARCHS.map((a) => {
      const m = scenario.results[a];
      return {
        title: LABEL[a],
        bands: faultBand(m),
        series: latencySeries(m.series.endToEnd, windowMs, COLORS[a]).filter((s) => s.name !== 'max'),
        empty: 'no order reached a final status',
      };
    });
    charts.push({
      file: `${scenario.id}-e2e.svg`,
      title: `${scenario.title}: end-to-end completion over time`,
      svg: await linePanels({
        title: `${scenario.title}: end-to-end, request → final status (by request due time)`,
        panels: e2ePanels,
        xLabel: 'seconds into the run (request due time)',
        yLabel: 'ms (log)',
        yScale: 'log',
        xDomain: [0, durationS],
      }),
    });
    const eda = scenario.results['event-driven'];
    const lagEnd = Math.max(durationS, ...eda.series.lag.map((p) => p.t / 1000));
    charts.push({
      file: `${scenario.id}-lag.svg`,
      title: `${scenario.title}: consumer lag (event-driven)`,
      svg: await linePanels({
        title: `${scenario.title}: consumer lag of the event-driven system (events not yet consumed, all groups)`,
        panels: [
          {
            title: 'event-driven: run, then drain',
            bands: faultBand(eda),
            series: [
              {
                name: 'consumer lag',
                color: COLORS['event-driven'].main,
                points: eda.series.lag.map((p) => ({ x: p.t / 1000, y: p.lag })),
              },
            ],
          },
        ],
        xLabel: 'seconds into the run',
        yLabel: 'events',
        yScale: 'linear',
        xDomain: [0, lagEnd],
        panelWidth: 1060,
        panelHeight: 160,
      }),
    });
  }

  const capacityPoints = (a: Architecture) =>
    [...result.capacity[a].steps]
      .sort((x, y) => x.offeredRate - y.offeredRate)
      .map((s) => ({ x: s.offeredRate, y: s.p99 }));
  const maxRate = Math.max(1, ...ARCHS.flatMap((a) => result.capacity[a].steps.map((s) => s.offeredRate)));
  charts.push({
    file: 'capacity.svg',
    title: 'POST /orders p99 by offered rate',
    svg: await linePanels({
      title: `Sustained rate: POST /orders p99 by offered rate (steps of ${result.mode.capacity.stepMs / 1000} s)`,
      panels: [
        {
          title: 'each point: one constant-rate step',
          series: ARCHS.map((a) => ({
            name: LABEL[a],
            color: COLORS[a].main,
            markers: true,
            points: capacityPoints(a),
          })),
        },
      ],
      hLines: [
        {
          y: result.mode.capacity.p99BoundMs,
          label: `p99 bound ${result.mode.capacity.p99BoundMs} ms`,
          color: '#dc2626',
        },
      ],
      xLabel: 'offered orders per second',
      yLabel: 'p99 ms (log)',
      yScale: 'log',
      xDomain: [0, maxRate * 1.1],
      panelWidth: 1060,
      panelHeight: 260,
    }),
  });
  return charts;
}

function cell(text: string, bad = false): string {
  return `<td${bad ? ' class="bad"' : ''}>${escapeXml(text)}</td>`;
}

function scenarioTable(scenario: ScenarioResult): string {
  const rows: [string, (m: RunMetrics) => string, (m: RunMetrics) => boolean][] = [
    [
      'offered / accepted per s',
      (m) => `${m.offeredRate.toFixed(1)} / ${m.acceptedRate.toFixed(1)}`,
      (m) => m.acceptedRate < m.offeredRate * 0.99,
    ],
    [
      'POST p50 / p99 / p99.9 / max ms',
      (m) => [m.http.p50, m.http.p99, m.http.p999, m.http.max].map(fmt).join(' / '),
      () => false,
    ],
    [
      'POST p99 while the fault was in force',
      (m) => (m.httpDuringFault === null ? 'n/a' : `${fmt(m.httpDuringFault.p99)} ms`),
      () => false,
    ],
    [
      'error rate',
      (m) =>
        `${(m.errorRate * 100).toFixed(2)}% ${Object.entries(m.errors)
          .map(([k, v]) => `${k}×${v}`)
          .join(' ')}`,
      (m) => m.errorRate > 0,
    ],
    ['end-to-end p50 / p99 ms', (m) => `${fmt(m.endToEnd.p50)} / ${fmt(m.endToEnd.p99)}`, () => false],
    [
      'settled p50 / p99 ms (customer told)',
      (m) => `${fmt(m.settled.p50)} / ${fmt(m.settled.p99)}`,
      () => false,
    ],
    [
      'accepted → records → final (lost)',
      (m) =>
        `${m.reconciliation.accepted} → ${m.reconciliation.records} → ${m.reconciliation.final} (${m.reconciliation.lost})`,
      (m) => m.reconciliation.lost > 0,
    ],
    [
      'failed orders (not accepted + lost + never settled)',
      (m) => String(m.reconciliation.failedOrders),
      (m) => m.reconciliation.failedOrders > 0,
    ],
    [
      'duplicate effects',
      (m) => String(m.reconciliation.duplicateEffects),
      (m) => m.reconciliation.duplicateEffects > 0,
    ],
    ['retries', (m) => (m.retries === null ? 'unknown (counters not read)' : String(m.retries)), () => false],
    ['dead letters (REST: repairs left)', (m) => String(m.deadLetters), (m) => m.deadLetters > 0],
    [
      'max consumer lag',
      (m) => (m.maxConsumerLag === null ? 'n/a (no log)' : String(m.maxConsumerLag)),
      () => false,
    ],
    [
      'problems (admin calls, counters)',
      (m) => (m.problems.length === 0 ? 'none' : m.problems.join('; ')),
      (m) => m.problems.length > 0,
    ],
    [
      'recovery after the fault',
      (m) => (m.fault === null ? 'n/a' : m.recoveryMs === null ? 'not recovered' : `${fmt(m.recoveryMs)} ms`),
      (m) => m.fault !== null && m.recoveryMs === null,
    ],
  ];
  const body = rows
    .map(
      ([label, value, bad]) =>
        `<tr><th>${escapeXml(label)}</th>${ARCHS.map((a) => cell(value(scenario.results[a]), bad(scenario.results[a]))).join('')}</tr>`,
    )
    .join('\n');
  const perRound = (a: Architecture, pick: (r: RoundSummary) => string) =>
    scenario.rounds[a]
      .map((r) => (r.round === scenario.medianRound[a] ? `[${pick(r)}]` : pick(r)))
      .join(' · ');
  const roundRows =
    scenario.rounds['event-driven'].length < 2
      ? ''
      : [
          ['POST p99 per round ms ([shown])', (r: RoundSummary) => fmt(r.httpP99)] as const,
          ['POST p99 during the fault per round ms', (r: RoundSummary) => fmt(r.httpP99DuringFault)] as const,
          ['failed orders per round', (r: RoundSummary) => String(r.failedOrders)] as const,
        ]
          .map(
            ([label, pick]) =>
              `<tr><th>${escapeXml(label)}</th>${ARCHS.map((a) => cell(perRound(a, pick))).join('')}</tr>`,
          )
          .join('\n');
  return `<table class="kv"><thead><tr><th></th>${ARCHS.map((a) => `<th>${escapeXml(LABEL[a])}</th>`).join('')}</tr></thead><tbody>${body}${roundRows}</tbody></table>`;
}

/** The HTML page; `charts` are inlined. */
export function renderHtml(result: LabResult, charts: readonly Chart[]): string {
  const chart = (file: string) => {
    const found = charts.find((c) => c.file === file);
    return found === undefined
      ? ''
      : `<figure>${found.svg}<figcaption><a href="svg/${file}">${escapeXml(file)}</a></figcaption></figure>`;
  };
  const targets = result.targets
    .map(
      (t) =>
        `<li class="${t.met === null ? 'unknown' : t.met ? 'met' : 'missed'}"><strong>${t.met === null ? '?' : t.met ? 'met' : 'not met'}</strong> ${escapeXml(t.target)}<br><span>${escapeXml(t.detail)}</span></li>`,
    )
    .join('\n');
  const summary = `<table class="summary"><thead><tr>${SUMMARY_HEADER.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${summaryRows(
    result,
  )
    .map(
      (row) =>
        `<tr class="${row[1] === 'REST' ? 'rest' : 'eda'}">${row.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`,
    )
    .join('\n')}</tbody></table>`;
  const sections = result.scenarios
    .map(
      (s) => `<section id="${s.id}">
<h2>${escapeXml(s.title)}</h2>
<p>${escapeXml(s.description)}${Object.keys(s.faults).length > 0 ? ` Injected through the admin endpoint during the middle third of the run (shaded: from the admin call’s answer to the lifting of the fault): <code>${escapeXml(JSON.stringify(s.faults))}</code>.` : ''}</p>
${scenarioTable(s)}
${chart(`${s.id}-http.svg`)}
${chart(`${s.id}-e2e.svg`)}
${chart(`${s.id}-lag.svg`)}
</section>`,
    )
    .join('\n');
  const capacityRows = ARCHS.flatMap((a) =>
    result.capacity[a].steps.map(
      (s) =>
        `<tr class="${a === 'rest' ? 'rest' : 'eda'}"><td class="who">${escapeXml(LABEL[a])}</td><td>${s.offeredRate.toFixed(0)}</td><td>${s.acceptedRate.toFixed(1)}</td><td>${fmt(s.p50)}</td><td>${fmt(s.p99)}</td><td>${s.errors}</td><td>${s.lagAtEnd ?? 'n/a'}</td><td>${s.lagAtEnd === null ? 'n/a' : fmt(s.drainMs)}</td><td>${s.passed ? '✓' : '✗'}</td></tr>`,
    ),
  ).join('\n');
  const m = result.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald resilience lab — ${escapeXml(result.mode.name)} — ${escapeXml(result.startedAt)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
main{max-width:1240px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:0 0 8px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:18px 20px;margin:22px 0}
.meta{color:#475569;font-size:14px;line-height:1.5}
code{background:#f1f5f9;padding:1px 5px;border-radius:4px;font-size:13px}
ul.targets{list-style:none;padding:0;margin:8px 0}
ul.targets li{padding:8px 12px;margin:6px 0;border-radius:8px;border-left:6px solid}
ul.targets li.met{background:#f0fdf4;border-color:#16a34a}ul.targets li.missed{background:#fef2f2;border-color:#dc2626}
ul.targets li.unknown{background:#f8fafc;border-color:#94a3b8}ul.targets span{color:#475569;font-size:13px}
table{border-collapse:collapse;font-size:13px}
table.summary{width:100%;overflow-x:auto;display:block}
table.steps th,table.steps td{padding:4px 10px;border-bottom:1px solid #e2e8f0;text-align:right}
table.steps td.who,table.steps th:first-child{text-align:left}tr.eda td.who{color:#2563eb}tr.rest td.who{color:#ea580c}
table.summary{font-size:12px}table.summary th,table.summary td{padding:3px 5px;border-bottom:1px solid #e2e8f0;text-align:right;white-space:nowrap}
table.summary th:nth-child(-n+2),table.summary td:nth-child(-n+2){text-align:left}
tr.eda td:nth-child(2){color:#2563eb;font-weight:600}tr.rest td:nth-child(2),tr.rest td:first-child{color:#ea580c}
tr.eda td:first-child{color:#2563eb}
table.kv th,table.kv td{padding:4px 12px;border-bottom:1px solid #e2e8f0;text-align:left}
table.kv thead th:nth-child(2){color:#2563eb}table.kv thead th:nth-child(3){color:#ea580c}
td.bad{color:#b91c1c;font-weight:600}
figure{margin:14px 0}figure svg{max-width:100%;height:auto}figcaption{font-size:12px;color:#64748b}
.legend-note{font-size:13px;color:#475569}
nav a{margin-right:12px;font-size:14px}
</style></head>
<body><main>
<h1>Herald resilience lab: event-driven vs REST</h1>
<p class="meta">${escapeXml(result.mode.name)} mode · SQLite synchronous=${escapeXml(result.durability)} in both systems · ${escapeXml(result.startedAt)} → ${escapeXml(result.finishedAt)} · command <code>${escapeXml(result.command)}</code><br>
${m.cpus} cores (${escapeXml(m.cpuModel)}), ${m.memoryMb} MB, ${escapeXml(m.os)}, Node ${escapeXml(m.node)} · load average ${m.loadAverage.start.toFixed(2)} at start, ${m.loadAverage.end.toFixed(2)} at end · load generator: ${escapeXml(m.loadGenerator)}<br>
Every scenario: ${result.mode.ratePerSecond} orders/s offered at a constant arrival rate for ${fmtS(result.mode.durationMs)} after ${fmtS(result.mode.warmupMs)} of warm-up, ${result.mode.rounds} round(s) per system, rounds alternating which system goes first; tables and charts show each system’s median round (by POST p99); latency is measured from each request’s due time, so a stall shows as latency, never as a lower rate.</p>
<nav>${result.scenarios.map((s) => `<a href="#${s.id}">${escapeXml(s.title)}</a>`).join('')}<a href="#capacity">Sustained rate</a><a href="#reading">How to read</a></nav>
<section><h2>Targets (docs/performance-targets.md)</h2><ul class="targets">${targets}</ul>${
    result.problems.length === 0
      ? ''
      : `<h3>Problems besides failed requests</h3><ul>${result.problems.map((p) => `<li>${escapeXml(p)}</li>`).join('')}</ul>`
  }</section>
<section><h2>Summary</h2>${summary}
<p class="legend-note">Latencies in ms. HTTP: POST /orders, due time → answer (timeouts count at their length). e2e: request → final status. lost: accepted orders without a record or final state / accepted. failed: not accepted + lost + accepted but never settled. dup: extra messages to a customer. dead: events in dead-letter topics (REST: repairs left for an operator). recovery: fault end → median latency back near its pre-fault value with no errors, and every order accepted before the fault ended settled.</p>
${chart('overview-http-p99.svg')}
${chart('overview-e2e-p99.svg')}
</section>
${sections}
<section id="capacity"><h2>Sustained rate at p99 &lt; ${result.mode.capacity.p99BoundMs} ms</h2>
<p>Constant-rate steps of ${fmtS(result.mode.capacity.stepMs)} (after ${fmtS(result.mode.capacity.warmupMs)} of warm-up), rising ×${result.mode.capacity.factor} while a step passes (≥ 99% accepted, no error, POST p99 under the bound), then ${result.mode.capacity.bisections} bisection step(s). Highest sustained: event-driven <strong>${result.capacity['event-driven'].maxSustainedRate === null ? 'none' : `${result.capacity['event-driven'].maxSustainedRate.toFixed(0)}/s`}</strong>, REST <strong>${result.capacity.rest.maxSustainedRate === null ? 'none' : `${result.capacity.rest.maxSustainedRate.toFixed(0)}/s`}</strong>. For the event-driven system a 202 is an accepted order; “lag at end” shows whether its consumers kept up with that rate.</p>
${chart('capacity.svg')}
<table class="steps"><thead><tr><th>system</th><th>offered/s</th><th>accepted/s</th><th>p50 ms</th><th>p99 ms</th><th>errors</th><th>lag at end</th><th>drain ms</th><th>pass</th></tr></thead><tbody>${capacityRows}</tbody></table>
</section>
<section id="reading"><h2>How to read this</h2>
<p>The event-driven system answers <code>202</code> once <code>OrderPlaced</code> is durably in the log; the saga finishes the order afterwards. Its HTTP latency is the cost of taking an order; its end-to-end latency is how long the order takes to be decided. The REST baseline answers <code>201</code> with the final state, so its HTTP latency is its end-to-end latency, and every downstream delay or failure is the caller’s delay or failure.</p>
<p>Systems: event-driven <code>${escapeXml(result.systems['event-driven'].command)}</code> — ${escapeXml(result.systems['event-driven'].notes)}. REST <code>${escapeXml(result.systems.rest.command)}</code> — ${escapeXml(result.systems.rest.notes)}.</p>
</section>
</main></body></html>
`;
}

function fmtS(ms: number): string {
  return `${shortNumber(ms / 1000)} s`;
}

/** Writes results.json, report.html and svg/*.svg into `dir`; returns their paths. */
export async function writeReport(
  result: LabResult,
  dir: string,
): Promise<{
  readonly json: string;
  readonly html: string;
  readonly svgDir: string;
  readonly charts: number;
}> {
  const svgDir = join(dir, 'svg');
  await mkdir(svgDir, { recursive: true });
  const charts = await buildCharts(result);
  for (const chart of charts) await writeFile(join(svgDir, chart.file), `${chart.svg}\n`);
  const json = join(dir, 'results.json');
  await writeFile(json, `${JSON.stringify(result, null, 2)}\n`);
  const html = join(dir, 'report.html');
  await writeFile(html, renderHtml(result, charts));
  return { json, html, svgDir, charts: charts.length };
}
