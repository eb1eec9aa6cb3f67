// A real Prometheus server (the Debian package's /usr/bin/prometheus, or one on PATH) for the
// observability kit's tests and the local stack: a configuration written into a folder of its
// own, a data folder beside it, one listen address, and its HTTP API. The process runs in a
// process group of its own, so that stopping it never leaves a child behind.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The observability kit's folder: the dashboard and the rules. */
export const KIT = fileURLToPath(new URL('../../observability/', import.meta.url));
export const RULES_FILE = join(KIT, 'prometheus', 'herald-rules.yml');
export const RULES_TEST_FILE = join(KIT, 'prometheus', 'herald-rules.test.yml');
export const DASHBOARD_FILE = join(KIT, 'grafana', 'herald-dashboard.json');

/** The path of `tool` (`prometheus`, `promtool`) on PATH or in /usr/bin, or undefined. */
export function findTool(tool: 'prometheus' | 'promtool'): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(':').filter((d) => d !== ''), '/usr/bin']) {
    const path = join(dir, tool);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** Why Prometheus' tools cannot be used here, or undefined when both are installed. */
export function prometheusUnavailable(): string | undefined {
  const missing = (['prometheus', 'promtool'] as const).filter((t) => findTool(t) === undefined);
  return missing.length === 0
    ? undefined
    : `${missing.join(' and ')} not installed (Debian: apt-get install -y prometheus; .ci/run installs it)`;
}

/** One scrape job: its name, targets (`host:port`) and labels added to every target. */
export interface ScrapeJob {
  readonly job: string;
  readonly targets: readonly { readonly target: string; readonly labels?: Record<string, string> }[];
}

/** prometheus.yml for `jobs`, scraping and evaluating rules every `intervalSeconds`. */
export function prometheusConfig(
  jobs: readonly ScrapeJob[],
  options: { readonly intervalSeconds: number; readonly ruleFiles: readonly string[] },
): string {
  // JSON is YAML: no YAML writer needed, and every string is quoted.
  return JSON.stringify(
    {
      global: {
        scrape_interval: `${options.intervalSeconds}s`,
        evaluation_interval: `${options.intervalSeconds}s`,
      },
      rule_files: options.ruleFiles,
      scrape_configs: jobs.map((j) => ({
        job_name: j.job,
        static_configs: j.targets.map((t) => ({ targets: [t.target], labels: t.labels ?? {} })),
      })),
    },
    null,
    2,
  );
}

export interface PrometheusOptions {
  /** Folder for prometheus.yml, data/ and prometheus.log. */
  readonly folder: string;
  readonly port: number;
  readonly config: string;
  /** Keep running after this process exits (the local stack); default false. */
  readonly detached?: boolean;
}

/** A running Prometheus. */
export interface PrometheusServer extends AsyncDisposable {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts Prometheus and resolves once `/-/ready` answers 200; rejects (and stops it) if it exits first. */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const binary = findTool('prometheus');
  if (binary === undefined) throw new Error(prometheusUnavailable());
  mkdirSync(join(options.folder, 'data'), { recursive: true });
  const configFile = join(options.folder, 'prometheus.yml');
  writeFileSync(configFile, options.config);
  const logFile = join(options.folder, 'prometheus.log');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(options.folder, 'data')}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      '--web.enable-lifecycle',
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  if (options.detached === true) child.unref();
  const url = `http://127.0.0.1:${options.port}`;
  const pid = child.pid;
  if (pid === undefined) throw new Error(`prometheus did not start; see ${logFile}`);
  const stop = () => stopProcessGroup(pid);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}); see ${logFile}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return { url, pid, stop, [Symbol.asyncDispose]: stop };
}

/** SIGTERM to the process group `pid` leads, SIGKILL after `graceMs`; resolves once none of it is left. */
export async function stopProcessGroup(pid: number, graceMs = 15_000): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(100);
  if (alive()) process.kill(-pid, 'SIGKILL');
  while (alive()) await sleep(50);
}

/** A successful /api/v1/query answer. */
export interface InstantResult {
  readonly resultType: string;
  readonly result: readonly { readonly metric: Record<string, string>; readonly value?: [number, string] }[];
}

/** Evaluates `expr` now; rejects with Prometheus' error (a parse error names the position). */
export async function instantQuery(url: string, expr: string): Promise<InstantResult> {
  const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`);
  const body = (await response.json()) as { status: string; data?: InstantResult; error?: string };
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(`Prometheus refused ${JSON.stringify(expr)}: ${body.error ?? response.status}`);
  }
  return body.data;
}

/** Runs promtool with `args` in `cwd`; returns its output, or throws with it. */
export function promtool(args: readonly string[], cwd: string): string {
  const binary = findTool('promtool');
  if (binary === undefined) throw new Error(prometheusUnavailable());
  try {
    return execFileSync(binary, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`, {
      cause: error,
    });
  }
}
