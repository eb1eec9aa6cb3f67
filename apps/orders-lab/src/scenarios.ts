// The lab's scenarios and its two modes. Every scenario runs the same constant arrival rate for
// the same time; a fault scenario injects its fault during the middle third of the run, so the
// first third shows the system before the fault and the last third how it recovers.
import type { FaultUpdate } from '@herald/orders-domain/faults.ts';
import type { DownstreamService } from '@herald/orders-domain/topology.ts';

export interface Scenario {
  /** Stable id: file names and JSON keys. */
  readonly id: 'baseline' | 'slow-payment' | 'flaky-payment' | 'notification-outage' | 'fraud-spikes';
  readonly title: string;
  readonly description: string;
  /** Injected during the middle third; empty for the baseline. */
  readonly faults: Readonly<Partial<Record<DownstreamService, FaultUpdate>>>;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'baseline',
    title: 'Baseline',
    description: 'No fault.',
    faults: {},
  },
  {
    id: 'slow-payment',
    title: 'Slow payment (+200 ms)',
    description: 'Every payment gateway call (authorize, capture, void) takes 200 ms longer.',
    faults: { payment: { latencyMs: 200 } },
  },
  {
    id: 'flaky-payment',
    title: 'Flaky payment (20% transient errors)',
    description: 'One payment gateway call in five fails with a transient error.',
    faults: { payment: { errorRate: 0.2 } },
  },
  {
    id: 'notification-outage',
    title: 'Notification outage',
    description:
      'Notification is down: its consumers stop (event-driven) or its HTTP port refuses connections (REST).',
    faults: { notification: { outage: true } },
  },
  {
    id: 'fraud-spikes',
    title: 'Fraud tail-latency spikes',
    description: 'One fraud check in twenty takes 400 ms longer.',
    faults: { fraud: { tailRate: 0.05, tailLatencyMs: 400 } },
  },
];

/** How long and how hard the lab runs. */
export interface LabMode {
  readonly name: 'short' | 'full';
  /**
   * Every scenario runs this many times on each system; tables and charts show the median round,
   * the slow-payment target judges the median of the per-round ratios.
   */
  readonly rounds: number;
  /** Orders per second offered in every scenario. */
  readonly ratePerSecond: number;
  /** Load before each measured run, not measured (JIT, connections, caches). */
  readonly warmupMs: number;
  /** The measured run; a fault covers its middle third. */
  readonly durationMs: number;
  /** After the run, how long to wait for the event-driven system's consumers to catch up. */
  readonly drainTimeoutMs: number;
  /** Client timeout of one request. */
  readonly requestTimeoutMs: number;
  /** Requests in flight beyond this are not sent (counted as errors). */
  readonly maxInFlight: number;
  /** Width of the windows of the time series (charts, recovery). */
  readonly windowMs: number;
  /** How often the event-driven system's consumer lag is sampled. */
  readonly lagSampleMs: number;
  readonly capacity: {
    /** First rate tried; then multiplied by `factor` while it passes. */
    readonly startRate: number;
    readonly factor: number;
    readonly maxSteps: number;
    readonly warmupMs: number;
    readonly stepMs: number;
    /** Halvings of the interval between the last pass and the first failure. */
    readonly bisections: number;
    /** The latency bound of "sustained". */
    readonly p99BoundMs: number;
  };
}

export const MODES: Readonly<Record<LabMode['name'], LabMode>> = {
  short: {
    name: 'short',
    rounds: 1,
    ratePerSecond: 25,
    warmupMs: 500,
    durationMs: 2_400,
    drainTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
    maxInFlight: 2_000,
    windowMs: 200,
    lagSampleMs: 200,
    capacity: {
      startRate: 20,
      factor: 2,
      maxSteps: 2,
      warmupMs: 300,
      stepMs: 1_000,
      bisections: 0,
      p99BoundMs: 25,
    },
  },
  full: {
    name: 'full',
    rounds: 3,
    ratePerSecond: 25,
    warmupMs: 4_000,
    durationMs: 24_000,
    drainTimeoutMs: 60_000,
    requestTimeoutMs: 15_000,
    maxInFlight: 5_000,
    windowMs: 1_000,
    lagSampleMs: 500,
    capacity: {
      startRate: 10,
      factor: 1.5,
      maxSteps: 7,
      warmupMs: 2_000,
      stepMs: 10_000,
      bisections: 2,
      p99BoundMs: 25,
    },
  },
};
