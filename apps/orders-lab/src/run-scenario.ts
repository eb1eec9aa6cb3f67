// One measured run: a scenario against one system. Warm up, then offer the scenario's constant
// arrival rate for the run's duration, injecting the scenario's fault during the middle third
// through the system's admin endpoint, sample the consumer lag, and wait for the consumers to
// catch up afterwards (bounded). Times in the result are ms since request 0 was due.
//
// A run never throws because the system misbehaves: a request that fails is a sample (timeout,
// connection, status); a counter read that fails is counted and the series has a gap; an admin
// call that fails (setting or lifting a fault) is a problem of the run, stated in `problems`, and
// a fault that could not be set leaves the run without a fault (`fault: null`).
import { setTimeout as sleep } from 'node:timers/promises';
import type { DownstreamService } from '@herald/orders-domain/topology.ts';
import { constantArrivals } from './arrival-schedule.ts';
import type { Architecture, LabSystem, SystemCounters } from './lab-systems.ts';
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
  /** Retries counted by the system during the run and the drain; null when its counters could not be read. */
  readonly retries: number | null;
  /** How long the consumers took to catch up after the run; `complete` false when they did not in time. */
  readonly drain: { readonly ms: number; readonly complete: boolean };
  /** The generator's worst lateness sending a request (its own overload shows here). */
  readonly maxSendLagMs: number;
  /** Reads of the system's counters (`/metrics`, `/admin/stats`) that failed. */
  readonly counterFailures: number;
  /** What went wrong besides requests (admin calls, counters), for the report; empty when nothing did. */
  readonly problems: readonly string[];
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
  /** Stops sending (the rest of the schedule is recorded as not sent) and skips the drain. */
  readonly signal?: AbortSignal;
}

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Counter reads of one run: failures counted, the first few reasons kept. */
class Counters {
  failures = 0;
  readonly #system: LabSystem;
  readonly #problems: string[];

  constructor(system: LabSystem, problems: string[]) {
    this.#system = system;
    this.#problems = problems;
  }

  /** The system's counters, or undefined when they could not be read. */
  async read(): Promise<SystemCounters | undefined> {
    try {
      return await this.#system.counters();
    } catch (error) {
      this.failures++;
      if (this.failures <= 3) this.#problems.push(`reading counters failed: ${reason(error)}`);
      return undefined;
    }
  }
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
 * at most `timeoutMs`. Systems without lag are drained at once. A failed read counts as not
 * drained (the wait goes on).
 */
async function drain(
  counters: Counters,
  timeoutMs: number,
  intervalMs: number,
  origin: number,
  lag: LagPoint[],
  signal: AbortSignal | undefined,
): Promise<{ ms: number; complete: boolean }> {
  const started = performance.now();
  let zeros = 0;
  while (performance.now() - started < timeoutMs && signal?.aborted !== true) {
    const read = await counters.read();
    if (read === undefined) {
      zeros = 0;
      await sleep(intervalMs);
      continue;
    }
    const current = read.lag;
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
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const problems: string[] = [];
  const counters = new Counters(system, problems);
  const clearFaults = async (when: string): Promise<boolean> => {
    try {
      await system.clearFaults();
      return true;
    } catch (error) {
      problems.push(`lifting faults ${when} failed: ${reason(error)}`);
      return false;
    }
  };

  await clearFaults('before the run');
  if (warmupMs > 0) {
    options.onPhase?.('warm-up');
    await runOpenLoop({
      ...generator,
      schedule: constantArrivals(rate, warmupMs),
      body: (index) => orderBody(`${prefix}w`, index),
    });
    await drain(counters, mode.drainTimeoutMs, mode.lagSampleMs, performance.now(), [], options.signal);
  }

  const before = await counters.read();
  const origin = performance.now() + 20;
  const lag: LagPoint[] = [];
  // REST has no lag to sample; when the first read failed, sample anyway (a gap shows the failure).
  let sampling = before?.lag !== null;
  const sampler = (async () => {
    while (sampling) {
      const read = await counters.read();
      if (read?.lag != null) lag.push({ t: performance.now() - origin, lag: read.lag });
      if (read?.lag === null) return;
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
          try {
            for (const [service, update] of faults) await system.setFault(service, update);
          } catch (error) {
            // The run goes on without its fault, and says so: nothing is judged on it.
            problems.push(`the fault was not injected: ${reason(error)}`);
            await clearFaults('after the failed injection');
            return;
          }
          const startMs = performance.now() - origin;
          await sleep(Math.max(0, origin + (2 * durationMs) / 3 - performance.now()));
          const lifted = await clearFaults('at the end of the fault');
          fault = { startMs, endMs: lifted ? performance.now() - origin : durationMs };
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
  const drained = await drain(counters, mode.drainTimeoutMs, mode.lagSampleMs, origin, lag, options.signal);
  const after = await counters.read();
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
    retries: before === undefined || after === undefined ? null : after.retries - before.retries,
    drain: drained,
    maxSendLagMs: result.maxSendLagMs,
    counterFailures: counters.failures,
    problems,
  };
}
