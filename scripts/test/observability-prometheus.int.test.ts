// The observability kit against a real Prometheus scraping the running order system (the
// embedded log, one process as `npm start` runs it) every second with the kit's rules loaded:
// orders flow, a dead letter is provoked through the admin fault API, and then every dashboard
// query parses and evaluates, returns data wherever the system exports what it reads, every rule
// evaluates without error and the dead-letter alert fires. With CI=true a missing Prometheus
// fails the suite; elsewhere it is skipped with the reason.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../kafka/private-kafka.ts';
import { metricNames, panelQueries, readDashboard, toPromQL } from '../observability/dashboard.ts';
import {
  type PrometheusServer,
  RULES_FILE,
  instantQuery,
  prometheusConfig,
  prometheusUnavailable,
  startPrometheus,
  stopProcessGroup,
} from '../observability/prometheus.ts';

const MAIN = fileURLToPath(new URL('../../apps/orders/src/main.ts', import.meta.url));
const ADMIN_TOKEN = 'observability-test-admin-token';
const ORDER = { customerId: 'ada', items: [{ sku: 'LAMP-01', quantity: 1 }], shippingCountry: 'DE' };

const unavailable = prometheusUnavailable();
const skip = process.env['CI'] === 'true' ? false : (unavailable ?? false);

/** Polls `probe` until it returns a value; the suite's timeout bounds the wait. */
async function until<T>(probe: () => Promise<T | undefined>, what: string, last: () => string): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    if (attempt % 100 === 99) console.log(`still waiting for ${what}: ${last()}`);
    await sleep(200);
  }
}

interface RuleState {
  readonly name: string;
  readonly health: string;
  readonly lastError?: string;
  readonly lastEvaluation: string;
  readonly type: string;
}

