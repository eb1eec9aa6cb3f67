// The systems the orders benchmark compares, each started as it is documented and wrapped as
// the lab's `LabSystem`, so the lab's generator, run and capacity search drive them unchanged:
// the event-driven system in one process (FULL, NORMAL), the same split into one process per
// service on one log file, the REST baseline, the event-driven system on Kafka with a Postgres
// store per service, and the raw limit (bench/orders-raw-server.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type EventLog, openEventLog } from '@herald/core';
import { openPostgresStore } from '@herald/postgres';
import { openSqliteLog } from '@herald/sqlite';
import pg from 'pg';
import {
  type LabSystem,
  collectEventDriven,
  collectOrders,
  startEventDriven,
  startRest,
  sumMetric,
} from '@herald/orders-lab/lab-systems.ts';
import type { OrderRecord } from '@herald/orders-lab/reconcile.ts';
import { labCatalog } from '@herald/orders-lab/workload.ts';
import { GROUPS, SERVICES } from '@herald/orders-domain/topology.ts';
import { cleanEnv, findFreePorts, startChildSystem } from '@herald/orders-domain/testing/child-system.ts';
import { DatabaseSync } from 'node:sqlite';
import { deleteKafkaNamespace } from './bench-log.ts';
import type { BenchDir } from './lib/bench-dir.ts';
import { signalTree } from './lib/process-tree.ts';

export const SYSTEM_IDS = [
  'embedded-full',
  'embedded-normal',
  'embedded-split',
  'rest',
  'kafka-postgres',
  'raw-limit',
] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];

/** What each system is, for the tables and the JSON. */
export const SYSTEM_TITLES: Readonly<Record<SystemId, string>> = {
  'embedded-full': 'event-driven, embedded log, FULL',
  'embedded-normal': 'event-driven, embedded log, NORMAL',
  'embedded-split': 'event-driven, a process per service, one log file',
  rest: 'REST baseline, five processes',
  'kafka-postgres': 'event-driven, Kafka + Postgres per service',
  'raw-limit': 'raw limit: Fastify + one group-committed SQLite append',
};

/** A started system: the lab's view of it, plus what the benchmark accounts. */
export interface BenchSystem {
  readonly id: SystemId;
  readonly lab: LabSystem;
  /** The processes whose trees make up the system (CPU, memory, clean-up). */
  roots(): number[];
  /**
   * Prometheus endpoints of every process that writes SQLite, or undefined when some such
   * process has none (then its SQLite counters cannot be read).
   */
  readonly sqliteMetricsUrls: readonly string[] | undefined;
  /** Whether an accepted order has later states to reach (false for the raw limit). */
  readonly hasFinalState: boolean;
  /** Whether the answer already carries the final state (the REST chain's 201). */
  readonly answersFinal: boolean;
  /** Kills every process of the system at once (interrupted runs); never throws. */
  kill(): void;
}

export interface StartSystemOptions {
  readonly dir: BenchDir;
  /** Node options for the system's processes (`--cpu-prof …`), Herald's systems only. */
  readonly nodeArgs: readonly string[];
  /** The Kafka bootstrap and Postgres URL, for `kafka-postgres`. */
  readonly kafka?: string;
  readonly postgres?: string;
}

const ADMIN_TOKEN = 'orders-bench-admin-token';
const SERVICE_SCRIPT = fileURLToPath(import.meta.resolve('@herald/orders-app/service-main.ts'));
const RAW_SCRIPT = fileURLToPath(new URL('./orders-raw-server.ts', import.meta.url));

function catalogIn(dir: BenchDir): string {
  const path = dir.file('catalog.json');
  writeFileSync(path, JSON.stringify(labCatalog()));
  return path;
}

function killTree(pid: number | undefined): void {
  if (pid !== undefined) signalTree([pid], 'SIGKILL');
}

/**
 * The system with counters that never throw: an overloaded system may answer `/metrics` too late,
 * and a benchmark measures overload rather than dying of it. A failed read repeats the last one
 * (and reports lag until a read succeeds), so a drain keeps waiting instead of ending early.
 */
function tolerant(system: BenchSystem): BenchSystem {
  let last: Awaited<ReturnType<LabSystem['counters']>> | undefined;
  const counters = async () => {
    try {
      last = await system.lab.counters();
      return last;
    } catch {
      // A system without consumers has no lag to wait for; one with consumers is not drained.
      return last ?? { retries: 0, lag: system.answersFinal || !system.hasFinalState ? null : 1 };
    }
  };
  return { ...system, lab: { ...system.lab, counters } };
}

/** Starts one system in `options.dir`; throws with the system's output when it does not start. */
export async function startSystem(id: SystemId, options: StartSystemOptions): Promise<BenchSystem> {
  return tolerant(await startUntolerant(id, options));
}

