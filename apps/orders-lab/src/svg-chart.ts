// Small, dependency-free SVG charts for the lab report: line charts in panels side by side
// sharing one y scale (so two architectures compare at a glance), and grouped bar charts. The
// output is a standalone SVG document (it has its xmlns), fit for a file or inline HTML.

export interface ChartPoint {
  readonly x: number;
  /** null: no value here (the line breaks). */
  readonly y: number | null;
}

export interface ChartSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly ChartPoint[];
  /** SVG stroke-dasharray. */
  readonly dash?: string;
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
  readonly xFormat?: (x: number) => string;
  /** Horizontal reference lines, e.g. a latency bound. */
  readonly hLines?: readonly { readonly y: number; readonly label: string; readonly color: string }[];
  readonly panelWidth?: number;
  readonly panelHeight?: number;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';
const MARGIN = { left: 64, right: 18, top: 30, bottom: 44 };
const TITLE_HEIGHT = 30;
const LEGEND_HEIGHT = 26;

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

interface Scale {
  (value: number): number;
  readonly ticks: readonly number[];
}

function linearScale(
  domain: readonly [number, number],
  range: readonly [number, number],
  tickCount = 5,
): Scale {
  const [d0, d1] = domain[0] === domain[1] ? [domain[0], domain[0] + 1] : domain;
  const scale = ((v: number) => range[0] + ((v - d0) / (d1 - d0)) * (range[1] - range[0])) as Scale;
  const raw = (d1 - d0) / tickCount;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(d0 / step) * step; t <= d1 + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return Object.assign(scale, { ticks });
}

function logScale(domain: readonly [number, number], range: readonly [number, number]): Scale {
  const l0 = Math.log10(domain[0]);
  const l1 = Math.log10(Math.max(domain[1], domain[0] * 10));
  const scale = ((v: number) => {
    const clamped = Math.max(v, domain[0]);
    return range[0] + ((Math.log10(clamped) - l0) / (l1 - l0)) * (range[1] - range[0]);
  }) as Scale;
  const ticks: number[] = [];
  const decades = l1 - l0;
  for (let e = Math.floor(l0); e <= Math.ceil(l1); e++) {
    for (const m of decades > 4 ? [1] : [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= domain[0] * 0.999 && t <= 10 ** l1 * 1.001) ticks.push(+t.toPrecision(6));
    }
  }
  return Object.assign(scale, { ticks });
}

/** The y domain that holds every value: decades for log, from 0 for linear. */
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

function path(points: readonly ChartPoint[], x: (v: number) => number, y: (v: number) => number): string {
  let d = '';
  let drawing = false;
  for (const p of points) {
    if (p.y === null || !Number.isFinite(p.y)) {
      drawing = false;
      continue;
    }
    d += `${drawing ? 'L' : 'M'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`;
    drawing = true;
  }
  return d;
}

function legend(series: readonly ChartSeries[], width: number, top: number): string {
  const seen = new Map<string, ChartSeries>();
  for (const s of series) if (!seen.has(s.name)) seen.set(s.name, s);
  let x = MARGIN.left;
  const items: string[] = [];
  for (const s of seen.values()) {
    const swatch =
      s.markers === true && s.width === 0
        ? `<circle cx="${x + 11}" cy="${top}" r="4" fill="${s.color}"/>`
        : `<line x1="${x}" y1="${top}" x2="${x + 22}" y2="${top}" stroke="${s.color}" stroke-width="${s.width ?? 2}"${s.dash === undefined ? '' : ` stroke-dasharray="${s.dash}"`}/>`;
    items.push(
      `${swatch}<text x="${x + 28}" y="${top + 4}" font-size="12" fill="#334155" ${FONT}>${escapeXml(s.name)}</text>`,
    );
    x += 40 + s.name.length * 7;
    if (x > width - 120) break;
  }
  return items.join('');
}

/**
 * Line charts in panels side by side, sharing the x and y scales.
 *
 * @example linePanels({ title: 'Latency', panels: [eda, rest], xLabel: 's', yLabel: 'ms', yScale: 'log', xDomain: [0, 36_000] })
 */
