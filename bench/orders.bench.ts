// `npm run bench -- orders [--quick] [--profile]`: the order system under an open load, side by
// side in one run — the event-driven system on the embedded log (FULL, NORMAL), the same split
// into one process per service, the REST baseline, the event-driven system on Kafka with a
// Postgres store per service, and the raw limit (one group-committed durable SQLite append per
// request). The lab's generator, runs and capacity search drive every system; what each column
// means is written up in docs/benchmarks.md.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type CapacityStep, searchCapacity } from '@herald/orders-lab/capacity.ts';
import { summarize } from '@herald/orders-lab/percentiles.ts';
import { type RunData, runScenario } from '@herald/orders-lab/run-scenario.ts';
import { computeRunMetrics } from '@herald/orders-lab/run-metrics.ts';
import { sumMetric } from '@herald/orders-lab/lab-systems.ts';
import { type LabMode, MODES, SCENARIOS } from '@herald/orders-lab/scenarios.ts';
import type { OrderRecord } from '@herald/orders-lab/reconcile.ts';
import { benchDir } from './lib/bench-dir.ts';
import type { BenchOptions, BenchReport, Benchmark, ScenarioResult } from './lib/benchmark.ts';
import { type CpuProfile, type FileSelfTime, relativeTo, selfTimeByFile } from './lib/cpu-profile.ts';
import { CpuMeter, machineBusyMicros, signalTree, treeUsage } from './lib/process-tree.ts';
import { rotation } from './lib/alternate-rounds.ts';
import { answerToFinal, cell, formatGrid, perOrder, sustainedRate } from './orders-report.ts';
import { type BenchSystem, SYSTEM_IDS, SYSTEM_TITLES, type SystemId, startSystem } from './orders-systems.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The fixed rates every system is measured at, whatever its capacity. */
const FIXED_RATES = [100, 500] as const;
/** The issue's targets, reported beside the figures (benchmarks measure, they do not gate). */
const TARGET_RATE = 1_000;
const TARGET_FINAL_P99_MS = 100;
const TARGET_VS_REST = 5;
const TARGET_KAFKA_RATE = 200;
const TARGET_KAFKA_CPU_MICROS = 10_000;
const PROFILE_TOP = 15;

interface OrdersMode {
  readonly lab: LabMode;
  /** Each fixed-rate run: warm-up, then this long. */
  readonly fixedMs: number;
  readonly fixedWarmupMs: number;
  /** How long each started system is watched at rest (no load) for its idle CPU. */
  readonly idleMs: number;
  readonly systems: readonly SystemId[];
}

const QUICK: OrdersMode = {
  lab: {
    ...MODES.short,
    drainTimeoutMs: 20_000,
    requestTimeoutMs: 5_000,
    maxInFlight: 3_000,
    windowMs: 1_000,
    lagSampleMs: 250,
    capacity: {
      startRate: 50,
      factor: 2,
      maxSteps: 7,
      warmupMs: 500,
      stepMs: 2_000,
      bisections: 0,
      p99BoundMs: 25,
    },
  },
  fixedMs: 3_000,
  fixedWarmupMs: 500,
  idleMs: 3_000,
  systems: ['embedded-full', 'rest', 'raw-limit'],
};

const FULL: OrdersMode = {
  lab: {
    ...MODES.full,
    drainTimeoutMs: 60_000,
    requestTimeoutMs: 15_000,
    maxInFlight: 10_000,
    windowMs: 1_000,
    lagSampleMs: 500,
    capacity: {
      startRate: 25,
      factor: 2,
      maxSteps: 9,
      warmupMs: 2_000,
      stepMs: 10_000,
      bisections: 3,
      p99BoundMs: 25,
    },
  },
  fixedMs: 10_000,
  fixedWarmupMs: 2_000,
  idleMs: 10_000,
  systems: SYSTEM_IDS,
};

