// The lab report's charts as standalone SVG documents, drawn by Vega-Lite (compiled to Vega and
// rendered to SVG in Node, no browser and no canvas): line charts in panels side by side sharing
// one y scale (so two architectures compare at a glance), and grouped bar charts. This module
// only turns the report's series into Vega-Lite specifications; scales, axes, ticks, legends and
// layout are Vega's (ADR 0027).
import { None, View, logger, parse } from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';

export interface ChartPoint {
  readonly x: number;
  /** null: no value here (the line breaks). */
  readonly y: number | null;
}

export interface ChartSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly ChartPoint[];
  /** SVG stroke-dasharray, e.g. '4 3'. */
  readonly dash?: string;
  /** Line width; 0 draws no line (markers only). */
  readonly width?: number;
  /** Draw a dot at every point (for sparse series). */
  readonly markers?: boolean;
}

/** A shaded x range, e.g. the time a fault was in force. */
export interface ChartBand {
  readonly from: number;
  readonly to: number;
  readonly label: string;
}

export interface ChartPanel {
  readonly title: string;
  readonly series: readonly ChartSeries[];
  readonly bands?: readonly ChartBand[];
  /** Shown in the middle of a panel that has nothing to draw. */
  readonly empty?: string;
}

export interface PanelChartOptions {
  readonly title: string;
  readonly panels: readonly ChartPanel[];
  readonly xLabel: string;
  readonly yLabel: string;
  readonly yScale: 'log' | 'linear';
  readonly xDomain: readonly [number, number];
  /** Default: from the data of every panel. */
  readonly yDomain?: readonly [number, number];
  /** Horizontal reference lines, e.g. a latency bound. */
  readonly hLines?: readonly { readonly y: number; readonly label: string; readonly color: string }[];
  readonly panelWidth?: number;
  readonly panelHeight?: number;
}

export interface BarGroup {
  readonly label: string;
  /** One value per series, in the order of `series`; null: no bar. */
  readonly values: readonly (number | null)[];
}

const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif';
/** Axis labels as `shortNumber` writes them, in Vega's expression language. */
const SHORT_LABEL =
  "abs(datum.value) >= 1e6 ? format(datum.value / 1e6, '.1~f') + 'M' : abs(datum.value) >= 1e3 ? format(datum.value / 1e3, '.1~f') + 'k' : format(datum.value, '.2~r')";
const CONFIG = {
  font: FONT,
  background: '#ffffff',
  padding: 12,
  view: { stroke: '#cbd5e1' },
  title: { fontSize: 16, fontWeight: 600, color: '#0f172a', anchor: 'start' },
  axis: {
    labelColor: '#64748b',
    titleColor: '#475569',
    gridColor: '#e2e8f0',
    labelFontSize: 11,
    titleFontSize: 12,
  },
  legend: { orient: 'bottom', labelColor: '#334155', labelFontSize: 12, labelLimit: 0, title: null },
} as const;

