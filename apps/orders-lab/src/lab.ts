// The resilience lab: starts the event-driven system and the REST baseline side by side (each
// its own processes, ports and data folder), runs every scenario against both (alternating which
// goes first), searches each one's sustained rate, stops both, reconciles what every request
// became with what each system recorded, and checks the targets of docs/performance-targets.md.
//
// It reports what went wrong instead of dying of it: failed requests are samples, failed admin
// calls and counter reads are problems of their run, a run that could not be done at all is
// listed as not run with its reason, a system that fails to stop cleanly is a problem of the lab;
// `problems` in the result gathers them all. Both systems are stopped on every way out.
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

/** A target of docs/performance-targets.md and whether this run met it. */
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
  /** What went wrong in the round besides requests (admin calls, counters); empty when nothing did. */
  readonly problems: readonly string[];
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
    problems: m.problems,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
  /**
   * Everything that went wrong besides requests, each naming where (scenario, system, round):
   * failed admin calls and counter reads, runs not done and why, a system that did not stop
   * cleanly. Empty when nothing did.
   */
  readonly problems: readonly string[];
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
  // Rounds of one scenario run back to back on both systems: each round's ratio compares the two
  // under the same spell of the machine. The target holds when it holds in every round; a round
  // without figures (its fault not injected) is not judged, and the target is then not known.
  const rounds = (slow?.rounds['event-driven'] ?? []).map((eda) => {
    const rest = slow?.rounds.rest.find((r) => r.round === eda.round);
    const ratio =
      eda.httpP99DuringFault === null || rest?.httpP99DuringFault == null
        ? null
        : rest.httpP99DuringFault / Math.max(eda.httpP99DuringFault, 0.001);
    return { round: eda.round + 1, ratio };
  });
  const ratios = rounds.flatMap((r) => (r.ratio === null ? [] : [r.ratio]));
  const missed = rounds.filter((r) => r.ratio !== null && r.ratio < 10);
  const unjudged = rounds.filter((r) => r.ratio === null);
  const p99s = (a: Architecture) =>
    (slow?.rounds[a] ?? [])
      .map((r) => (r.httpP99DuringFault === null ? '–' : r.httpP99DuringFault.toFixed(1)))
      .join(', ');
  const verdict =
    missed.length > 0
      ? `missed in round ${missed.map((r) => `${r.round} (${r.ratio!.toFixed(1)}×)`).join(', round ')}`
      : unjudged.length > 0
        ? `not judged in round ${unjudged.map((r) => r.round).join(', ')} (no figures while the fault was in force)`
        : `met in every round (${rounds.length})`;
  checks.push({
    id: 'slow-payment-p99',
    target: 'under slow payment (+200 ms), event-driven POST /orders p99 ≤ 1/10 of REST’s, in every round',
    met: ratios.length === 0 ? null : missed.length > 0 ? false : unjudged.length > 0 ? null : true,
    detail:
      ratios.length === 0
        ? 'no slow-payment run with a fault in force'
        : `${verdict}; POST p99 while payment was slow, per round: event-driven ${p99s('event-driven')} ms; REST ${p99s('rest')} ms; ` +
          `ratio per round ${rounds.map((r) => (r.ratio === null ? '–' : `${r.ratio.toFixed(1)}×`)).join(', ')} (median ${median(ratios)!.toFixed(1)}×)`,
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
  /**
   * Interrupts the lab: it stops both systems, removes their data (unless kept) and rejects with
   * the signal's reason, without waiting for the run in progress.
   */
  readonly signal?: AbortSignal;
}): Promise<LabResult & { readonly dataDir: string }> {
  const { mode } = options;
  const shown = options.progress ?? SILENT;
  // Once interrupted, the abandoned run in progress must not redraw the display.
  const progress: LabProgress = {
    phase: (...args) => {
      if (options.signal?.aborted !== true) shown.phase(...args);
    },
    sample: (live) => {
      if (options.signal?.aborted !== true) shown.sample(live);
    },
    note: (text) => shown.note(text),
  };
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
  const { signal } = options;
  const interrupted = new Promise<never>((_, reject) => {
    if (signal?.aborted === true) reject(signal.reason as Error);
    signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
  // Attached here so that it never counts as unhandled, whichever promise it races.
  interrupted.catch(() => undefined);
  /** `work`, or the interruption, whichever comes first. */
  const unlessInterrupted = <T>(work: Promise<T>): Promise<T> => Promise.race([work, interrupted]);
  const problems: string[] = [];
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
          const where = `${scenario.id} · ${ARCH_LABEL[architecture]} · round ${round + 1}`;
          try {
            const data = await unlessInterrupted(
              runScenario({
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
                ...(signal === undefined ? {} : { signal }),
              }),
            );
            runs.push({ ...data, round });
            for (const problem of data.problems) problems.push(`${where}: ${problem}`);
          } catch (error) {
            if (signal?.aborted === true) throw error;
            problems.push(`${where}: not run: ${describe(error)}`);
            progress.note(`${where}: not run: ${describe(error)}`);
          }
        }
      }
    }

    const capacity = {} as Record<Architecture, CapacityResult>;
    for (const architecture of ARCHITECTURES) {
      step++;
      try {
        capacity[architecture] = await unlessInterrupted(
          searchCapacity({
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
          }),
        );
      } catch (error) {
        if (signal?.aborted === true) throw error;
        problems.push(`sustained rate · ${ARCH_LABEL[architecture]}: not searched: ${describe(error)}`);
        capacity[architecture] = {
          architecture,
          maxSustainedRate: null,
          p99BoundMs: mode.capacity.p99BoundMs,
          stepMs: mode.capacity.stepMs,
          steps: [],
        };
      }
    }

    progress.note('stopping both systems and reading what they recorded');
    const stopped = await unlessInterrupted(stopAll());
    for (const [index, outcome] of stopped.entries()) {
      if (outcome.status === 'rejected')
        problems.push(`${ARCH_LABEL[systems[index]!.architecture]}: ${describe(outcome.reason)}`);
    }
    const records = {
      'event-driven': await byArch['event-driven'].collect(),
      rest: await byArch.rest.collect(),
    };

    // A scenario is shown when both systems ran at least one round of it; the rounds that were
    // not run are in `problems`.
    const scenarios: ScenarioResult[] = SCENARIOS.flatMap((scenario) => {
      const all = (architecture: Architecture) =>
        runs
          .filter((r) => r.scenario === scenario.id && r.architecture === architecture)
          .sort((a, b) => a.round - b.round)
          .map((data) => ({
            round: data.round,
            metrics: computeRunMetrics(data, records[architecture], mode.windowMs),
          }));
      const eda = all('event-driven');
      const rest = all('rest');
      if (eda.length === 0 || rest.length === 0) {
        problems.push(`${scenario.id}: not shown: a system has no round of it`);
        return [];
      }
      const middle = {
        'event-driven': eda[medianRound(eda.map((r) => r.metrics))]!,
        rest: rest[medianRound(rest.map((r) => r.metrics))]!,
      };
      return [
        {
          id: scenario.id,
          title: scenario.title,
          description: scenario.description,
          faults: scenario.faults,
          results: { 'event-driven': middle['event-driven'].metrics, rest: middle.rest.metrics },
          rounds: {
            'event-driven': eda.map((r) => summarizeRound(r.round, r.metrics)),
            rest: rest.map((r) => summarizeRound(r.round, r.metrics)),
          },
          medianRound: { 'event-driven': middle['event-driven'].round, rest: middle.rest.round },
        },
      ];
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
      problems,
      dataDir,
    };
  } finally {
    await stopAll();
    if (options.keepData !== true) await rm(dataDir, { recursive: true, force: true });
  }
}