/** One fixed-rate run's figures. */
interface RateResult {
  readonly rate: number;
  readonly offered: number;
  readonly accepted: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly postP50: number | null;
  readonly postP99: number | null;
  readonly postP999: number | null;
  /** From the answer to the final state; null where the answer is final (REST) or there is none (raw). */
  readonly finalP50: number | null;
  readonly finalP99: number | null;
  readonly lost: number;
  readonly unsettled: number;
  readonly cpuMicrosPerOrder: number | null;
  /**
   * The whole machine's busy CPU over the run and its drain (broker and database included), less
   * the load generator's own and less what the machine spent idle with the system running, per
   * order; null off Linux.
   */
  readonly machineCpuMicrosPerOrder: number | null;
  readonly sqliteTransactionsPerOrder: number | null;
  readonly sqliteSyncsPerOrder: number | null;
  readonly drainComplete: boolean;
  readonly generatorMaxSendLagMs: number;
}

interface StepResult extends CapacityStep {
  readonly settled: boolean;
  readonly lost: number;
  readonly unsettled: number;
}

interface SystemResult {
  readonly id: SystemId;
  readonly title: string;
  readonly command?: string;
  /** Why the system was not measured (no broker), or why its run broke off. */
  readonly skipped?: string;
  readonly failed?: string;
  /** Parts of a measured system's run that broke off (the rest of it is still reported). */
  readonly problems?: readonly string[];
  readonly sustainedRate?: number | null;
  readonly steps?: readonly StepResult[];
  readonly rates?: readonly RateResult[];
  readonly peakRssBytes?: number;
  /** The system's processes at rest, started and settled, in % of one core. */
  readonly idleCpuPercent?: number;
  /** The whole machine at rest with the system started (broker, database…), generator excluded. */
  readonly idleMachineCpuPercent?: number;
  readonly profile?: readonly FileSelfTime[];
}

function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

/** Why a chosen system cannot run here (a missing broker or database), or undefined. */
function unavailableReason(id: SystemId): string | undefined {
  if (id !== 'kafka-postgres') return undefined;
  if (kafkaBrokers() === undefined) return 'no broker: set HERALD_BENCH_KAFKA (or HERALD_TEST_KAFKA)';
  if (postgresUrl() === undefined) return 'no database: set HERALD_BENCH_POSTGRES (or HERALD_TEST_POSTGRES)';
  return undefined;
}

function kafkaBrokers(): string | undefined {
  return process.env['HERALD_BENCH_KAFKA'] ?? process.env['HERALD_TEST_KAFKA'];
}

function postgresUrl(): string | undefined {
  return process.env['HERALD_BENCH_POSTGRES'] ?? process.env['HERALD_TEST_POSTGRES'];
}

