// The observability kit's Grafana dashboard, read as data: its structure checked offline against
// what Grafana needs to import it, and its panel queries turned into plain PromQL (Grafana's
// variables replaced by what they stand for) so that a real Prometheus can evaluate them.
import { readFileSync } from 'node:fs';
import { DASHBOARD_FILE } from './prometheus.ts';

/** One query of one panel. */
export interface PanelQuery {
  readonly panel: string;
  readonly refId: string;
  /** As written in the dashboard, with Grafana variables. */
  readonly expr: string;
}

interface Target {
  readonly refId?: unknown;
  readonly expr?: unknown;
  readonly datasource?: unknown;
}

interface Panel {
  readonly id?: unknown;
  readonly type?: unknown;
  readonly title?: unknown;
  readonly gridPos?: {
    readonly x?: unknown;
    readonly y?: unknown;
    readonly w?: unknown;
    readonly h?: unknown;
  };
  readonly datasource?: unknown;
  readonly targets?: readonly Target[];
}

/** The dashboard as parsed JSON. */
export function readDashboard(file = DASHBOARD_FILE): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Every query of every panel (rows have none). */
export function panelQueries(dashboard: Record<string, unknown>): PanelQuery[] {
  const panels = (dashboard['panels'] ?? []) as readonly Panel[];
  return panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: String(p.title), refId: String(t.refId), expr: String(t.expr) })),
  );
}

/**
 * `expr` as Prometheus runs it once Grafana has replaced its variables: `$group` by every group
 * (`.+`, the variable's "All"), `$__rate_interval` and `$__range` by `rangeInterval`.
 */
export function toPromQL(expr: string, rangeInterval = '1m'): string {
  return expr
    .replaceAll('$__rate_interval', rangeInterval)
    .replaceAll('$__range', rangeInterval)
    .replaceAll('$group', '.+');
}

/**
 * Metric names an expression reads: identifiers that are not functions (followed by `(`),
 * operators (`and`, `or`, `unless`, `offset`, `bool`), label lists of `by`, `without`, `on` or
 * `ignoring`, label matchers, ranges or strings.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const match of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name = '', call] = match;
    if (call !== undefined || /^(and|or|unless|offset|bool|Inf|NaN)$/.test(name)) continue;
    names.add(name);
  }
  return [...names];
}

/**
 * What Grafana needs to import the dashboard and show every panel, as a list of problems (empty
 * when there is none): a title, a uid, a schema version, a Prometheus datasource variable, and
 * per panel an id (unique), a type, a title, a position inside the 24-column grid, and
 * per query a refId (unique in its panel) and a PromQL expression on that datasource.
 */
export function dashboardProblems(dashboard: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const field of ['title', 'uid'] as const) {
    if (typeof dashboard[field] !== 'string' || dashboard[field] === '') problems.push(`no ${field}`);
  }
  if (typeof dashboard['schemaVersion'] !== 'number') problems.push('no schemaVersion');
  const variables = ((dashboard['templating'] as { list?: unknown[] } | undefined)?.list ?? []) as {
    name?: string;
    type?: string;
    query?: unknown;
  }[];
  const datasource = variables.find((v) => v.type === 'datasource' && v.query === 'prometheus');
  if (datasource === undefined) problems.push('no datasource variable of type prometheus');
  const panels = dashboard['panels'];
  if (!Array.isArray(panels) || panels.length === 0) return [...problems, 'no panels'];
  const ids = new Set<unknown>();
  for (const panel of panels as Panel[]) {
    const name = `panel ${JSON.stringify(panel.title)}`;
    if (typeof panel.id !== 'number' || ids.has(panel.id)) problems.push(`${name}: id missing or not unique`);
    ids.add(panel.id);
    if (typeof panel.type !== 'string') problems.push(`${name}: no type`);
    if (typeof panel.title !== 'string' || panel.title === '') problems.push(`${name}: no title`);
    const { x, y, w, h } = panel.gridPos ?? {};
    if (![x, y, w, h].every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0)) {
      problems.push(`${name}: gridPos needs integer x, y, w, h`);
    } else if ((x as number) + (w as number) > 24) {
      problems.push(`${name}: wider than the 24-column grid`);
    }
    if (panel.type === 'row') continue;
    const targets = panel.targets ?? [];
    if (targets.length === 0) problems.push(`${name}: no queries`);
    const refIds = new Set<unknown>();
    for (const target of targets) {
      if (typeof target.refId !== 'string' || refIds.has(target.refId))
        problems.push(`${name}: refId missing or not unique`);
      refIds.add(target.refId);
      if (typeof target.expr !== 'string' || target.expr.trim() === '')
        problems.push(`${name}: query ${String(target.refId)} has no expr`);
    }
    for (const ds of [panel.datasource, ...targets.map((t) => t.datasource)]) {
      const { type, uid } = (ds ?? {}) as { type?: unknown; uid?: unknown };
      if (type !== 'prometheus' || uid !== `\${${datasource?.name ?? 'datasource'}}`) {
        problems.push(`${name}: datasource must be the prometheus variable, got ${JSON.stringify(ds)}`);
        break;
      }
    }
  }
  return problems;
}
