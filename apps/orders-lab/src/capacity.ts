// The highest sustained accepted rate at p99 < 25 ms: constant-arrival-rate steps, each held for
// a fixed time after a warm-up, rising by a factor while a step passes, then bisecting between
// the last pass and the first failure. A step passes when at least 99% of the offered requests
// were accepted, none failed, and the HTTP p99 stayed under the bound.
import type { Architecture, LabSystem } from './lab-systems.ts';
import { summarize } from './percentiles.ts';
import { type LiveSample, type RunData, runScenario } from './run-scenario.ts';
import { type LabMode, SCENARIOS } from './scenarios.ts';

/** One step of the search. */
export interface CapacityStep {
  readonly offeredRate: number;
  readonly acceptedRate: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly errors: number;
  /** Consumer lag when the step ended (event-driven): the consumers falling behind shows here. */
  readonly lagAtEnd: number | null;
  /** How long the consumers took to catch up afterwards. */
  readonly drainMs: number;
  readonly passed: boolean;
}

export interface CapacityResult {
  readonly architecture: Architecture;
  /** The accepted rate of the highest passing step; null when even the first step failed. */
  readonly maxSustainedRate: number | null;
  readonly p99BoundMs: number;
  readonly stepMs: number;
  readonly steps: readonly CapacityStep[];
}

/** Whether a step passes: ≥ 99% accepted, no errors, p99 under the bound. */
export function stepPasses(step: Omit<CapacityStep, 'passed'>, p99BoundMs: number): boolean {
  return (
    step.errors === 0 &&
    step.acceptedRate >= 0.99 * step.offeredRate &&
    step.p99 !== null &&
    step.p99 < p99BoundMs
  );
}

/**
 * The next rate to try after `steps`, or undefined when the search is over. Rising by `factor`
 * from `startRate` while steps pass; falling by it while they fail (down to 1/s); then halving
 * the interval between the highest pass and the lowest failure above it, to within 10%. At most
 * `maxSteps + bisections` steps in all.
 */
export function nextRate(
  steps: readonly Pick<CapacityStep, 'offeredRate' | 'passed'>[],
  options: Pick<LabMode['capacity'], 'startRate' | 'factor' | 'maxSteps' | 'bisections'>,
): number | undefined {
  if (steps.length === 0) return options.startRate;
  if (steps.length >= options.maxSteps + options.bisections) return undefined;
  const passes = steps.filter((s) => s.passed).map((s) => s.offeredRate);
  const highestPass = passes.length === 0 ? undefined : Math.max(...passes);
  const fails = steps.filter((s) => !s.passed && (highestPass === undefined || s.offeredRate > highestPass));
  const lowestFail = fails.length === 0 ? undefined : Math.min(...fails.map((s) => s.offeredRate));
  if (lowestFail === undefined) {
    return steps.length >= options.maxSteps ? undefined : Math.round(highestPass! * options.factor);
  }
  if (highestPass === undefined) {
    const lower = Math.floor(lowestFail / options.factor);
    return lower < 1 || steps.length >= options.maxSteps ? undefined : lower;
  }
  const middle = Math.round((highestPass + lowestFail) / 2);
  const resolved = lowestFail - highestPass <= Math.max(1, highestPass * 0.1);
  return resolved || middle <= highestPass || middle >= lowestFail ? undefined : middle;
}

/** Searches one system's highest sustained rate. */
export async function searchCapacity(options: {
  readonly system: LabSystem;
  readonly mode: LabMode;
  readonly prefix: string;
  readonly onStep?: (rate: number, index: number) => void;
  readonly onSample?: (live: LiveSample) => void;
  /** Called with each step's raw run, for checks that need the system's files afterwards. */
  readonly onRun?: (data: RunData, step: CapacityStep) => void;
}): Promise<CapacityResult> {
  const { system, mode } = options;
  const { capacity } = mode;
  const baseline = SCENARIOS[0]!;
  const steps: CapacityStep[] = [];
  const run = async (rate: number): Promise<CapacityStep> => {
    options.onStep?.(rate, steps.length);
    const data = await runScenario({
      system,
      scenario: baseline,
      mode,
      prefix: `${options.prefix}-${steps.length}`,
      ratePerSecond: rate,
      durationMs: capacity.stepMs,
      warmupMs: capacity.warmupMs,
      ...(options.onSample === undefined ? {} : { onSample: options.onSample }),
    });
    const ok = data.samples.filter((s) => s.status >= 200 && s.status < 300);
    const latency = summarize(
      data.samples.filter((s) => s.error !== 'overload').map((s) => s.doneAt - s.dueAt),
    );
    const runEnd = data.lag.filter((p) => p.t <= data.durationMs);
    const measured = {
      offeredRate: data.samples.length / (data.durationMs / 1000),
      acceptedRate: ok.length / (data.durationMs / 1000),
      p50: latency.p50,
      p99: latency.p99,
      errors: data.samples.length - ok.length,
      lagAtEnd: runEnd.length === 0 ? null : runEnd[runEnd.length - 1]!.lag,
      drainMs: data.drain.ms,
    };
    const step = { ...measured, passed: stepPasses(measured, capacity.p99BoundMs) };
    steps.push(step);
    options.onRun?.(data, step);
    return step;
  };

  for (let rate = nextRate(steps, capacity); rate !== undefined; rate = nextRate(steps, capacity))
    await run(rate);
  const best = steps.filter((s) => s.passed).sort((a, b) => b.offeredRate - a.offeredRate)[0];
  return {
    architecture: system.architecture,
    maxSustainedRate: best?.acceptedRate ?? null,
    p99BoundMs: capacity.p99BoundMs,
    stepMs: capacity.stepMs,
    steps,
  };
}