async function startUntolerant(id: SystemId, options: StartSystemOptions): Promise<BenchSystem> {
  const catalogPath = catalogIn(options.dir);
  const nodeArgs = options.nodeArgs.length === 0 ? {} : { nodeArgs: options.nodeArgs };
  switch (id) {
    case 'embedded-full':
    case 'embedded-normal': {
      const lab = await startEventDriven({
        dataDir: options.dir.path,
        catalogPath,
        adminToken: ADMIN_TOKEN,
        durability: id === 'embedded-full' ? 'full' : 'normal',
        ...nodeArgs,
      });
      return {
        id,
        lab,
        roots: () => (lab.pid === undefined ? [] : [lab.pid]),
        sqliteMetricsUrls: lab.metricsUrl === undefined ? undefined : [lab.metricsUrl],
        hasFinalState: true,
        answersFinal: false,
        kill: () => killTree(lab.pid),
      };
    }
    case 'rest': {
      const lab = await startRest({
        dataDir: options.dir.path,
        catalogPath,
        adminToken: ADMIN_TOKEN,
        durability: 'full',
      });
      return {
        id,
        lab,
        roots: () => (lab.pid === undefined ? [] : [lab.pid]),
        sqliteMetricsUrls: undefined,
        hasFinalState: true,
        answersFinal: true,
        kill: () => killTree(lab.pid),
      };
    }
    case 'embedded-split': {
      const path = options.dir.file('herald.db');
      const logUrl = `sqlite:${path}`;
      const split = await startServiceProcesses({ logUrl, catalogPath, nodeArgs: options.nodeArgs });
      const log = await openSqliteLog({ path, integrityCheck: 'off', retentionIntervalMs: 0 });
      return splitSystem(id, split, log, `HERALD_LOG=sqlite:<dir>/herald.db`, () => collectEventDriven(path));
    }
    case 'kafka-postgres': {
      if (options.kafka === undefined || options.postgres === undefined) {
        throw new Error('kafka-postgres needs a Kafka broker and a Postgres URL');
      }
      const prefix = `hob${randomBytes(3).toString('hex')}_`;
      const namespace = `${prefix.replace(/_$/, '')}-`;
      const brokers = options.kafka.split(',');
      const logUrl = `kafka://${options.kafka}?namespace=${namespace}`;
      const storeUrl = `${options.postgres}${options.postgres.includes('?') ? '&' : '?'}schemaPrefix=${prefix}`;
      const split = await startServiceProcesses({
        logUrl,
        storeUrl,
        catalogPath,
        nodeArgs: options.nodeArgs,
      });
      let log: EventLog;
      try {
        log = await openEventLog(logUrl);
      } catch (error) {
        await split.stop();
        throw error;
      }
      const postgres = options.postgres;
      return splitSystem(
        id,
        split,
        log,
        'HERALD_LOG=kafka://… HERALD_STORE=postgres://…?schemaPrefix=…',
        async () => {
          const reader = await openEventLog(logUrl);
          const pool = new pg.Pool({ connectionString: postgres, max: 2 });
          pool.on('error', () => undefined);
          try {
            const views = await openPostgresStore({ pool, schema: `${prefix}orders` });
            const mailbox = await openPostgresStore({ pool, schema: `${prefix}notification` });
            return await collectOrders(reader, views, mailbox);
          } finally {
            await reader.close();
            // The run's schemas and topics are of no use afterwards (a broker that keeps every
            // run's partitions works harder at rest, and the next run measures that).
            for (const schema of [...SERVICES.map((s) => `${prefix}${s}`), `${prefix}faults`]) {
              await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
            }
            await pool.end();
            await deleteKafkaNamespace(brokers, namespace).catch(() => undefined);
          }
        },
      );
    }
    case 'raw-limit':
      return startRawLimit(options.dir);
  }
}

async function startRawLimit(dir: BenchDir): Promise<BenchSystem> {
  const port = await findFreePorts(1);
  const path = dir.file('raw.db');
  const child = await startChildSystem({
    name: 'raw limit',
    script: RAW_SCRIPT,
    env: cleanEnv({ PORT: String(port), HERALD_RAW_DB: path }),
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  });
  const pid = child.process.pid;
  const lab: LabSystem = {
    // It answers before anything downstream happens, like the event-driven system, but has no log
    // to lag: the lab's REST handling (no consumer lag) is the one that fits.
    architecture: 'rest',
    ordersUrl: `http://127.0.0.1:${port}/orders`,
    command: 'PORT=<port> HERALD_RAW_DB=<dir>/raw.db node bench/orders-raw-server.ts',
    setFault: () => Promise.reject(new Error('the raw limit has no faults')),
    clearFaults: () => Promise.resolve(),
    counters: () => Promise.resolve({ retries: 0, lag: null }),
    stop: () => child.stop(30_000),
    collect: () => Promise.resolve(collectRaw(path)),
    ...(pid === undefined ? {} : { pid }),
  };
  return {
    id: 'raw-limit',
    lab,
    roots: () => (pid === undefined ? [] : [pid]),
    sqliteMetricsUrls: undefined,
    hasFinalState: false,
    answersFinal: false,
    kill: () => killTree(pid),
  };
}

