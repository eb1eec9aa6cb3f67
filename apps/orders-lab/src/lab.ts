// The resilience lab: starts the event-driven system and the REST baseline side by side (each
// its own processes, ports and data folder), runs every scenario against both (alternating which
// goes first), searches each one's sustained rate, stops both, reconciles what every request
// became with what each system recorded, and checks the targets of PERFORMANCE.md.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RETRY_POLICY } from '@herald/orders-rest/downstream-client.ts';
import { type CapacityResult, searchCapacity } from './capacity.ts';
import {
  ARCHITECTURES,
  type Architecture,
  type LabSystem,
  startEventDriven,
  startRest,
} from './lab-systems.ts';
import { type RunMetrics, computeRunMetrics } from './run-metrics.ts';
import { type LiveSample, type RunData, runScenario } from './run-scenario.ts';
import { type LabMode, SCENARIOS, type Scenario } from './scenarios.ts';
import { labCatalog } from './workload.ts';

/** A target of PERFORMANCE.md and whether this run met it. */
export interface TargetCheck {
  readonly id: 'slow-payment-p99' | 'outage-no-failed-orders' | 'sustained-rate';
  readonly target: string;
  /** null when the lab could not tell (a run missing). */
  readonly met: boolean | null;
  readonly detail: string;
}

/** The headline figures of one round of a scenario on one system. */
export interface RoundSummary {
  readonly round: number;
  readonly httpP99: number | null;
  readonly httpP99DuringFault: number | null;
  readonly endToEndP99: number | null;
  readonly failedOrders: number;
  readonly lost: number;
  readonly recoveryMs: number | null;
}

export interface ScenarioResult {
  readonly id: Scenario['id'];
  readonly title: string;
  readonly description: string;
  readonly faults: Scenario['faults'];
  /** Per system, the median round (by HTTP p99 over the run): what tables and charts show. */
  readonly results: Readonly<Record<Architecture, RunMetrics>>;
  /** Per system, every round's headline figures, in round order. */
  readonly rounds: Readonly<Record<Architecture, readonly RoundSummary[]>>;
  /** Per system, which round `results` is. */
  readonly medianRound: Readonly<Record<Architecture, number>>;
}