/** `HERALD_BENCH_ORDERS_SYSTEMS=embedded-full,rest` narrows a run to those systems. */
function chosenSystems(mode: OrdersMode): readonly SystemId[] {
  const text = process.env['HERALD_BENCH_ORDERS_SYSTEMS'];
  if (text === undefined || text.trim() === '') return mode.systems;
  const chosen = text.split(',').map((s) => s.trim());
  const unknown = chosen.filter((s) => !(SYSTEM_IDS as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new RangeError(
      `HERALD_BENCH_ORDERS_SYSTEMS: unknown ${unknown.join(', ')}; known: ${SYSTEM_IDS.join(', ')}`,
    );
  }
  return chosen as SystemId[];
}

/** The SQLite counters summed over `urls`; null when there are no URLs or a process lacks them. */
async function sqliteCounters(
  urls: readonly string[] | undefined,
): Promise<{ transactions: number; syncs: number } | null> {
  if (urls === undefined || urls.length === 0) return null;
  let transactions = 0;
  let syncs = 0;
  for (const url of urls) {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
    if (!text.includes('herald_sqlite_transactions_total') || !text.includes('herald_sqlite_syncs_total')) {
      return null;
    }
    transactions += sumMetric(text, 'herald_sqlite_transactions_total');
    syncs += sumMetric(text, 'herald_sqlite_syncs_total');
  }
  return { transactions, syncs };
}

/** A run measured with the system's CPU time and SQLite counters around its measured part. */
interface FixedRun {
  readonly data: RunData;
  readonly cpuMicros: number;
  /** The machine's busy CPU less the generator's, idle rate subtracted; undefined off Linux. */
  readonly machineCpuMicros: number | undefined;
  readonly transactions: number | null;
  readonly syncs: number | null;
}

/** CPU the machine spends busy, less this process's own (the load generator), in µs. */
function machineLessGenerator(): number | undefined {
  const busy = machineBusyMicros();
  if (busy === undefined) return undefined;
  const own = process.cpuUsage();
  return busy - own.user - own.system;
}

/** What a started system costs at rest, over `ms` after it settled for a moment. */
async function idleCost(
  meter: CpuMeter,
  ms: number,
): Promise<{ systemPercent: number; machinePercent: number | undefined; machineMicrosPerMs: number }> {
  await sleep(Math.min(3_000, ms));
  const cpu = meter.cpuMicros();
  const machine = machineLessGenerator();
  const start = performance.now();
  await sleep(ms);
  const elapsed = performance.now() - start;
  const machineAfter = machineLessGenerator();
  const machineMicros =
    machine === undefined || machineAfter === undefined ? undefined : machineAfter - machine;
  return {
    systemPercent: ((meter.cpuMicros() - cpu) / (elapsed * 1000)) * 100,
    machinePercent: machineMicros === undefined ? undefined : (machineMicros / (elapsed * 1000)) * 100,
    machineMicrosPerMs: machineMicros === undefined ? 0 : machineMicros / elapsed,
  };
}

async function fixedRun(
  system: BenchSystem,
  meter: CpuMeter,
  mode: OrdersMode,
  rate: number,
  idleMachineMicrosPerMs: number,
): Promise<FixedRun> {
  let cpuBefore = 0;
  let machineBefore: number | undefined;
  let startedAt = 0;
  let countersBefore: Promise<{ transactions: number; syncs: number } | null> = Promise.resolve(null);
  const data = await runScenario({
    system: system.lab,
    scenario: SCENARIOS[0]!,
    mode: mode.lab,
    prefix: `${system.id}-r${rate}`,
    ratePerSecond: rate,
    durationMs: mode.fixedMs,
    warmupMs: mode.fixedWarmupMs,
    onPhase: (phase) => {
      if (phase !== 'run') return;
      cpuBefore = meter.cpuMicros();
      machineBefore = machineLessGenerator();
      startedAt = performance.now();
      countersBefore = sqliteCounters(system.sqliteMetricsUrls).catch(() => null);
    },
  });
  // The drain is part of the run: the consumers' work for its orders happens then.
  const cpuMicros = meter.cpuMicros() - cpuBefore;
  const machineAfter = machineLessGenerator();
  const machineCpuMicros =
    machineBefore === undefined || machineAfter === undefined
      ? undefined
      : machineAfter - machineBefore - idleMachineMicrosPerMs * (performance.now() - startedAt);
  const before = await countersBefore;
  const after = before === null ? null : await sqliteCounters(system.sqliteMetricsUrls).catch(() => null);
  return {
    data,
    cpuMicros,
    machineCpuMicros,
    transactions: before === null || after === null ? null : after.transactions - before.transactions,
    syncs: before === null || after === null ? null : after.syncs - before.syncs,
  };
}

/** Everything started and not yet stopped, so an interrupted run can kill it. */
const live = new Set<BenchSystem>();
/** Directories in use, so an interrupted run can delete them. */
const liveDirs = new Set<Disposable>();

function killEverything(): void {
  for (const system of live) {
    signalTree(system.roots(), 'SIGKILL');
    system.kill();
  }
  live.clear();
}

async function readProfiles(dir: string): Promise<FileSelfTime[]> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  } catch {
    return [];
  }
  const profiles = files.map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile);
  return selfTimeByFile(profiles, PROFILE_TOP).map((entry) => ({
    ...entry,
    file: relativeTo(REPO_ROOT, entry.file),
  }));
}