/** Escapes text for XML content and attributes. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** A number as short as it can be read: 0.5, 12, 1.2k, 3M. */
export function shortNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${+(value / 1e3).toFixed(0)}k`;
  if (abs >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  if (abs >= 10 || abs === 0) return `${+value.toFixed(0)}`;
  if (abs >= 1) return `${+value.toFixed(1)}`;
  return `${+value.toPrecision(1)}`;
}

/** The y domain that holds every value: whole decades for log, from 0 for linear. */
export function niceDomain(values: readonly number[], kind: 'log' | 'linear'): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v) && (kind === 'linear' || v > 0));
  if (kind === 'log') {
    if (finite.length === 0) return [1, 10];
    const lo = 10 ** Math.floor(Math.log10(Math.min(...finite)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...finite) * 1.0001));
    return [lo, Math.max(hi, lo * 10)];
  }
  const max = finite.length === 0 ? 1 : Math.max(...finite);
  return [0, max <= 0 ? 1 : max * 1.08];
}

/** Tick values of a log axis: 1, 2 and 5 of each decade, or only 1 over more than four decades. */
export function logTicks(domain: readonly [number, number]): number[] {
  const [lo, hi] = domain;
  const decades = Math.log10(hi) - Math.log10(lo);
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of decades > 4 ? [1] : [1, 2, 5]) {
      const t = +(m * 10 ** e).toPrecision(6);
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
    }
  }
  return ticks;
}

/** Renders a Vega-Lite specification to a standalone SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Vega-Lite's warnings are about choices made here on purpose (a legend per panel); errors throw.
  const view = new View(parse(compile(spec, { logger: logger(None) }).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Series names (first of each) with their color, dash and width, for one shared legend. */
function seriesStyles(series: readonly ChartSeries[]): ChartSeries[] {
  const seen = new Map<string, ChartSeries>();
  for (const s of series) if (!seen.has(s.name)) seen.set(s.name, s);
  return [...seen.values()];
}

/**
 * Line charts in panels side by side, sharing the x and y scales.
 *
 * @example await linePanels({ title: 'Latency', panels: [eda, rest], xLabel: 's', yLabel: 'ms', yScale: 'log', xDomain: [0, 36_000] })
 */
export function linePanels(options: PanelChartOptions): Promise<string> {
  const allY = options.panels.flatMap((p) =>
    p.series.flatMap((s) => s.points.map((pt) => pt.y).filter((y): y is number => y !== null)),
  );
  const yDomain =
    options.yDomain ?? niceDomain([...allY, ...(options.hLines ?? []).map((h) => h.y)], options.yScale);
  // A log scale has no place for zero or less: such values break the line like a missing one.
  const usable = (y: number | null) =>
    y !== null && Number.isFinite(y) && (options.yScale === 'linear' || y > 0);
  const x = {
    field: 'x',
    type: 'quantitative',
    title: options.xLabel,
    scale: { domain: [...options.xDomain], nice: false, zero: false },
    axis: { labelExpr: SHORT_LABEL },
  } as const;
  const y = {
    field: 'y',
    type: 'quantitative',
    title: options.yLabel,
    scale: {
      type: options.yScale,
      domain: [...yDomain],
      nice: false,
      ...(options.yScale === 'log' ? {} : { zero: false }),
    },
    axis: { labelExpr: SHORT_LABEL, ...(options.yScale === 'log' ? { values: logTicks(yDomain) } : {}) },
  } as const;
  // Each panel has its own legend: the same series name (p99) has each architecture's color.
  const panels = options.panels.map((panel) => {
    const styles = seriesStyles(panel.series);
    const color = {
      type: 'nominal',
      scale: { domain: styles.map((s) => s.name), range: styles.map((s) => s.color) },
    } as const;
    const points = (series: ChartSeries, keep: (y: number | null) => boolean) =>
      series.points.filter((p) => keep(p.y)).map((p) => ({ x: p.x, y: usable(p.y) ? p.y : null }));
    const lineSeries = panel.series.filter((s) => s.width !== 0);
    const markerSeries = panel.series.filter((s) => s.markers === true);
    const bands = (panel.bands ?? []).map((b) => ({
      from: Math.max(b.from, options.xDomain[0]),
      to: Math.min(b.to, options.xDomain[1]),
      label: b.label,
    }));
    const drawn = panel.series.some((s) => s.points.some((p) => usable(p.y)));
    const layers: unknown[] = [
      {
        data: { values: bands },
        mark: { type: 'rect', color: '#fee2e2', opacity: 0.75 },
        encoding: { x: { ...x, field: 'from' }, x2: { field: 'to' } },
      },
      {
        data: { values: bands },
        mark: {
          type: 'text',
          align: 'left',
          baseline: 'top',
          dx: 4,
          dy: 4,
          y: 0,
          color: '#b91c1c',
          fontSize: 11,
        },
        encoding: { x: { ...x, field: 'from' }, text: { field: 'label' } },
      },
      // One layer per series: its dash and width are its own, its color comes from the panel's
      // color scale (a constant `datum`), which also makes the legend.
      ...lineSeries.map((series) => ({
        data: { values: points(series, () => true) },
        mark: {
          type: 'line',
          strokeJoin: 'round',
          strokeWidth: series.width ?? 2,
          ...(series.dash === undefined ? {} : { strokeDash: series.dash.split(/\s+/).map(Number) }),
          invalid: 'break-paths-filter-domains',
        },
        encoding: { x, y, color: { ...color, datum: series.name } },
      })),
      ...markerSeries.map((series) => ({
        data: { values: points(series, usable) },
        mark: { type: 'circle', size: 40, opacity: 1 },
        encoding: { x, y, color: { ...color, datum: series.name } },
      })),
      ...(options.hLines ?? []).flatMap((h) => [
        {
          data: { values: [{ y: h.y, label: h.label }] },
          mark: { type: 'rule', color: h.color, strokeDash: [6, 4] },
          encoding: { y },
        },
        {
          data: { values: [{ y: h.y, label: h.label }] },
          mark: { type: 'text', align: 'left', dx: 6, dy: -8, x: 0, color: h.color, fontSize: 11 },
          encoding: { y, text: { field: 'label' } },
        },
      ]),
      ...(drawn
        ? []
        : [
            {
              data: { values: [{ text: panel.empty ?? 'no data' }] },
              mark: {
                type: 'text',
                x: { expr: 'width / 2' },
                y: { expr: 'height / 2' },
                color: '#94a3b8',
                fontSize: 13,
              },
              encoding: { text: { field: 'text' } },
            },
          ]),
    ];
    return {
      title: { text: panel.title, fontSize: 13, color: '#1e293b' },
      width: options.panelWidth ?? 560,
      height: options.panelHeight ?? 240,
      layer: layers,
    };
  });
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    config: CONFIG,
    hconcat: panels,
    resolve: {
      scale: { x: 'shared', y: 'shared', color: 'independent' },
      legend: { color: 'independent' },
    },
  } as TopLevelSpec);
}

/** Grouped vertical bars, one group per category, one bar per series; values printed on top. */
export function groupedBars(options: {
  readonly title: string;
  readonly yLabel: string;
  readonly yScale: 'log' | 'linear';
  readonly series: readonly { readonly name: string; readonly color: string }[];
  readonly groups: readonly BarGroup[];
  readonly width?: number;
  readonly height?: number;
  readonly format?: (value: number) => string;
}): Promise<string> {
  const format = options.format ?? shortNumber;
  const rows = options.groups.flatMap((g) =>
    g.values.flatMap((value, i) =>
      value === null || (options.yScale === 'log' && value <= 0)
        ? []
        : [{ group: g.label, series: options.series[i]!.name, value, text: format(value) }],
    ),
  );
  const domain = niceDomain(
    rows.map((r) => r.value),
    options.yScale,
  );
  const encoding = {
    x: { field: 'group', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0 } },
    xOffset: { field: 'series', type: 'nominal', sort: null },
    y: {
      field: 'value',
      type: 'quantitative',
      title: options.yLabel,
      scale: {
        type: options.yScale,
        domain,
        nice: false,
        ...(options.yScale === 'log' ? {} : { zero: false }),
      },
      axis: { labelExpr: SHORT_LABEL, ...(options.yScale === 'log' ? { values: logTicks(domain) } : {}) },
    },
    color: {
      field: 'series',
      type: 'nominal',
      scale: { domain: options.series.map((s) => s.name), range: options.series.map((s) => s.color) },
    },
  } as const;
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    config: CONFIG,
    width: (options.width ?? 1140) - 120,
    height: (options.height ?? 320) - 130,
    data: { values: rows },
    encoding,
    layer: [
      { mark: { type: 'bar', cornerRadiusEnd: 2 } },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -4, color: '#334155', fontSize: 11 },
        encoding: { text: { field: 'text' } },
      },
    ],
  });
}
