// Starts the REST baseline: one process per service (orders, fraud, inventory, payment,
// notification), each its own HTTP server and SQLite file.
//
//   node apps/orders-rest/src/start-rest-baseline.ts [--port 3100] [--host 127.0.0.1]
//        [--data-dir .herald/rest] [--catalog apps/orders-domain/catalog.json] [--synchronous full|normal]
//        [--attempt-timeout-ms 1000] [--max-attempts 3]
//
// orders listens on --port, fraud, inventory, payment and notification on the next four ports.
// HERALD_ADMIN_TOKEN enables the admin endpoints (`/admin/faults`, `/admin/stats`) of orders;
// HERALD_FAULTS (`{"payment":{"latencyMs":200}}`) sets faults from the start. The launcher
// prints `ready <url>` once every service listens, and stops them all on SIGINT/SIGTERM, when
// one of them dies, or, started with an IPC channel, when that channel closes (its parent died);
// each service stops when the launcher's channel to it closes. `--service <name>` runs one service in this process (what the launcher
// starts for each).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCatalogFile } from '@herald/orders-domain/catalog-file.ts';
import { faultsConfigSchema } from '@herald/orders-domain/faults.ts';
import { stopWhenParentGone } from '@herald/orders-domain/parent-process.ts';
import { DEFAULT_RETRY_POLICY } from './downstream-client.ts';
import { REST_SERVICES, type RestServiceName, openRestService, restPorts } from './rest-service.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '3100' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string', default: '.herald/rest' },
    catalog: { type: 'string' },
    synchronous: { type: 'string', default: 'full' },
    service: { type: 'string' },
    'attempt-timeout-ms': { type: 'string', default: String(DEFAULT_RETRY_POLICY.attemptTimeoutMs) },
    'max-attempts': { type: 'string', default: String(DEFAULT_RETRY_POLICY.maxAttempts) },
  },
});

function fail(message: string): never {
  console.error(`start-rest-baseline: ${message}`);
  process.exit(2);
}

const basePort = Number(values.port);
if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65_530)
  fail(`--port ${values.port} is not a port`);
if (values.synchronous !== 'full' && values.synchronous !== 'normal')
  fail('--synchronous must be full or normal');
const synchronous = values.synchronous;
const dataDir = resolve(values['data-dir']);
const attemptTimeoutMs = Number(values['attempt-timeout-ms']);
const maxAttempts = Number(values['max-attempts']);
if (!Number.isInteger(attemptTimeoutMs) || attemptTimeoutMs < 1)
  fail('--attempt-timeout-ms must be a positive integer');
if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10)
  fail('--max-attempts must be 1 to 10');
const retryPolicy = {
  ...DEFAULT_RETRY_POLICY,
  attemptTimeoutMs,
  maxAttempts,
  deadlineMs: Math.max(DEFAULT_RETRY_POLICY.deadlineMs, attemptTimeoutMs * maxAttempts),
};

function faultsFromEnv() {
  const text = process.env.HERALD_FAULTS;
  if (text === undefined || text.trim() === '') return {};
  const parsed = faultsConfigSchema.safeParse(JSON.parse(text));
  if (!parsed.success) fail(`HERALD_FAULTS is invalid: ${parsed.error.message}`);
  return parsed.data;
}

async function runOne(service: RestServiceName): Promise<void> {
  const running = await openRestService({
    service,
    dataDir,
    host: values.host,
    basePort,
    catalog: await loadCatalogFile(values.catalog),
    synchronous,
    retryPolicy,
    faults: faultsFromEnv(),
    ...(process.env.HERALD_ADMIN_TOKEN ? { adminToken: process.env.HERALD_ADMIN_TOKEN } : {}),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`${service}: close failed`, error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The launcher died: do not outlive it.
  stopWhenParentGone(stop);
  process.send?.({ ready: service, url: running.url });
}

async function launchAll(): Promise<void> {
  const children = new Map<RestServiceName, ChildProcess>();
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const exits = [...children.values()]
      .filter((child) => child.exitCode === null && child.signalCode === null)
      .map(async (child) => {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      });
    await Promise.all(exits);
    process.exit(code);
  };
  const ready = REST_SERVICES.map(
    (service) =>
      new Promise<void>((resolveReady, reject) => {
        const child = spawn(
          process.execPath,
          [
            '--disable-warning=ExperimentalWarning',
            import.meta.filename,
            ...process.argv.slice(2),
            '--service',
            service,
          ],
          { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
        );
        children.set(service, child);
        child.on('message', (message: { ready?: string }) => {
          if (message.ready === service) resolveReady();
        });
        child.once('exit', (code, signal) => {
          reject(new Error(`${service} exited (${signal ?? code}) before it was ready`));
          if (!stopping) {
            console.error(`start-rest-baseline: ${service} exited (${signal ?? code}); stopping the others`);
            void stopAll(1);
          }
        });
      }),
  );
  process.once('SIGTERM', () => void stopAll(0));
  process.once('SIGINT', () => void stopAll(0));
  // Started with an IPC channel (the lab, a test) whose parent died: stop the services too.
  stopWhenParentGone(() => void stopAll(0));
  try {
    await Promise.all(ready);
  } catch (error) {
    console.error(`start-rest-baseline: ${(error as Error).message}`);
    await stopAll(1);
    return;
  }
  const ports = restPorts(basePort);
  const others = REST_SERVICES.filter((s) => s !== 'orders').map((s) => `${s} :${ports[s]}`);
  console.log(`ready http://${values.host}:${ports.orders} (${others.join(', ')}; data in ${dataDir})`);
}

if (values.service !== undefined) {
  if (!(REST_SERVICES as readonly string[]).includes(values.service)) {
    fail(`--service must be one of ${REST_SERVICES.join(', ')}`);
  }
  await runOne(values.service as RestServiceName);
} else {
  await launchAll();
}