/** Starts one system, searches its capacity, measures it at the fixed rates, stops and checks it. */
async function measureSystem(id: SystemId, mode: OrdersMode, options: BenchOptions): Promise<SystemResult> {
  const title = SYSTEM_TITLES[id];
  using dir = benchDir(`orders-${id}`);
  liveDirs.add(dir);
  using _forget = { [Symbol.dispose]: () => liveDirs.delete(dir) };
  const profileDir =
    options.profile && id !== 'rest' && id !== 'raw-limit' ? dir.file('profiles') : undefined;
  progress(`${id}: starting`);
  const kafka = kafkaBrokers();
  const postgres = postgresUrl();
  const system = await startSystem(id, {
    dir,
    nodeArgs: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    ...(kafka === undefined ? {} : { kafka }),
    ...(postgres === undefined ? {} : { postgres }),
  });
  live.add(system);
  const meter = new CpuMeter(() => system.roots());
  progress(`${id}: at rest for ${mode.idleMs / 1000} s`);
  const idle = await idleCost(meter, mode.idleMs);
  const stepRuns: { data: RunData; step: CapacityStep }[] = [];
  const fixedRuns: FixedRun[] = [];
  let peakRssBytes: number | undefined;
  const problems: string[] = [];
  const attempt = async (part: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      progress(`${id}: ${part} broke off: ${message}`);
      problems.push(`${part}: ${message.split('\n')[0]!}`);
    }
  };
  try {
    await attempt('capacity search', () =>
      searchCapacity({
        system: system.lab,
        mode: mode.lab,
        prefix: `${id}-c`,
        onStep: (rate, index) => progress(`${id}: step ${index + 1} at ${rate}/s`),
        onRun: (data, step) => {
          stepRuns.push({ data, step });
          progress(
            `${id}:   ${cell(step.acceptedRate)}/s accepted, p99 ${cell(step.p99, 1)} ms, ${step.errors} errors → ${step.passed ? 'pass' : 'fail'}`,
          );
        },
      }),
    );
    for (const rate of FIXED_RATES) {
      progress(`${id}: fixed ${rate}/s`);
      await attempt(`fixed ${rate}/s`, async () =>
        fixedRuns.push(await fixedRun(system, meter, mode, rate, idle.machineMicrosPerMs)),
      );
    }
    peakRssBytes = treeUsage(system.roots()).peakRssBytes;
  } finally {
    progress(`${id}: stopping`);
    try {
      // A system that stops badly (a service that had died, an exit code) is reported with what
      // it measured; what it recorded is still read.
      await attempt('stop', () => system.lab.stop());
    } finally {
      signalTree(system.roots(), 'SIGKILL');
      system.kill();
      live.delete(system);
    }
  }
  progress(`${id}: reading what the system recorded`);
  const records = await system.lab.collect();
  if (problems.length > 0) progress(`${id}: ${problems.length} part(s) broke off; the rest is reported`);
  const judge = (data: RunData) => computeRunMetrics(data, records, mode.lab.windowMs).reconciliation;
  const steps: StepResult[] = stepRuns.map(({ data, step }) => {
    const r = judge(data);
    return { ...step, settled: r.lost === 0 && r.unsettled === 0, lost: r.lost, unsettled: r.unsettled };
  });
  const rates = fixedRuns.map((run) => rateResult(system, run, records, mode));
  return {
    id,
    title,
    command: system.lab.command,
    sustainedRate: sustainedRate(steps),
    steps,
    rates,
    ...(peakRssBytes === undefined ? {} : { peakRssBytes }),
    idleCpuPercent: idle.systemPercent,
    ...(idle.machinePercent === undefined ? {} : { idleMachineCpuPercent: idle.machinePercent }),
    ...(problems.length === 0 ? {} : { problems }),
    ...(profileDir === undefined ? {} : { profile: await readProfiles(profileDir) }),
  };
}