void describe(
  'the observability kit on a real Prometheus scraping the order system',
  { skip, timeout: 240_000 },
  () => {
    const folder = mkdtempSync(join(tmpdir(), 'herald-observability-'));
    let system: ChildProcess | undefined;
    let prometheus: PrometheusServer | undefined;
    let api = '';
    let exported = new Set<string>();

    before(async () => {
      const [apiPort, prometheusPort] = (await freePorts(2)) as [number, number];
      api = `http://127.0.0.1:${apiPort}`;
      system = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', MAIN], {
        env: {
          ...process.env,
          HERALD_LOG: `sqlite:${join(folder, 'herald.db')}`,
          PORT: String(apiPort),
          HERALD_RATE_LIMIT: '0',
          HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
          OTEL_SDK_DISABLED: 'true',
        },
        // With an IPC channel the system stops by itself if this test process dies.
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        detached: true,
      });
      await until(
        async () => ((await fetch(`${api}/readyz`).catch(() => undefined))?.ok === true ? true : undefined),
        'the order system to be ready',
        () => `exit code ${String(system?.exitCode)}`,
      );
      prometheus = await startPrometheus({
        folder: join(folder, 'prometheus'),
        port: prometheusPort,
        config: prometheusConfig(
          [{ job: 'herald', targets: [{ target: `127.0.0.1:${apiPort}`, labels: { service: 'all' } }] }],
          { intervalSeconds: 1, ruleFiles: [RULES_FILE] },
        ),
      });

      // Orders that flow to the end, then one whose fraud check fails every attempt: dead-lettered.
      for (let i = 0; i < 5; i++) {
        const placed = await post('/orders', ORDER);
        const { orderId } = (await placed.json()) as { orderId: string };
        const final = (await (await fetch(`${api}/orders/${orderId}?wait=20`)).json()) as { status: string };
        assert.equal(final.status, 'confirmed');
      }
      const fault = await fetch(`${api}/admin/faults/fraud`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ errorRate: 1 }),
      });
      assert.equal(fault.status, 200, await fault.text());
      // The engine thread reads fault settings from the store at an interval: orders placed before
      // it has flow; keep placing one until the fraud check fails, then wait for its dead letter.
      await until(
        async () => {
          assert.equal((await post('/orders', ORDER)).status, 202);
          await sleep(500);
          return (await scrape()).includes('herald_events_failed_total{group="fraud.checks"')
            ? true
            : undefined;
        },
        'a failed fraud check',
        () => 'none yet',
      );
      await until(
        async () => ((await scrape()).includes('herald_events_dead_lettered_total{') ? true : undefined),
        'the dead letter on /metrics',
        () => 'none yet',
      );
      exported = new Set(
        [...(await scrape()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name = '', type]) =>
          type === 'histogram' || type === 'summary'
            ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]
            : [name],
        ),
      );
      exported.add('up');
    });

    after(async () => {
      await prometheus?.stop();
      if (system?.pid !== undefined) await stopProcessGroup(system.pid);
      rmSync(folder, { recursive: true, force: true });
    });

    function post(path: string, body: unknown): Promise<Response> {
      return fetch(`${api}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    }

    async function scrape(): Promise<string> {
      return (await fetch(`${api}/metrics`)).text();
    }

    void it('answers every dashboard query, with data wherever the system exports what the query reads', async () => {
      const queries = panelQueries(readDashboard()).map((q) => ({ ...q, promql: toPromQL(q.expr) }));
      // A query of failed sends only (error_type set) has data only when sends fail, which they
      // do not in this run: it must evaluate, with or without data.
      const failuresOnly = (q: { promql: string }) => /error_type!=""/.test(q.promql);
      for (const q of queries.filter(failuresOnly)) await instantQuery(prometheus!.url, q.promql);
      const expected = queries.filter(
        (q) => !failuresOnly(q) && metricNames(q.promql).some((m) => exported.has(m)),
      );
      // Queries reading only metrics that are not exported yet must still parse and evaluate, to
      // nothing.
      for (const q of queries.filter((q) => !expected.includes(q) && !failuresOnly(q))) {
        const result = await instantQuery(prometheus!.url, q.promql);
        assert.deepEqual(result.result, [], `${q.panel} ${q.refId} reads nothing exported, yet answered`);
      }
      let empty: string[] = [];
      await until(
        async () => {
          empty = [];
          for (const q of expected) {
            const result = await instantQuery(prometheus!.url, q.promql);
            if (result.result.length === 0) empty.push(`${q.panel} ${q.refId}: ${q.promql}`);
          }
          return empty.length === 0 ? true : undefined;
        },
        'data in every dashboard query',
        () => empty.join('\n'),
      );
      const deadLetters = await instantQuery(
        prometheus!.url,
        toPromQL(queries.find((q) => q.panel === 'Dead letters')!.expr),
      );
      assert.deepEqual(
        deadLetters.result.map((r) => [r.metric['group'], r.metric['topic']]),
        [['fraud.checks', 'orders']],
      );
    });

    void it('evaluates every rule without error, and fires HeraldDeadLetters for the dead-lettered event', async () => {
      const started = Date.now();
      const rules = await until(
        async () => {
          const body = (await (await fetch(`${prometheus!.url}/api/v1/rules`)).json()) as {
            data: { groups: { rules: RuleState[] }[] };
          };
          const all = body.data.groups.flatMap((g) => g.rules);
          // Evaluated after this test started: every rule has seen the scrapes above.
          return all.every((r) => Date.parse(r.lastEvaluation) > started) ? all : undefined;
        },
        'every rule evaluated',
        () => '',
      );
      assert.equal(rules.length, 17);
      assert.deepEqual(
        rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
        [],
      );
      const firing = await until(
        async () => {
          const body = (await (await fetch(`${prometheus!.url}/api/v1/alerts`)).json()) as {
            data: { alerts: { labels: Record<string, string>; state: string }[] };
          };
          const alert = body.data.alerts.find((a) => a.labels['alertname'] === 'HeraldDeadLetters');
          return alert?.state === 'firing' ? alert : undefined;
        },
        'HeraldDeadLetters to fire',
        () => '',
      );
      assert.equal(firing.labels['group'], 'fraud.checks');
      assert.equal(firing.labels['topic'], 'orders');
    });
  },
);