export function linePanels(options: PanelChartOptions): string {
  const pw = options.panelWidth ?? 560;
  const ph = options.panelHeight ?? 240;
  const cellWidth = MARGIN.left + pw + MARGIN.right;
  const width = cellWidth * options.panels.length;
  const height = TITLE_HEIGHT + MARGIN.top + ph + MARGIN.bottom + LEGEND_HEIGHT;
  const allY = options.panels.flatMap((p) =>
    p.series.flatMap((s) => s.points.map((pt) => pt.y).filter((y): y is number => y !== null)),
  );
  const yDomain =
    options.yDomain ?? niceDomain([...allY, ...(options.hLines ?? []).map((h) => h.y)], options.yScale);
  const xFormat = options.xFormat ?? shortNumber;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(options.title)}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="16" font-weight="600" fill="#0f172a" ${FONT}>${escapeXml(options.title)}</text>`,
  ];
  options.panels.forEach((panel, index) => {
    const left = index * cellWidth + MARGIN.left;
    const top = TITLE_HEIGHT + MARGIN.top;
    const x = linearScale(options.xDomain, [left, left + pw]);
    const y =
      options.yScale === 'log' ? logScale(yDomain, [top + ph, top]) : linearScale(yDomain, [top + ph, top]);
    parts.push(
      `<text x="${left}" y="${top - 10}" font-size="13" font-weight="600" fill="#1e293b" ${FONT}>${escapeXml(panel.title)}</text>`,
    );
    for (const band of panel.bands ?? []) {
      const x0 = x(Math.max(band.from, options.xDomain[0]));
      const x1 = x(Math.min(band.to, options.xDomain[1]));
      parts.push(
        `<rect x="${x0.toFixed(1)}" y="${top}" width="${Math.max(0, x1 - x0).toFixed(1)}" height="${ph}" fill="#fee2e2" opacity="0.75"/>`,
        `<text x="${(x0 + 4).toFixed(1)}" y="${top + 14}" font-size="11" fill="#b91c1c" ${FONT}>${escapeXml(band.label)}</text>`,
      );
    }
    for (const tick of y.ticks) {
      const ty = y(tick).toFixed(1);
      parts.push(
        `<line x1="${left}" y1="${ty}" x2="${left + pw}" y2="${ty}" stroke="#e2e8f0"/>`,
        `<text x="${left - 6}" y="${ty}" dy="4" text-anchor="end" font-size="11" fill="#64748b" ${FONT}>${escapeXml(shortNumber(tick))}</text>`,
      );
    }
    for (const tick of x.ticks) {
      const tx = x(tick).toFixed(1);
      parts.push(
        `<line x1="${tx}" y1="${top + ph}" x2="${tx}" y2="${top + ph + 4}" stroke="#94a3b8"/>`,
        `<text x="${tx}" y="${top + ph + 17}" text-anchor="middle" font-size="11" fill="#64748b" ${FONT}>${escapeXml(xFormat(tick))}</text>`,
      );
    }
    parts.push(
      `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#cbd5e1"/>`,
      `<text x="${left + pw / 2}" y="${top + ph + 34}" text-anchor="middle" font-size="12" fill="#475569" ${FONT}>${escapeXml(options.xLabel)}</text>`,
      `<text transform="translate(${left - 46},${top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#475569" ${FONT}>${escapeXml(options.yLabel)}</text>`,
    );
    for (const line of options.hLines ?? []) {
      const ly = y(line.y).toFixed(1);
      parts.push(
        `<line x1="${left}" y1="${ly}" x2="${left + pw}" y2="${ly}" stroke="${line.color}" stroke-dasharray="6 4"/>`,
        `<text x="${left + 6}" y="${ly}" dy="-4" font-size="11" fill="${line.color}" ${FONT}>${escapeXml(line.label)}</text>`,
      );
    }
    const drawn = panel.series.filter((s) => s.points.some((p) => p.y !== null));
    if (drawn.length === 0) {
      parts.push(
        `<text x="${left + pw / 2}" y="${top + ph / 2}" text-anchor="middle" font-size="13" fill="#94a3b8" ${FONT}>${escapeXml(panel.empty ?? 'no data')}</text>`,
      );
    }
    for (const s of drawn) {
      const d = s.width === 0 ? '' : path(s.points, x, y);
      if (d !== '') {
        parts.push(
          `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-linejoin="round"${s.dash === undefined ? '' : ` stroke-dasharray="${s.dash}"`}/>`,
        );
      }
      if (s.markers === true) {
        for (const p of s.points) {
          if (p.y === null) continue;
          parts.push(
            `<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3.5" fill="${s.color}"/>`,
          );
        }
      }
    }
  });
  parts.push(
    legend(
      options.panels.flatMap((p) => p.series),
      width,
      height - 12,
    ),
    '</svg>',
  );
  return parts.join('\n');
}