function rateResult(
  system: BenchSystem,
  run: FixedRun,
  records: ReadonlyMap<string, OrderRecord>,
  mode: OrdersMode,
): RateResult {
  const { data } = run;
  const metrics = computeRunMetrics(data, records, mode.lab.windowMs);
  const final =
    system.hasFinalState && !system.answersFinal
      ? summarize(answerToFinal(data.samples, records, data.prefix, data.startedAtWall))
      : undefined;
  const orders = metrics.reconciliation.accepted;
  return {
    rate: data.ratePerSecond,
    offered: metrics.reconciliation.offered,
    accepted: orders,
    errors: metrics.errors,
    postP50: metrics.http.p50,
    postP99: metrics.http.p99,
    postP999: metrics.http.p999,
    finalP50: final?.p50 ?? null,
    finalP99: final?.p99 ?? null,
    lost: metrics.reconciliation.lost,
    unsettled: metrics.reconciliation.unsettled,
    cpuMicrosPerOrder: perOrder(run.cpuMicros, orders),
    machineCpuMicrosPerOrder: perOrder(run.machineCpuMicros ?? null, orders),
    sqliteTransactionsPerOrder: perOrder(run.transactions, orders),
    sqliteSyncsPerOrder: perOrder(run.syncs, orders),
    drainComplete: data.drain.complete,
    generatorMaxSendLagMs: data.maxSendLagMs,
  };
}

// ---- report ----

function capacityGrid(results: readonly SystemResult[]): string {
  const rows = results
    .filter((r) => r.sustainedRate !== undefined)
    .map((r) => {
      const at = (rate: number) => r.rates?.find((x) => x.rate === rate);
      const both = (pick: (x: RateResult) => number | null) =>
        `${cell(at(100) === undefined ? null : pick(at(100)!), 2)} / ${cell(at(500) === undefined ? null : pick(at(500)!), 2)}`;
      return [
        r.id,
        cell(r.sustainedRate),
        cell(Math.max(0, ...(r.steps ?? []).map((s) => s.offeredRate))),
        cell(at(100)?.cpuMicrosPerOrder),
        cell(at(500)?.cpuMicrosPerOrder),
        both((x) => x.machineCpuMicrosPerOrder),
        both((x) => x.sqliteTransactionsPerOrder),
        both((x) => x.sqliteSyncsPerOrder),
        cell(r.peakRssBytes === undefined ? null : r.peakRssBytes / 2 ** 20),
        `${cell(r.idleCpuPercent ?? null, 2)} / ${cell(r.idleMachineCpuPercent ?? null, 2)}`,
      ];
    });
  const absent = results
    .filter((r) => r.sustainedRate === undefined)
    .map((r) => `${r.id}: ${r.skipped !== undefined ? `skipped (${r.skipped})` : `failed (${r.failed})`}`);
  const broken = results.flatMap((r) =>
    (r.problems ?? []).map((problem) => `${r.id}: broke off in ${problem}`),
  );
  return [
    formatGrid(
      [
        'system',
        'sustained/s',
        'tried up to/s',
        'CPU µs/order @100',
        '@500',
        'machine CPU µs/order @100 / @500',
        'SQLite tx/order @100 / @500',
        'fsyncs/order @100 / @500',
        'peak RSS MB',
        'idle CPU % system / machine',
      ],
      rows,
    ),
    ...absent,
    ...broken,
  ].join('\n');
}

function latencyGrid(results: readonly SystemResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    for (const x of r.rates ?? []) {
      rows.push([
        `${r.id} @${x.rate}/s`,
        `${x.accepted}/${x.offered}`,
        cell(x.postP50, 1),
        cell(x.postP99, 1),
        cell(x.postP999, 1),
        cell(x.finalP50, 1),
        cell(x.finalP99, 1),
        x.lost + x.unsettled === 0 && x.drainComplete
          ? 'yes'
          : `no (${x.lost} lost, ${x.unsettled} unsettled${x.drainComplete ? '' : ', drain timed out'})`,
      ]);
    }
  }
  return formatGrid(
    ['system @ rate', 'accepted', 'POST p50 ms', 'p99', 'p99.9', '202→final p50 ms', 'p99', 'all settled'],
    rows,
  );
}

