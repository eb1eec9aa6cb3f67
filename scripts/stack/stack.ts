// `npm run stack [start|stop|status]`: the order system as production runs it, on this machine,
// without a container engine: a Kafka broker (scripts/kafka/kafka.sh), a Postgres schema per
// service (HERALD_STORE), each of the seven services in a process of its own, and a Prometheus
// that scrapes every process with the observability kit's rules loaded.
//
// Every process runs in a process group of its own and its group id is written to
// <HERALD_STACK_DIR>/stack.json, so that `stop` ends each one with everything it started
// (SIGTERM, then SIGKILL after a grace period) and leaves nothing behind. The broker is stopped
// only if `start` started it.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePorts } from '../kafka/private-kafka.ts';
import {
  RULES_FILE,
  prometheusConfig,
  prometheusUnavailable,
  startPrometheus,
  stopProcessGroup,
} from '../observability/prometheus.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE_MAIN = join(REPO, 'apps', 'orders', 'src', 'service-main.ts');
const KAFKA_SH = join(REPO, 'scripts', 'kafka', 'kafka.sh');
/** The order system's services; `orders` runs the API. */
const SERVICES = ['orders', 'inventory', 'payment', 'fraud', 'notification', 'loyalty', 'analytics'] as const;
/** What kafka.sh reads: passed through, and kept in stack.json so that `stop` stops that broker. */
const KAFKA_ENV = [
  'HERALD_KAFKA_HOME',
  'HERALD_KAFKA_RUN',
  'HERALD_KAFKA_PORT',
  'HERALD_KAFKA_CONTROLLER_PORT',
  'HERALD_KAFKA_HOST',
];

const USAGE = `usage: npm run stack [start|stop|status|help]

  start    a Kafka broker, the seven services (one process each, a Postgres schema each) and a
           Prometheus scraping every process; returns once every service is ready
  stop     stops everything start started (the broker too, if start started it)
  status   each process, alive or not, and what Prometheus sees of it

environment:
  HERALD_STACK_DIR               run folder: stack.json, logs, Prometheus data (default .herald/stack)
  HERALD_STORE                   default postgres://postgres@127.0.0.1:5432/postgres?schemaPrefix=stack_
  HERALD_STACK_KAFKA             host:port of a running broker to use instead of starting one
  PORT                           the API (default 3000)
  HERALD_STACK_PROMETHEUS_PORT   Prometheus (default 9090)
  HERALD_STACK_START_TIMEOUT     seconds for every service to be ready (default 120)
  HERALD_KAFKA_*                 passed to scripts/kafka/kafka.sh (port 19092 by default)`;

/** What stack.json records of a running stack. */
interface StackState {
  readonly api: string;
  readonly prometheus: { readonly url: string; readonly pid: number };
  readonly services: readonly { readonly service: string; readonly pid: number; readonly metrics: string }[];
  /** kafka.sh's environment when `start` started the broker; absent when it used a running one. */
  readonly kafka?: Record<string, string>;
  readonly bootstrap: string;
}

const dir = resolve(process.env['HERALD_STACK_DIR'] ?? join(REPO, '.herald', 'stack'));
const stateFile = join(dir, 'stack.json');

function readState(): StackState | undefined {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as StackState) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function kafkaSh(command: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(KAFKA_SH, [command], { env, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) return resolvePromise();
      const tail = `${stdout}${stderr}`.trim().split('\n').slice(-10).join('\n');
      reject(new Error(`scripts/kafka/kafka.sh ${command} failed:\n${tail}`, { cause: error }));
    });
  });
}

