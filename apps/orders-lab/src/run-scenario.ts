// One measured run: a scenario against one system. Warm up, then offer the scenario's constant
// arrival rate for the run's duration, injecting the scenario's fault during the middle third
// through the system's admin endpoint, sample the consumer lag, and wait for the consumers to
// catch up afterwards (bounded). Times in the result are ms since request 0 was due.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DownstreamService } from '@herald/orders-domain/topology.ts';
import { constantArrivals } from './arrival-schedule.ts';
import type { Architecture, LabSystem } from './lab-systems.ts';
import { type RequestSample, runOpenLoop } from './load-generator.ts';
import type { LabMode, Scenario } from './scenarios.ts';
import { orderBody } from './workload.ts';

/** A point of a time series, `t` in ms since the run started. */
export interface LagPoint {
  readonly t: number;
  readonly lag: number;
}

/** Everything one run measured, before analysis. */
export interface RunData {
  readonly scenario: Scenario['id'];
  readonly architecture: Architecture;
  /** Customer ids of the run's requests are `<prefix>-<index>`. */
  readonly prefix: string;
  readonly ratePerSecond: number;
  readonly durationMs: number;
  /** Epoch ms at which request 0 was due. */
  readonly startedAtWall: number;
  /** Every request, times relative to the run's start. */
  readonly samples: readonly RequestSample[];
  /** When the fault was in force (from the admin call's answer), or null without a fault. */
  readonly fault: { readonly startMs: number; readonly endMs: number } | null;
  /** Consumer lag over the run and the drain (event-driven only; empty for REST). */
  readonly lag: readonly LagPoint[];
  /** Retries counted by the system during the run and the drain. */
  readonly retries: number;
  /** How long the consumers took to catch up after the run; `complete` false when they did not in time. */
  readonly drain: { readonly ms: number; readonly complete: boolean };
  /** The generator's worst lateness sending a request (its own overload shows here). */
  readonly maxSendLagMs: number;
}

/** What the live display is told. */
export interface LiveSample {
  readonly sample: RequestSample;
  readonly elapsedMs: number;
}

export interface RunOptions {
  readonly system: LabSystem;
  readonly scenario: Scenario;
  readonly mode: LabMode;
  readonly prefix: string;
  /** Overrides the mode's rate and duration (capacity steps). */
  readonly ratePerSecond?: number;
  readonly durationMs?: number;
  readonly warmupMs?: number;
  readonly onSample?: (live: LiveSample) => void;
  readonly onPhase?: (phase: 'warm-up' | 'run' | 'drain') => void;
}

function rebase(sample: RequestSample, origin: number): RequestSample {
  return {
    ...sample,
    dueAt: sample.dueAt - origin,
    sentAt: sample.sentAt - origin,
    doneAt: sample.doneAt - origin,
  };
}

/**
 * Waits until the system has no consumer lag (two samples in a row), sampling into `lag`;
 * at most `timeoutMs`. Systems without lag are drained at once.
 */
async function drain(
  system: LabSystem,
  timeoutMs: number,
  intervalMs: number,
  origin: number,
  lag: LagPoint[],
): Promise<{ ms: number; complete: boolean }> {
  const started = performance.now();
  let zeros = 0;
  while (performance.now() - started < timeoutMs) {
    const { lag: current } = await system.counters();
    if (current === null) return { ms: 0, complete: true };
    lag.push({ t: performance.now() - origin, lag: current });
    zeros = current === 0 ? zeros + 1 : 0;
    if (zeros >= 2) return { ms: performance.now() - started, complete: true };
    await sleep(intervalMs);
  }
  return { ms: performance.now() - started, complete: false };
}

/** Runs one scenario against one system. */
export async function runScenario(options: RunOptions): Promise<RunData> {
  const { system, scenario, mode, prefix } = options;
  const rate = options.ratePerSecond ?? mode.ratePerSecond;
  const durationMs = options.durationMs ?? mode.durationMs;
  const warmupMs = options.warmupMs ?? mode.warmupMs;
  const generator = {
    url: system.ordersUrl,
    timeoutMs: mode.requestTimeoutMs,
    maxInFlight: mode.maxInFlight,
  };

  await system.clearFaults();
  if (warmupMs > 0) {
    options.onPhase?.('warm-up');
    await runOpenLoop({
      ...generator,
      schedule: constantArrivals(rate, warmupMs),
      body: (index) => orderBody(`${prefix}w`, index),
    });
    await drain(system, mode.drainTimeoutMs, mode.lagSampleMs, performance.now(), []);
  }

  const before = await system.counters();
  const origin = performance.now() + 20;
  const lag: LagPoint[] = [];
  let sampling = before.lag !== null;
  const sampler = (async () => {
    while (sampling) {
      const { lag: current } = await system.counters();
      lag.push({ t: performance.now() - origin, lag: current ?? 0 });
      await sleep(mode.lagSampleMs);
    }
  })();

  const faults = Object.entries(scenario.faults) as [
    DownstreamService,
    NonNullable<Scenario['faults'][DownstreamService]>,
  ][];
  let fault: RunData['fault'] = null;
  const injected =
    faults.length === 0
      ? Promise.resolve()
      : (async () => {
          await sleep(Math.max(0, origin + durationMs / 3 - performance.now()));
          for (const [service, update] of faults) await system.setFault(service, update);
          const startMs = performance.now() - origin;
          await sleep(Math.max(0, origin + (2 * durationMs) / 3 - performance.now()));
          await system.clearFaults();
          fault = { startMs, endMs: performance.now() - origin };
        })();

  options.onPhase?.('run');
  const result = await runOpenLoop({
    ...generator,
    startAt: origin,
    schedule: constantArrivals(rate, durationMs),
    body: (index) => orderBody(prefix, index),
    ...(options.onSample === undefined
      ? {}
      : { onSample: (sample) => options.onSample!({ sample, elapsedMs: performance.now() - origin }) }),
  });
  await injected;
  sampling = false;
  await sampler;

  options.onPhase?.('drain');
  const drained = await drain(system, mode.drainTimeoutMs, mode.lagSampleMs, origin, lag);
  const after = await system.counters();
  return {
    scenario: scenario.id,
    architecture: system.architecture,
    prefix,
    ratePerSecond: rate,
    durationMs,
    startedAtWall: performance.timeOrigin + origin,
    samples: result.samples.map((s) => rebase(s, origin)),
    fault,
    lag,
    retries: after.retries - before.retries,
    drain: drained,
    maxSendLagMs: result.maxSendLagMs,
  };
}