/**
 * A dispatcher row comparing two systems' figures, when both have one: a system that sustained
 * no step has no capacity to divide by (the notes say so).
 */
function ratioRow(
  scenario: string,
  unit: string,
  better: 'higher' | 'lower',
  herald: number | null | undefined,
  baseline: number | null | undefined,
  baselineName: string,
  target?: number,
): ScenarioResult[] {
  if (herald === undefined || herald === null || baseline === undefined || baseline === null) return [];
  return [
    {
      scenario,
      unit,
      better,
      herald: [herald],
      baseline: [baseline],
      baselineName,
      ...(target === undefined ? {} : { target: { ratio: target } }),
    },
  ];
}

function report(results: readonly SystemResult[], mode: OrdersMode, options: BenchOptions): BenchReport {
  const by = new Map(results.map((r) => [r.id, r]));
  const capacity = (id: SystemId) => by.get(id)?.sustainedRate;
  const cpuAt100 = (id: SystemId) => by.get(id)?.rates?.find((x) => x.rate === 100)?.cpuMicrosPerOrder;
  const scenarios: ScenarioResult[] = [
    ...ratioRow(
      'capacity: embedded FULL vs REST',
      'orders/s',
      'higher',
      capacity('embedded-full'),
      capacity('rest'),
      'REST baseline',
      TARGET_VS_REST,
    ),
    ...ratioRow(
      'capacity: embedded NORMAL vs REST',
      'orders/s',
      'higher',
      capacity('embedded-normal'),
      capacity('rest'),
      'REST baseline',
    ),
    ...ratioRow(
      'capacity: process per service vs REST',
      'orders/s',
      'higher',
      capacity('embedded-split'),
      capacity('rest'),
      'REST baseline',
    ),
    ...ratioRow(
      'capacity: Kafka + Postgres vs REST',
      'orders/s',
      'higher',
      capacity('kafka-postgres'),
      capacity('rest'),
      'REST baseline',
    ),
    ...ratioRow(
      'capacity: embedded FULL vs raw limit',
      'orders/s',
      'higher',
      capacity('embedded-full'),
      capacity('raw-limit'),
      'raw limit',
    ),
    ...ratioRow(
      'CPU/order @100/s: embedded FULL vs REST',
      'µs',
      'lower',
      cpuAt100('embedded-full'),
      cpuAt100('rest'),
      'REST baseline',
    ),
    ...ratioRow(
      'CPU/order @100/s: embedded FULL vs raw limit',
      'µs',
      'lower',
      cpuAt100('embedded-full'),
      cpuAt100('raw-limit'),
      'raw limit',
    ),
  ];
  const notes = [capacityGrid(results), '', latencyGrid(results), ''];
  for (const r of results) {
    if (r.sustainedRate === null) notes.push(`${r.id}: no step passed and settled, so no capacity ratio`);
  }
  const full = by.get('embedded-full');
  if (full?.sustainedRate !== undefined) {
    notes.push(
      `target ≥ ${cell(TARGET_RATE)} orders/s sustained (embedded FULL): ${cell(full.sustainedRate)}/s — ${(full.sustainedRate ?? 0) >= TARGET_RATE ? 'met' : 'missed'}`,
    );
    const at500 = full.rates?.find((x) => x.rate === 500);
    notes.push(
      `target 202→final p99 < ${TARGET_FINAL_P99_MS} ms at 500/s (embedded FULL): ${cell(at500?.finalP99, 1)} ms — ${at500?.finalP99 !== null && at500?.finalP99 !== undefined && at500.finalP99 < TARGET_FINAL_P99_MS && at500.lost + at500.unsettled === 0 ? 'met' : 'missed'}`,
    );
  }
  const kafka = by.get('kafka-postgres');
  if (kafka?.sustainedRate !== undefined) {
    const at100 = kafka.rates?.find((x) => x.rate === 100);
    notes.push(
      `target ≥ ${TARGET_KAFKA_RATE} orders/s at POST p99 < 50 ms (Kafka + Postgres): sustained ${cell(kafka.sustainedRate)}/s at the search's stricter p99 < 25 ms; at 100/s POST p99 ${cell(at100?.postP99, 1)} ms`,
    );
    const machine = at100?.machineCpuMicrosPerOrder;
    notes.push(
      `target ≤ ${cell(TARGET_KAFKA_CPU_MICROS)} µs of CPU per order, whole machine (broker and database included, idle subtracted), Kafka + Postgres at 100/s: ${cell(machine)} µs — ${machine !== null && machine !== undefined && machine <= TARGET_KAFKA_CPU_MICROS ? 'met' : 'missed'}; at rest the deployment's processes use ${cell(kafka.idleCpuPercent ?? null, 2)}% of a core, the whole machine ${cell(kafka.idleMachineCpuPercent ?? null, 2)}%`,
    );
  }
  const generatorLag = Math.max(
    0,
    ...results.flatMap((r) => (r.rates ?? []).map((x) => x.generatorMaxSendLagMs)),
  );
  notes.push(
    `the generator sent at most ${cell(generatorLag, 1)} ms late in the fixed-rate runs (its own limit shows here)`,
  );
  for (const r of results) {
    if (r.profile === undefined || r.profile.length === 0) continue;
    notes.push(`${r.id}: self time by file (--profile, whole process life)`);
    for (const entry of r.profile)
      notes.push(`  ${(entry.share * 100).toFixed(1).padStart(5)}%  ${entry.file}`);
  }
  return {
    scenarios,
    notes,
    parameters: {
      rounds: 1,
      profile: options.profile,
      fixedRates: FIXED_RATES,
      fixedMs: mode.fixedMs,
      fixedWarmupMs: mode.fixedWarmupMs,
      capacity: mode.lab.capacity,
      requestTimeoutMs: mode.lab.requestTimeoutMs,
      maxInFlight: mode.lab.maxInFlight,
      drainTimeoutMs: mode.lab.drainTimeoutMs,
      systems: results,
    },
  };
}