async function postgresAnswers(url: string): Promise<void> {
  const connectionString = url.replace(/([?&])schemaPrefix=[^&]*&?/, '$1').replace(/[?&]$/, '');
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `no Postgres answers at HERALD_STORE (${(error as Error).message}); start it or set HERALD_STORE`,
      {
        cause: error,
      },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Resolves once `log` holds a line starting with `ready:`; rejects if `pid` exits first or at `deadline`. */
async function ready(service: string, log: string, pid: number, deadline: number): Promise<void> {
  for (;;) {
    const text = readFileSync(log, 'utf8');
    if (/^ready: /m.test(text)) return;
    if (!alive(pid)) {
      throw new Error(
        `${service} exited before it was ready:\n${text.trim().split('\n').slice(-10).join('\n')}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(`${service} was not ready in time (HERALD_STACK_START_TIMEOUT); its log: ${log}`);
    }
    await sleep(200);
  }
}

async function start(): Promise<void> {
  const running = readState();
  if (running !== undefined) {
    const live = running.services.filter((s) => alive(s.pid)).map((s) => s.service);
    throw new Error(
      live.length > 0
        ? `the stack runs already (${live.join(', ')}); npm run stack stop first`
        : `${stateFile} is left from a stack that is gone; npm run stack stop cleans it up`,
    );
  }
  const missing = prometheusUnavailable();
  if (missing !== undefined) throw new Error(missing);
  const store =
    process.env['HERALD_STORE'] ?? 'postgres://postgres@127.0.0.1:5432/postgres?schemaPrefix=stack_';
  await postgresAnswers(store);
  mkdirSync(join(dir, 'logs'), { recursive: true });

  let kafka: Record<string, string> | undefined;
  let bootstrap = process.env['HERALD_STACK_KAFKA'];
  if (bootstrap === undefined) {
    kafka = Object.fromEntries(
      KAFKA_ENV.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]]])),
    );
    console.log('starting Kafka (scripts/kafka/kafka.sh start)');
    await kafkaSh('fetch', process.env);
    try {
      await kafkaSh('start', process.env);
    } catch (error) {
      await kafkaSh('stop', process.env).catch(() => undefined);
      throw error;
    }
    bootstrap = `${process.env['HERALD_KAFKA_HOST'] ?? '127.0.0.1'}:${process.env['HERALD_KAFKA_PORT'] ?? '19092'}`;
  }
  // Written before anything else starts, and again as processes start: `stop` finds whatever
  // a failed start left.
  const apiPort = Number(process.env['PORT'] ?? 3000);
  const prometheusPort = Number(process.env['HERALD_STACK_PROMETHEUS_PORT'] ?? 9090);
  const healthPorts = await freePorts(SERVICES.length - 1);
  const services: { service: string; pid: number; metrics: string }[] = [];
  const save = (prometheus: StackState['prometheus']) =>
    writeFileSync(
      stateFile,
      JSON.stringify(
        {
          api: `http://127.0.0.1:${apiPort}`,
          prometheus,
          services,
          bootstrap,
          ...(kafka === undefined ? {} : { kafka }),
        } satisfies StackState,
        null,
        2,
      ),
    );
  save({ url: `http://127.0.0.1:${prometheusPort}`, pid: 0 });

  const env = {
    ...process.env,
    HERALD_LOG: `kafka://${bootstrap}`,
    HERALD_STORE: store,
    HERALD_ADMIN_TOKEN_FILE: process.env['HERALD_ADMIN_TOKEN_FILE'] ?? join(dir, 'admin-token'),
    OTEL_SDK_DISABLED: process.env['OTEL_SDK_DISABLED'] ?? 'true',
  };
  for (const [i, service] of SERVICES.entries()) {
    const port = service === 'orders' ? apiPort : healthPorts[i - 1]!;
    const log = join(dir, 'logs', `${service}.log`);
    const out = openSync(log, 'w');
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', SERVICE_MAIN, service], {
      env:
        service === 'orders' ? { ...env, PORT: String(port) } : { ...env, HERALD_HEALTH_PORT: String(port) },
      detached: true,
      stdio: ['ignore', out, out],
    });
    child.unref();
    services.push({ service, pid: child.pid!, metrics: `127.0.0.1:${port}` });
    save({ url: `http://127.0.0.1:${prometheusPort}`, pid: 0 });
  }
  const deadline = Date.now() + Number(process.env['HERALD_STACK_START_TIMEOUT'] ?? 120) * 1000;
  for (const s of services) await ready(s.service, join(dir, 'logs', `${s.service}.log`), s.pid, deadline);

  const prometheus = await startPrometheus({
    folder: join(dir, 'prometheus'),
    port: prometheusPort,
    detached: true,
    config: prometheusConfig(
      [
        {
          job: 'herald',
          targets: services.map((s) => ({ target: s.metrics, labels: { service: s.service } })),
        },
      ],
      { intervalSeconds: 5, ruleFiles: [RULES_FILE] },
    ),
  });
  save({ url: prometheus.url, pid: prometheus.pid });

  console.log(`Herald order system on Kafka ${bootstrap}, a Postgres schema per service (HERALD_STORE)
  API          http://127.0.0.1:${apiPort}   (POST /orders, GET /orders/:id?wait=5)
  Prometheus   ${prometheus.url}   (targets: ${prometheus.url}/targets, alerts: ${prometheus.url}/alerts)
  processes    ${services.map((s) => `${s.service} ${s.pid} (/metrics on ${s.metrics})`).join('\n               ')}
  logs         ${join(dir, 'logs')}
  dashboard    import observability/grafana/herald-dashboard.json into a Grafana that reads ${prometheus.url}
Stop with: npm run stack stop`);
}