export interface BarGroup {
  readonly label: string;
  /** One value per series, in the order of `series`; null: no bar. */
  readonly values: readonly (number | null)[];
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
}): string {
  const width = options.width ?? 1140;
  const plotHeight = (options.height ?? 320) - TITLE_HEIGHT - MARGIN.top - MARGIN.bottom - LEGEND_HEIGHT;
  const height = options.height ?? 320;
  const left = MARGIN.left;
  const top = TITLE_HEIGHT + MARGIN.top;
  const pw = width - MARGIN.left - MARGIN.right;
  const values = options.groups.flatMap((g) => g.values.filter((v): v is number => v !== null));
  const domain = niceDomain(values, options.yScale);
  const y =
    options.yScale === 'log'
      ? logScale(domain, [top + plotHeight, top])
      : linearScale(domain, [top + plotHeight, top]);
  const format = options.format ?? shortNumber;
  const groupWidth = pw / Math.max(1, options.groups.length);
  const barWidth = Math.min(56, (groupWidth * 0.7) / Math.max(1, options.series.length));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(options.title)}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="22" font-size="16" font-weight="600" fill="#0f172a" ${FONT}>${escapeXml(options.title)}</text>`,
  ];
  for (const tick of y.ticks) {
    const ty = y(tick).toFixed(1);
    parts.push(
      `<line x1="${left}" y1="${ty}" x2="${left + pw}" y2="${ty}" stroke="#e2e8f0"/>`,
      `<text x="${left - 6}" y="${ty}" dy="4" text-anchor="end" font-size="11" fill="#64748b" ${FONT}>${escapeXml(shortNumber(tick))}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(${left - 46},${top + plotHeight / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#475569" ${FONT}>${escapeXml(options.yLabel)}</text>`,
  );
  const base = top + plotHeight;
  options.groups.forEach((group, g) => {
    const center = left + groupWidth * (g + 0.5);
    const start = center - (barWidth * options.series.length) / 2;
    group.values.forEach((value, s) => {
      if (value === null) return;
      const series = options.series[s]!;
      const by = Math.min(base - 1, y(value));
      const bx = start + s * barWidth;
      parts.push(
        `<rect x="${(bx + 2).toFixed(1)}" y="${by.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(base - by).toFixed(1)}" fill="${series.color}" rx="2"/>`,
        `<text x="${(bx + barWidth / 2).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="11" fill="#334155" ${FONT}>${escapeXml(format(value))}</text>`,
      );
    });
    parts.push(
      `<text x="${center.toFixed(1)}" y="${base + 18}" text-anchor="middle" font-size="12" fill="#334155" ${FONT}>${escapeXml(group.label)}</text>`,
    );
  });
  parts.push(`<line x1="${left}" y1="${base}" x2="${left + pw}" y2="${base}" stroke="#94a3b8"/>`);
  parts.push(
    legend(
      options.series.map((s) => ({ ...s, points: [], width: 8 })),
      width,
      height - 12,
    ),
    '</svg>',
  );
  return parts.join('\n');
}
