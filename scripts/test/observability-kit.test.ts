// The observability kit read offline: the dashboard has what Grafana needs to import it, it
// covers every signal the kit promises, and every metric the dashboard and the rules read is one
// that observability/README.md lists (the metrics Herald exports, or says are coming).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  dashboardProblems,
  metricNames,
  panelQueries,
  readDashboard,
  toPromQL,
} from '../observability/dashboard.ts';
import { KIT, RULES_FILE } from '../observability/prometheus.ts';

/** The `expr:` of every rule in a rules file, inline or as a block scalar. */
function ruleExpressions(text: string): { record?: string; expr: string }[] {
  const lines = text.split('\n');
  const rules: { record?: string; expr: string }[] = [];
  let record: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const named = /^\s*- (?:record|alert): (\S+)/.exec(line);
    if (named !== null) record = line.includes('record:') ? named[1] : undefined;
    const match = /^(\s*)expr: (.*)$/.exec(line);
    if (match === null) continue;
    const [, indent = '', value = ''] = match;
    let expr = value;
    if (value === '|' || value === '>-') {
      const body: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1]!.startsWith(`${indent}  `) || lines[i + 1] === '')) {
        body.push(lines[++i]!.trim());
      }
      expr = body.join(' ');
    }
    rules.push({ ...(record === undefined ? {} : { record }), expr });
  }
  return rules;
}

const dashboard = readDashboard();
const rules = ruleExpressions(readFileSync(RULES_FILE, 'utf8'));
const readme = readFileSync(join(KIT, 'README.md'), 'utf8');

void describe('the observability kit', () => {
  void it('has a dashboard with everything Grafana needs to import it and show each panel', () => {
    assert.deepEqual(dashboardProblems(dashboard), []);
  });

  void it('finds what a broken dashboard lacks', () => {
    const broken = {
      title: 'x',
      schemaVersion: 39,
      templating: { list: [] },
      panels: [
        { id: 1, type: 'timeseries', title: 'a', gridPos: { x: 12, y: 0, w: 13, h: 8 }, targets: [] },
        {
          id: 1,
          type: 'timeseries',
          title: 'b',
          gridPos: { x: 0, y: 8, w: 12, h: 8 },
          datasource: { type: 'loki', uid: 'x' },
          targets: [{ refId: 'A' }, { refId: 'A', expr: 'up' }],
        },
      ],
    };
    assert.deepEqual(dashboardProblems(broken), [
      'no uid',
      'no datasource variable of type prometheus',
      'panel "a": wider than the 24-column grid',
      'panel "a": no queries',
      'panel "a": datasource must be the prometheus variable, got undefined',
      'panel "b": id missing or not unique',
      'panel "b": query A has no expr',
      'panel "b": refId missing or not unique',
      'panel "b": datasource must be the prometheus variable, got {"type":"loki","uid":"x"}',
    ]);
  });

  void it('covers throughput, handler latency, retries, dead letters, lag, HTTP, producers, the runtime and targets', () => {
    const read = new Set(panelQueries(dashboard).flatMap((q) => metricNames(toPromQL(q.expr))));
    for (const metric of [
      'herald_events_processed_total',
      'herald_handler_duration_seconds_bucket',
      'herald_events_retried_total',
      'herald_events_failed_total',
      'herald_events_dead_lettered_total',
      'herald_consumer_lag',
      'herald_consumer_group_members',
      'herald_http_requests_total',
      'http_server_request_duration_seconds_bucket',
      'messaging_client_sent_messages_total',
      'messaging_client_operation_duration_seconds_bucket',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
      'up',
    ]) {
      assert.ok(read.has(metric), `no panel reads ${metric}`);
    }
  });

  void it('reads only metrics that its README lists, besides the recording rules it defines', () => {
    const recorded = new Set(rules.flatMap((r) => (r.record === undefined ? [] : [r.record])));
    const expressions = [
      ...panelQueries(dashboard).map((q) => toPromQL(q.expr)),
      ...rules.map((r) => r.expr),
    ];
    const unlisted = [
      ...new Set(expressions.flatMap(metricNames).filter((m) => !recorded.has(m) && m !== 'up')),
    ].filter((m) => !readme.includes(`\`${m.replace(/_(bucket|sum|count)$/, '')}`));
    assert.deepEqual(unlisted, []);
  });

  void it('alerts on lag in seconds, dead letters, retry storms, stalled and empty groups, services down and stuck sagas', () => {
    const alerts = [...readFileSync(RULES_FILE, 'utf8').matchAll(/- alert: (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(alerts, [
      'HeraldConsumerLagHigh',
      'HeraldDeadLetters',
      'HeraldRetryStorm',
      'HeraldConsumerGroupStalled',
      'HeraldConsumerGroupEmpty',
      'HeraldTimersOverdue',
      'HeraldServiceDown',
      'HeraldOrdersSagasTimingOut',
      'HeraldOrdersSagaStuck',
    ]);
  });

  void it('turns Grafana variables into PromQL and names the metrics an expression reads', () => {
    assert.equal(
      toPromQL('sum by (group) (rate(herald_events_processed_total{group=~"$group"}[$__rate_interval]))'),
      'sum by (group) (rate(herald_events_processed_total{group=~".+"}[1m]))',
    );
    assert.deepEqual(
      metricNames(
        'max by (group) (sum by (group, instance) (herald_consumer_lag{group=~".+"})) / clamp_min(sum by (group) (rate(herald_events_processed_total{type="a.b"}[1m])), 0.001) or herald:x:max * 1000',
      ),
      ['herald_consumer_lag', 'herald_events_processed_total', 'herald:x:max'],
    );
  });
});
