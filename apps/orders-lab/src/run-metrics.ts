// From one run's raw data and what the system recorded to the figures the lab reports: rates,
// HTTP latency, errors, end-to-end completion, reconciliation, retries, dead letters, lag, the
// time series the charts draw, and the recovery time after the fault.
import type { Architecture } from './lab-systems.ts';
import type { RequestSample } from './load-generator.ts';
import { type LatencySummary, percentile, summarize } from './percentiles.ts';
import { type OrderRecord, type Reconciliation, reconcile } from './reconcile.ts';
import type { RunData } from './run-scenario.ts';
import type { Scenario } from './scenarios.ts';
import { indexOfCustomer } from './workload.ts';

/** One window of a time series; `t` is the window's start in ms since the run started. */
export interface LatencyWindow {
  readonly t: number;
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  /** Requests in the window that were not accepted. */
  readonly errors: number;
}

/** Everything the lab reports about one run. Latencies in ms. */
export interface RunMetrics {
  readonly scenario: Scenario['id'];
  readonly architecture: Architecture;
  readonly offeredRate: number;
  readonly acceptedRate: number;
  /** Every request sent, from its due time to its answer (or its timeout). */
  readonly http: LatencySummary;
  /** The requests due while the fault was in force; null without a fault. */
  readonly httpDuringFault: LatencySummary | null;
  readonly errorRate: number;
  /** Requests not accepted, by HTTP status or by `timeout`/`connection`/`overload`. */
  readonly errors: Readonly<Record<string, number>>;
  /** Accepted orders, from the request's due time to the final status (confirmed or rejected). */
  readonly endToEnd: LatencySummary;
  /** Accepted orders, from the request's due time to the last fact that settled them (customer told). */
  readonly settled: LatencySummary;
  readonly reconciliation: Reconciliation;
  /** Null when the system's counters could not be read before or after the run. */
  readonly retries: number | null;
  readonly deadLetters: number;
  /** Largest consumer lag sampled (events); null for REST, which has no log. */
  readonly maxConsumerLag: number | null;
  /**
   * From the end of the fault until the system was back to normal: answering without errors at
   * its pre-fault latency, and every order accepted before the fault ended decided and settled.
   * Null without a fault, or when the system did not recover before the lab stopped watching.
   */
  readonly recoveryMs: number | null;
  readonly fault: RunData['fault'];
  readonly drain: RunData['drain'];
  readonly generatorMaxSendLagMs: number;
  /** Reads of the system's counters that failed (the lag series has gaps). */
  readonly counterFailures: number;
  /** What went wrong besides requests (admin calls, counters); empty when nothing did. */
  readonly problems: readonly string[];
  readonly series: {
    readonly http: readonly LatencyWindow[];
    readonly endToEnd: readonly LatencyWindow[];
    readonly lag: RunData['lag'];
  };
}

const accepted = (s: RequestSample) => s.status >= 200 && s.status < 300;

/** Latency of a request: from due to done (a request never sent has none). */
function latencyOf(s: RequestSample): number | undefined {
  return s.error === 'overload' ? undefined : s.doneAt - s.dueAt;
}

/** Time series of `values` bucketed by `at` into windows of `windowMs` covering [0, endMs). */
export function windows(
  points: readonly { readonly at: number; readonly value: number | undefined; readonly error: boolean }[],
  windowMs: number,
  endMs: number,
): LatencyWindow[] {
  const count = Math.max(1, Math.ceil(endMs / windowMs));
  const buckets = Array.from({ length: count }, () => ({ values: [] as number[], errors: 0, count: 0 }));
  for (const point of points) {
    const bucket = buckets[Math.min(count - 1, Math.max(0, Math.floor(point.at / windowMs)))]!;
    bucket.count++;
    if (point.error) bucket.errors++;
    if (point.value !== undefined) bucket.values.push(point.value);
  }
  return buckets.map((bucket, i) => {
    const sorted = bucket.values.sort((a, b) => a - b);
    return {
      t: i * windowMs,
      count: bucket.count,
      p50: percentile(sorted, 50) ?? null,
      p99: percentile(sorted, 99) ?? null,
      max: sorted.length === 0 ? null : sorted[sorted.length - 1]!,
      errors: bucket.errors,
    };
  });
}

/**
 * When a system recovered from a fault that ended at `faultEndMs`, in ms after it (0 when it
 * never showed the fault after it ended); null when it had not recovered by the last window.
 *
 * Recovered means both: from some window on, every window answers without errors and with a
 * median within `max(2 × median before the fault, median before the fault + 20 ms)`; and every
 * order accepted before the fault ended that was ever settled was settled (`backlogDoneMs`, null
 * when there was none). The median, not a tail percentile: a window holds few requests, and one
 * slow request on a shared machine must not read as a system still suffering the fault.
 */
export function recoveryTime(input: {
  readonly http: readonly LatencyWindow[];
  readonly windowMs: number;
  readonly faultEndMs: number;
  readonly p50BeforeFault: number;
  readonly backlogDoneMs: number | null;
}): number | null {
  const bound = Math.max(2 * input.p50BeforeFault, input.p50BeforeFault + 20);
  const after = input.http.filter((w) => w.t + input.windowMs > input.faultEndMs);
  let healthyFrom: number | null = null;
  for (const window of after) {
    const healthy = window.errors === 0 && (window.p50 === null || window.p50 <= bound);
    if (!healthy) healthyFrom = null;
    else healthyFrom ??= Math.max(window.t, input.faultEndMs);
  }
  if (after.length > 0 && healthyFrom === null) return null;
  const latencyBack = healthyFrom ?? input.faultEndMs;
  const done = Math.max(latencyBack, input.backlogDoneMs ?? 0);
  return Math.max(0, done - input.faultEndMs);
}