const benchmark: Benchmark = {
  async run(options: BenchOptions): Promise<BenchReport> {
    const mode = options.quick ? QUICK : FULL;
    const chosen = chosenSystems(mode);
    // An interrupted run leaves no process behind: every system's tree is killed first.
    const onSignal = (signal: NodeJS.Signals): void => {
      progress(`${signal}: stopping every system started`);
      killEverything();
      for (const dir of liveDirs) dir[Symbol.dispose]();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const results: SystemResult[] = [];
    try {
      // One capacity search per system, one after the other on an otherwise idle machine; the
      // order rotates with the day so that no system is always the one measured last.
      const order = rotation(chosen, new Date().getUTCDate() % Math.max(1, chosen.length));
      for (const id of order) {
        const reason = unavailableReason(id);
        if (reason !== undefined) {
          results.push({ id, title: SYSTEM_TITLES[id], skipped: reason });
          continue;
        }
        try {
          results.push(await measureSystem(id, mode, options));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          progress(`${id}: failed: ${message}`);
          results.push({ id, title: SYSTEM_TITLES[id], failed: message.split('\n')[0]! });
        }
      }
      for (const id of SYSTEM_IDS) {
        if (chosen.includes(id)) continue;
        const why = chosen === mode.systems ? 'not in --quick' : 'not in HERALD_BENCH_ORDERS_SYSTEMS';
        results.push({ id, title: SYSTEM_TITLES[id], skipped: why });
      }
    } finally {
      killEverything();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    results.sort((a, b) => SYSTEM_IDS.indexOf(a.id) - SYSTEM_IDS.indexOf(b.id));
    return report(results, mode, options);
  },
};

export default benchmark;