/** The round whose HTTP p99 is the median (the lower middle for an even count). */
export function medianRound(metrics: readonly RunMetrics[]): number {
  const order = metrics
    .map((m, round) => ({ round, p99: m.http.p99 ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.p99 - b.p99);
  return order[Math.floor((order.length - 1) / 2)]!.round;
}

/** The headline figures of one round. */
export function summarizeRound(round: number, m: RunMetrics): RoundSummary {
  return {
    round,
    httpP99: m.http.p99,
    httpP99DuringFault: m.httpDuringFault?.p99 ?? null,
    endToEndP99: m.endToEnd.p99,
    failedOrders: m.reconciliation.failedOrders,
    lost: m.reconciliation.lost,
    recoveryMs: m.recoveryMs,
  };
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Everything the lab measured: what `results.json` holds. */
export interface LabResult {
  readonly version: 1;
  readonly mode: LabMode;
  /** SQLite `synchronous` of both systems' databases. */
  readonly durability: 'full' | 'normal';
  readonly command: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryMb: number;
    readonly os: string;
    readonly node: string;
    /** 1-minute load average when the lab started and ended: other work on the machine. */
    readonly loadAverage: { readonly start: number; readonly end: number };
    readonly loadGenerator: string;
  };
  readonly systems: Readonly<Record<Architecture, { readonly command: string; readonly notes: string }>>;
  readonly scenarios: readonly ScenarioResult[];
  readonly capacity: Readonly<Record<Architecture, CapacityResult>>;
  readonly targets: readonly TargetCheck[];
}

/** What the lab tells its display while it runs. */
export interface LabProgress {
  /** A new phase: `label` names it, `durationMs` is how long its measured part lasts (if timed). */
  phase(label: string, step: number, steps: number, durationMs?: number): void;
  sample(live: LiveSample): void;
  note(text: string): void;
}

const SILENT: LabProgress = { phase: () => undefined, sample: () => undefined, note: () => undefined };

const ARCH_LABEL: Readonly<Record<Architecture, string>> = { 'event-driven': 'event-driven', rest: 'REST' };

/** Checks the targets against the scenario results and the capacity search. */
export function checkTargets(
  scenarios: readonly ScenarioResult[],
  capacity: Readonly<Record<Architecture, CapacityResult>>,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const slow = scenarios.find((s) => s.id === 'slow-payment');
  // Rounds of one scenario run back to back on both systems: the per-round ratio cancels a slow
  // spell of the machine; its median is judged (as the benchmarks do).
  const ratios: number[] = [];
  for (const [round, eda] of (slow?.rounds['event-driven'] ?? []).entries()) {
    const rest = slow?.rounds.rest[round];
    if (eda.httpP99DuringFault === null || rest?.httpP99DuringFault == null) continue;
    ratios.push(rest.httpP99DuringFault / Math.max(eda.httpP99DuringFault, 0.001));
  }
  const ratio = median(ratios);
  const p99s = (a: Architecture) =>
    (slow?.rounds[a] ?? [])
      .map((r) => (r.httpP99DuringFault === null ? '–' : r.httpP99DuringFault.toFixed(1)))
      .join(', ');
  checks.push({
    id: 'slow-payment-p99',
    target: 'under slow payment (+200 ms), event-driven POST /orders p99 ≤ 1/10 of REST’s',
    met: ratio === null ? null : ratio >= 10,
    detail:
      ratio === null
        ? 'no slow-payment run'
        : `POST p99 while payment was slow, per round: event-driven ${p99s('event-driven')} ms; REST ${p99s('rest')} ms; ` +
          `median ratio ${ratio.toFixed(1)}× (per round ${ratios.map((r) => `${r.toFixed(1)}×`).join(', ')})`,
  });
  const outage = scenarios.find((s) => s.id === 'notification-outage');
  const edaRounds = outage?.rounds['event-driven'] ?? [];
  const restRounds = outage?.rounds.rest ?? [];
  const sum = (rounds: readonly RoundSummary[], key: 'failedOrders' | 'lost') =>
    rounds.reduce((n, r) => n + r[key], 0);
  const recoveries = edaRounds.map((r) =>
    r.recoveryMs === null ? 'not recovered' : `${Math.round(r.recoveryMs)} ms`,
  );
  checks.push({
    id: 'outage-no-failed-orders',
    target: 'notification outage: event-driven has zero failed and zero lost orders once the service is back',
    met: edaRounds.length === 0 ? null : sum(edaRounds, 'failedOrders') === 0 && sum(edaRounds, 'lost') === 0,
    detail:
      edaRounds.length === 0
        ? 'no outage run'
        : `event-driven over ${edaRounds.length} round(s): ${sum(edaRounds, 'failedOrders')} failed, ${sum(edaRounds, 'lost')} lost, recovered in ${recoveries.join(', ')}; ` +
          `REST: ${sum(restRounds, 'failedOrders')} failed (never notified or refused), ${sum(restRounds, 'lost')} lost`,
  });
  const edaRate = capacity['event-driven'].maxSustainedRate;
  const restRate = capacity.rest.maxSustainedRate;
  const rate = (r: number | null) => (r === null ? 'none' : `${r.toFixed(0)}/s`);
  checks.push({
    id: 'sustained-rate',
    target: `highest sustained accepted rate at p99 < ${capacity.rest.p99BoundMs} ms, both reported; event-driven ahead`,
    met: edaRate === null ? false : restRate === null ? true : edaRate > restRate,
    detail: `event-driven ${rate(edaRate)}, REST ${rate(restRate)} (steps of ${capacity.rest.stepMs / 1000} s)`,
  });
  return checks;
}

/** Runs the whole lab. */
export async function runLab(options: {
  readonly mode: LabMode;
  readonly command: string;
  /** Default `full`, both systems' default. */
  readonly durability?: 'full' | 'normal';
  readonly progress?: LabProgress;
  /** Keep the systems' data folders (default: removed). */
  readonly keepData?: boolean;
}): Promise<LabResult & { readonly dataDir: string }> {
  const { mode } = options;
  const progress = options.progress ?? SILENT;
  const startedAt = new Date();
  const loadStart = loadavg()[0]!;
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-lab-'));
  const catalogPath = join(dataDir, 'lab-catalog.json');
  await writeFile(catalogPath, JSON.stringify(labCatalog(), null, 2));
  const adminToken = randomBytes(24).toString('base64url');
  const run = randomBytes(3).toString('hex');
  const durability = options.durability ?? 'full';

  progress.note('starting both systems');
  const started = await Promise.allSettled([
    startEventDriven({ dataDir: join(dataDir, 'event-driven'), catalogPath, adminToken, durability }),
    startRest({ dataDir: join(dataDir, 'rest'), catalogPath, adminToken, durability }),
  ]);
  const systems = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = () => Promise.allSettled(systems.map((s) => s.stop()));
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const byArch = Object.fromEntries(systems.map((s) => [s.architecture, s])) as Record<
      Architecture,
      LabSystem
    >;

    const steps = mode.rounds * SCENARIOS.length * ARCHITECTURES.length + ARCHITECTURES.length;
    let step = 0;
    const runs: (RunData & { readonly round: number })[] = [];
    // Rounds outermost, so that a slow spell of the machine falls on different scenarios; within
    // a scenario both systems run back to back, the first one alternating.
    for (let round = 0; round < mode.rounds; round++) {
      for (const [index, scenario] of SCENARIOS.entries()) {
        const order = (index + round) % 2 === 0 ? ARCHITECTURES : [...ARCHITECTURES].reverse();
        for (const architecture of order) {
          step++;
          const label = `${scenario.title} · ${ARCH_LABEL[architecture]}${mode.rounds > 1 ? ` · round ${round + 1}/${mode.rounds}` : ''}`;
          const data = await runScenario({
            system: byArch[architecture],
            scenario,
            mode,
            prefix: `lab${run}-${round}-${scenario.id}-${architecture === 'rest' ? 'r' : 'e'}`,
            onPhase: (phase) =>
              progress.phase(
                `${label} (${phase})`,
                step,
                steps,
                phase === 'run' ? mode.durationMs : undefined,
              ),
            onSample: (live) => progress.sample(live),
          });
          runs.push({ ...data, round });
        }
      }
    }

    const capacity = {} as Record<Architecture, CapacityResult>;
    for (const architecture of ARCHITECTURES) {
      step++;
      capacity[architecture] = await searchCapacity({
        system: byArch[architecture],
        mode,
        prefix: `lab${run}-capacity-${architecture === 'rest' ? 'r' : 'e'}`,
        onStep: (rate) =>
          progress.phase(
            `Sustained rate · ${ARCH_LABEL[architecture]} · ${rate}/s`,
            step,
            steps,
            mode.capacity.stepMs,
          ),
        onSample: (live) => progress.sample(live),
      });
    }

    progress.note('stopping both systems and reading what they recorded');
    const stopped = await stopAll();
    const stopFailure = stopped.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (stopFailure !== undefined) throw stopFailure.reason;
    const records = {
      'event-driven': await byArch['event-driven'].collect(),
      rest: await byArch.rest.collect(),
    };

    const scenarios: ScenarioResult[] = SCENARIOS.map((scenario) => {
      const all = (architecture: Architecture) =>
        runs
          .filter((r) => r.scenario === scenario.id && r.architecture === architecture)
          .sort((a, b) => a.round - b.round)
          .map((data) => computeRunMetrics(data, records[architecture], mode.windowMs));
      const eda = all('event-driven');
      const rest = all('rest');
      const middle = { 'event-driven': medianRound(eda), rest: medianRound(rest) };
      return {
        id: scenario.id,
        title: scenario.title,
        description: scenario.description,
        faults: scenario.faults,
        results: { 'event-driven': eda[middle['event-driven']]!, rest: rest[middle.rest]! },
        rounds: {
          'event-driven': eda.map((m, round) => summarizeRound(round, m)),
          rest: rest.map((m, round) => summarizeRound(round, m)),
        },
        medianRound: middle,
      };
    });
    const cpu = cpus()[0]?.model.trim() ?? 'unknown';
    return {
      version: 1,
      mode,
      durability,
      command: options.command,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: availableParallelism(),
        cpuModel: cpu,
        memoryMb: Math.round(totalmem() / 2 ** 20),
        os: `${process.platform} ${release()} ${process.arch}`,
        node: process.version,
        loadAverage: { start: loadStart, end: loadavg()[0]! },
        loadGenerator: 'this process, on the same host (fetch/undici, open loop)',
      },
      systems: {
        'event-driven': {
          command: byArch['event-driven'].command,
          notes: `all services in one process on the embedded SQLite log (synchronous=${durability}); POST answers 202 after the durable append`,
        },
        rest: {
          command: byArch.rest.command,
          notes:
            `five processes, one SQLite file each (synchronous=${durability}); POST answers 201 after the whole chain; ` +
            `calls: ${DEFAULT_RETRY_POLICY.attemptTimeoutMs} ms timeout per attempt, ${DEFAULT_RETRY_POLICY.maxAttempts} attempts, backoff from ${DEFAULT_RETRY_POLICY.backoffMs} ms`,
        },
      },
      scenarios,
      capacity,
      targets: checkTargets(scenarios, capacity),
      dataDir,
    };
  } finally {
    await stopAll();
    if (options.keepData !== true) await rm(dataDir, { recursive: true, force: true });
  }
}