async function stop(): Promise<void> {
  const state = readState();
  if (state === undefined) {
    console.log(`no stack runs (${stateFile} not found)`);
    return;
  }
  // Services first (they finish in-flight work and publish their outboxes), then Prometheus,
  // then the broker they publish to.
  await Promise.all(state.services.map((s) => stopProcessGroup(s.pid, 15_000)));
  if (state.prometheus.pid > 0) await stopProcessGroup(state.prometheus.pid, 10_000);
  if (state.kafka !== undefined) {
    await kafkaSh('stop', { ...process.env, ...state.kafka });
  }
  rmSync(stateFile);
  console.log(
    'stopped: ' +
      [...state.services.map((s) => s.service), 'prometheus', ...(state.kafka ? ['kafka'] : [])].join(', '),
  );
}

async function status(): Promise<void> {
  const state = readState();
  if (state === undefined) {
    console.log(`no stack runs (${stateFile} not found)`);
    return;
  }
  const health = new Map<string, string>();
  try {
    const response = await fetch(`${state.prometheus.url}/api/v1/targets`);
    const body = (await response.json()) as {
      data: { activeTargets: { labels: Record<string, string>; health: string }[] };
    };
    for (const t of body.data.activeTargets) health.set(t.labels['service'] ?? '', t.health);
  } catch {
    // Prometheus is down: every target shows as unknown.
  }
  for (const s of state.services) {
    console.log(
      `${s.service.padEnd(13)} pid ${String(s.pid).padEnd(8)} ${alive(s.pid) ? 'running' : 'gone   '}  scrape ${health.get(s.service) ?? 'unknown'}`,
    );
  }
  console.log(
    `${'prometheus'.padEnd(13)} pid ${String(state.prometheus.pid).padEnd(8)} ${alive(state.prometheus.pid) ? 'running' : 'gone'}  ${state.prometheus.url}`,
  );
  console.log(
    `${'kafka'.padEnd(13)} ${state.bootstrap}${state.kafka === undefined ? ' (not started by the stack)' : ''}`,
  );
}

const command = process.argv[2] ?? 'start';
/** `start`, and when it fails, `stop` of whatever it had started. */
async function startOrStop(): Promise<void> {
  try {
    await start();
  } catch (error) {
    if (!(error instanceof Error && error.message.includes('runs already')) && readState() !== undefined) {
      console.error('start failed; stopping what it started');
      await stop();
    }
    throw error;
  }
}

const commands: Record<string, () => Promise<void>> = { start: startOrStop, stop, status };
const run = commands[command];
if (command === 'help' || command === '--help') {
  console.log(USAGE);
  process.exit(0);
}
if (run === undefined) {
  console.error(`stack: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  process.exit(2);
}
try {
  await run();
} catch (error) {
  console.error(`stack ${command}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