/** The raw limit's rows as order records: a durable row is all its orders ever become. */
function collectRaw(path: string): Map<string, OrderRecord> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare('SELECT id, customer_id, at FROM orders WHERE customer_id IS NOT NULL').all() as {
      id: string;
      customer_id: string;
      at: number;
    }[];
    return new Map(
      rows.map((row) => [
        row.customer_id,
        {
          orderId: row.id,
          customerId: row.customer_id,
          status: 'confirmed',
          decidedAt: row.at,
          settled: true,
          lastFactAt: row.at,
          messages: 1,
          deadLetters: 0,
        },
      ]),
    );
  } finally {
    db.close();
  }
}

/** One process per service, each in its own process group. */
interface ServiceProcesses {
  readonly processes: readonly ChildProcess[];
  /** The orders process's base URL. */
  readonly base: string;
  stop(): Promise<void>;
  kill(): void;
  output(): string;
}

async function startServiceProcesses(options: {
  readonly logUrl: string;
  readonly storeUrl?: string;
  readonly catalogPath: string;
  readonly nodeArgs: readonly string[];
}): Promise<ServiceProcesses> {
  const port = await findFreePorts(1);
  const env = cleanEnv({
    HERALD_LOG: options.logUrl,
    ...(options.storeUrl === undefined ? {} : { HERALD_STORE: options.storeUrl }),
    HERALD_CATALOG: options.catalogPath,
    HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
    HERALD_RATE_LIMIT: '0',
    // No access-log line per request: the systems it is compared with write none.
    HERALD_LOG_LEVEL: 'warn',
    PORT: String(port),
    HOST: '127.0.0.1',
  });
  let output = '';
  const processes: ChildProcess[] = [];
  const names = new Map<ChildProcess, string>();
  const kill = (): void => {
    for (const child of processes) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
  };
  const stop = async (): Promise<void> => {
    const gone = processes.filter((child) => child.exitCode !== null || child.signalCode !== null);
    const running = processes.filter((child) => !gone.includes(child));
    const timer = setTimeout(kill, 30_000);
    for (const child of running) child.kill('SIGTERM');
    await Promise.all(running.map((child) => once(child, 'exit')));
    clearTimeout(timer);
    if (gone.length > 0) {
      const which = gone.map((child) => `${names.get(child)} (${child.signalCode ?? child.exitCode})`);
      throw new Error(`${which.join(', ')} exited before the system was stopped:\n${output}`);
    }
  };
  try {
    await Promise.all(
      SERVICES.map(async (service) => {
        const child = spawn(
          process.execPath,
          ['--disable-warning=ExperimentalWarning', ...options.nodeArgs, SERVICE_SCRIPT, service],
          { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
        );
        processes.push(child);
        names.set(child, service);
        const ready = new Promise<void>((resolve, reject) => {
          let lines = '';
          const onData = (chunk: Buffer): void => {
            const text = chunk.toString('utf8');
            output = (output + `[${service}] ${text}`).slice(-16 * 1024);
            lines += text;
            if (/^ready: /m.test(lines)) resolve();
          };
          child.stdout?.on('data', onData);
          child.stderr?.on('data', onData);
          child.once('exit', (code, signal) =>
            reject(new Error(`${service} exited (${signal ?? code}) before it was ready:\n${output}`)),
          );
        });
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${service} was not ready in 90 s:\n${output}`)), 90_000);
        });
        try {
          await Promise.race([ready, timeout]);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  } catch (error) {
    kill();
    throw error;
  }
  return { processes, base: `http://127.0.0.1:${port}`, stop, kill, output: () => output };
}

/** Consumer lag of every group of the order system, read from the log itself. */
async function lagOf(log: EventLog): Promise<number> {
  let lag = 0;
  for (const group of Object.values(GROUPS)) {
    const description = await log.describeGroup(group).catch(() => undefined);
    for (const partition of description?.partitions ?? []) lag += partition.lag;
  }
  return lag;
}

function splitSystem(
  id: SystemId,
  split: ServiceProcesses,
  log: EventLog,
  logCommand: string,
  collect: () => Promise<Map<string, OrderRecord>>,
): BenchSystem {
  const metricsUrl = `${split.base}/metrics`;
  const lab: LabSystem = {
    architecture: 'event-driven',
    ordersUrl: `${split.base}/orders`,
    command: `${logCommand} HERALD_RATE_LIMIT=0 HERALD_LOG_LEVEL=warn node apps/orders/src/service-main.ts <service>, one process per service`,
    setFault: () => Promise.reject(new Error('the orders benchmark sets no faults')),
    clearFaults: () => Promise.resolve(),
    counters: async () => {
      const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      return { retries: sumMetric(text, 'herald_events_retried_total'), lag: await lagOf(log) };
    },
    stop: async () => {
      await log.close();
      await split.stop();
      const failed = split.processes.filter((child) => child.exitCode !== null && child.exitCode !== 0);
      if (failed.length > 0)
        throw new Error(`a service exited with an error when stopped:\n${split.output()}`);
    },
    collect,
  };
  return {
    id,
    lab,
    roots: () => split.processes.flatMap((child) => (child.pid === undefined ? [] : [child.pid])),
    // Only the orders process serves HTTP; the other services' SQLite work has no endpoint.
    sqliteMetricsUrls: undefined,
    hasFinalState: true,
    answersFinal: false,
    kill: () => split.kill(),
  };
}