/**
 * The figures of one run. `records` is what the system recorded, by customer id (all runs';
 * the run's own are found by its prefix).
 */
export function computeRunMetrics(
  run: RunData,
  records: ReadonlyMap<string, OrderRecord>,
  windowMs: number,
): RunMetrics {
  const { samples } = run;
  const byIndex = new Map<number, OrderRecord>();
  for (const [customerId, record] of records) {
    const index = indexOfCustomer(run.prefix, customerId);
    if (index !== undefined) byIndex.set(index, record);
  }
  const reconciliation = reconcile(
    samples.map((s) => ({ index: s.index, accepted: accepted(s), orderId: s.orderId })),
    byIndex,
  );

  const errors: Record<string, number> = {};
  for (const s of samples) {
    if (accepted(s)) continue;
    const key = s.error ?? String(s.status);
    errors[key] = (errors[key] ?? 0) + 1;
  }
  const latencies = samples.map(latencyOf).filter((v): v is number => v !== undefined);
  const inFault = (s: RequestSample) =>
    run.fault !== null && s.dueAt >= run.fault.startMs && s.dueAt < run.fault.endMs;
  const beforeFault = (s: RequestSample) => run.fault !== null && s.dueAt < run.fault.startMs;

  // End to end: to the final status (REST: the 201 carries it; event-driven: the decision event).
  const wall = (s: RequestSample) => run.startedAtWall + s.dueAt;
  const endToEnd: { at: number; value: number }[] = [];
  const settled: number[] = [];
  for (const s of samples) {
    if (!accepted(s)) continue;
    const record = byIndex.get(s.index);
    if (record === undefined || record.orderId !== s.orderId) continue;
    if (run.architecture === 'rest' && (record.status === 'confirmed' || record.status === 'rejected')) {
      endToEnd.push({ at: s.dueAt, value: s.doneAt - s.dueAt });
    } else if (record.decidedAt !== null) {
      endToEnd.push({ at: s.dueAt, value: record.decidedAt - wall(s) });
    }
    if (record.settled && record.lastFactAt !== null) {
      settled.push(
        Math.max(record.lastFactAt - wall(s), run.architecture === 'rest' ? s.doneAt - s.dueAt : 0),
      );
    }
  }

  const endMs = run.durationMs;
  const httpSeries = windows(
    samples.map((s) => ({ at: s.dueAt, value: latencyOf(s), error: !accepted(s) })),
    windowMs,
    endMs,
  );
  let recoveryMs: number | null = null;
  if (run.fault !== null) {
    const faultEnd = run.fault.endMs;
    const before = samples
      .filter(beforeFault)
      .map(latencyOf)
      .filter((v): v is number => v !== undefined);
    // The event-driven system settles every accepted order eventually: one still unsettled means
    // it had not recovered when the lab stopped watching. The REST baseline never comes back to
    // an order it gave up on: those count as failed orders, not as backlog.
    let backlogDoneMs: number | null = null;
    let backlogPending = false;
    for (const s of samples) {
      if (!accepted(s) || s.dueAt >= faultEnd) continue;
      const record = byIndex.get(s.index);
      if (record?.settled !== true || record.lastFactAt === null) {
        if (run.architecture === 'event-driven') backlogPending = true;
        continue;
      }
      const doneMs = Math.max(record.lastFactAt - run.startedAtWall, s.doneAt);
      backlogDoneMs = Math.max(backlogDoneMs ?? 0, doneMs);
    }
    recoveryMs = backlogPending
      ? null
      : recoveryTime({
          http: httpSeries,
          windowMs,
          faultEndMs: faultEnd,
          p50BeforeFault: summarize(before).p50 ?? 0,
          backlogDoneMs,
        });
  }

  const seconds = run.durationMs / 1000;
  const maxLag = run.lag.reduce<number | null>((max, p) => Math.max(max ?? 0, p.lag), null);
  return {
    scenario: run.scenario,
    architecture: run.architecture,
    offeredRate: samples.length / seconds,
    acceptedRate: reconciliation.accepted / seconds,
    http: summarize(latencies),
    httpDuringFault:
      run.fault === null
        ? null
        : summarize(
            samples
              .filter(inFault)
              .map(latencyOf)
              .filter((v): v is number => v !== undefined),
          ),
    errorRate: samples.length === 0 ? 0 : (samples.length - reconciliation.accepted) / samples.length,
    errors,
    endToEnd: summarize(endToEnd.map((e) => e.value)),
    settled: summarize(settled),
    reconciliation,
    retries: run.retries,
    deadLetters: reconciliation.deadLetters,
    maxConsumerLag: run.architecture === 'rest' ? null : (maxLag ?? 0),
    recoveryMs,
    fault: run.fault,
    drain: run.drain,
    generatorMaxSendLagMs: run.maxSendLagMs,
    counterFailures: run.counterFailures,
    problems: run.problems,
    series: {
      http: httpSeries,
      endToEnd: windows(
        endToEnd.map((e) => ({ at: e.at, value: e.value, error: false })),
        windowMs,
        endMs,
      ),
      lag: run.lag,
    },
  };
}
