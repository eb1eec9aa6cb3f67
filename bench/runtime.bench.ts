// `npm run bench -- runtime`: the consumer runtime (a Router with the full middleware stack)
// against raw consumption of the same log by a plain subscription, in the same run, in
// alternating rounds. Both sides run the same handler doing the same store transaction, so the
// ratio is what the router and its middleware cost. What each scenario measures and why is
// written up in docs/benchmarks.md.
import { copyFileSync, existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Handler,
  PermanentFailure,
  type Store,
  type Subscription,
  createRouter,
  deadLetter,
  idempotency,
  retry,
  timeout,
} from '@herald/core';
import { metrics } from '@herald/core/metrics';
import { parkedKeys, redrive } from '@herald/core/ops';
import { tracing } from '@herald/core/tracing';
import type { SqliteLog } from '@herald/sqlite';
import { alternateRounds } from './lib/alternate-rounds.ts';
import { type BenchDir, benchDir } from './lib/bench-dir.ts';
import { openBenchStore } from './lib/bench-store.ts';
import type { BenchOptions, BenchReport, Benchmark, ScenarioResult } from './lib/benchmark.ts';
import { formatNumber, median, perSecond, percentile } from './lib/stats.ts';
import {
  COLLECTION,
  DATA_BYTES,
  EVENT_TYPE,
  FULL_WORKLOAD,
  IN_FLIGHT,
  KEYS,
  PARTITIONS,
  Probe,
  QUICK_WORKLOAD,
  type RuntimeWorkload,
  TOPIC,
  type Transact,
  handleSample,
  now,
  sampleEvent,
} from './runtime-workload.ts';

/** router: the full stack; raw: a plain subscription, same handler and store; bare: raw without the store. */
type Contender = 'router' | 'raw' | 'bare';

const GROUP: Readonly<Record<Contender, string>> = {
  router: 'bench.router',
  raw: 'bench.raw',
  bare: 'bench.bare',
};

const ROUTER_STACK = 'deadLetter, retry, tracing (no SDK), metrics, timeout, idempotency(SqliteStore)';
const RAW_NAME = 'plain subscription, same handler and tx.put, same store';
const BARE_NAME = 'plain subscription, no store work';
/** The router's default commit interval, which the raw consumer follows too. */
const COMMIT_INTERVAL_MS = 100;
/** How long a contender may take to handle what it was given before the run is declared broken. */
const DEADLINE_MS = 180_000;

function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

/** A running consumer. */
interface Consumer {
  /** Settles when the consumer stops by itself: an error, or (raw) everything expected handled. */
  readonly finished: Promise<void>;
  /** Called once everything expected was handled: finish, commit, leave the group. */
  stop(): Promise<void>;
  /** Called on failure: stop as soon as possible. */
  abort(): Promise<void>;
}

/**
 * The router as a service would run it: the full middleware stack in the order the orders app
 * uses (dead letters outermost, then retries, then per-attempt tracing and metrics, then a
 * timeout per attempt and the inbox innermost), its default maxInFlight (256) and commit
 * interval, one route for the event type, whose handler is `handle`.
 */
function startStackedRouter(log: SqliteLog, store: Store, handle: Handler): Consumer {
  const router = createRouter({
    log,
    group: GROUP.router,
    topics: [TOPIC],
    store,
    maxInFlight: IN_FLIGHT,
    commitIntervalMs: COMMIT_INTERVAL_MS,
    middleware: [
      deadLetter(),
      retry({ maxAttempts: 5, initialDelayMs: 100 }),
      tracing(),
      metrics(),
      timeout({ ms: 10_000 }),
      idempotency({ store }),
    ],
  });
  router.on(EVENT_TYPE, handle);
  const finished = router.run();
  return { finished, stop: () => router.stop(), abort: () => router.stop() };
}

/** The stacked router handling every sample. */
function startRouter(log: SqliteLog, store: Store, probe: Probe): Consumer {
  return startStackedRouter(log, store, (event, context) =>
    handleSample(event, (fn) => context.transaction(fn), probe),
  );
}

/**
 * The stacked router whose handler gives up on the backlog's first event (sequence 0, key
 * `key-00`) until it is redriven: the event is dead-lettered and its key parked, so the key's
 * later events wait, as positions, while the other 63 keys drain.
 */
function startParkingRouter(log: SqliteLog, store: Store, probe: Probe): Consumer {
  return startStackedRouter(log, store, async (event, context) => {
    if (event.id === 'bench-0' && event.extensions?.['dlredrive'] === undefined) {
      throw new PermanentFailure('the first event is refused until it is redriven');
    }
    await handleSample(event, (fn) => context.transaction(fn), probe);
  });
}

/**
 * Raw consumption: one member of its own group fetching batches of at most IN_FLIGHT events and
 * handling a batch's events all at once; what it handled is committed on the router's cadence
 * (at most every COMMIT_INTERVAL_MS, and at the end), so both sides pay the same offset commits.
 * Handling a batch at once keeps per-key order on this store (its transactions run in the order
 * they were started) and lets their transactions share commits: a loop awaiting one event at a
 * time would pay one fsync per event and compare concurrency, not the router's cost. It stops
 * by itself once the probe is complete.
 */
function startRaw(log: SqliteLog, store: Store | undefined, probe: Probe, group: string): Consumer {
  const transact: Transact | undefined = store === undefined ? undefined : (fn) => store.transaction(fn);
  let subscription: Subscription | undefined;
  const finished = (async () => {
    const sub = await log.subscribe({
      group,
      topics: [TOPIC],
      startAt: 'earliest',
      maxBufferedEvents: IN_FLIGHT,
    });
    subscription = sub;
    // Per partition, the offset after the last handled event (events arrive in offset order).
    const handled = new Map<number, number>();
    let committedAt = performance.now();
    try {
      for await (const batch of sub.batches()) {
        await Promise.all(batch.map((event) => handleSample(event, transact, probe)));
        for (const event of batch) handled.set(event.partition, event.offset + 1);
        if (probe.complete || performance.now() - committedAt >= COMMIT_INTERVAL_MS) {
          await sub.commit([...handled].map(([partition, offset]) => ({ topic: TOPIC, partition, offset })));
          committedAt = performance.now();
        }
        if (probe.complete) break;
      }
    } finally {
      await sub.close();
    }
  })();
  return {
    finished,
    stop: () => finished,
    abort: async () => {
      await subscription?.close();
      await finished.catch(() => undefined);
    },
  };
}

function start(contender: Contender, log: SqliteLog, store: Store, probe: Probe): Consumer {
  if (contender === 'router') return startRouter(log, store, probe);
  return startRaw(log, contender === 'raw' ? store : undefined, probe, GROUP[contender]);
}

/** Waits until the probe saw every expected event; fails if the consumer stops first or it takes too long. */
async function handledAll(probe: Probe, consumer: Consumer, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: only ${probe.handled} events handled after ${DEADLINE_MS} ms`)),
      DEADLINE_MS,
    );
  });
  const ended = consumer.finished.then(() => {
    if (!probe.complete) throw new Error(`${what}: the consumer stopped after ${probe.handled} events`);
  });
  ended.catch(() => undefined);
  try {
    await Promise.race([probe.done, deadline, ended]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks, after the clock stopped, that the contender did the work it was timed on: nothing left
 * uncommitted, each key's document holding the last event of that key, and (router) one inbox
 * entry per event.
 */
async function verify(contender: Contender, log: SqliteLog, store: Store, probe: Probe, path: string) {
  const group = await log.describeGroup(GROUP[contender]);
  const lag = group.partitions.reduce((sum, p) => sum + p.lag, 0);
  if (lag !== 0) throw new Error(`${contender}: ${lag} events left uncommitted`);
  if (contender === 'bare') return;
  for (const [key, sequence] of probe.lastSequences()) {
    const document = await store.get<{ sequence: number }>(COLLECTION, key);
    if (document?.sequence !== sequence) {
      throw new Error(`${contender}: document ${key} holds ${document?.sequence}, expected ${sequence}`);
    }
  }
  if (contender === 'router') {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const { count } = db
        .prepare('SELECT count(*) AS count FROM herald_inbox WHERE group_name = ?')
        .get(GROUP.router) as { count: number };
      if (count !== probe.handled)
        throw new Error(`router: ${count} inbox entries for ${probe.handled} events`);
    } finally {
      db.close();
    }
  }
}

// Scenario 1: drain a backlog. Each round fills one file (untimed) and every contender drains
// its own copy of it, so each starts from identical bytes.

async function fillBacklog(total: number): Promise<BenchDir> {
  const dir = benchDir('runtime-backlog');
  try {
    const { log } = await openBenchStore(dir.file('template.db'));
    try {
      await log.createTopic(TOPIC, { partitions: PARTITIONS });
      for (let from = 0; from < total; from += 1000) {
        const batch = [];
        for (let i = from; i < Math.min(total, from + 1000); i++) batch.push(sampleEvent(i, 0));
        await log.appendBatch(TOPIC, batch);
      }
    } finally {
      await log.close();
    }
    return dir;
  } catch (error) {
    dir[Symbol.dispose]();
    throw error;
  }
}

function copyDatabase(from: string, to: string): void {
  for (const suffix of ['', '-wal']) {
    if (existsSync(from + suffix)) copyFileSync(from + suffix, to + suffix);
  }
}

async function drain(contender: Contender, backlog: BenchDir, total: number): Promise<number> {
  const path = backlog.file(`${contender}.db`);
  copyDatabase(backlog.file('template.db'), path);
  const { log, store } = await openBenchStore(path);
  try {
    const probe = new Probe(total);
    const started = performance.now();
    const consumer = start(contender, log, store, probe);
    try {
      await handledAll(probe, consumer, `drain ${contender}`);
    } catch (error) {
      await consumer.abort();
      throw error;
    }
    await consumer.stop();
    const elapsed = performance.now() - started;
    await verify(contender, log, store, probe, path);
    return perSecond(total, elapsed);
  } finally {
    await log.close();
  }
}

interface DrainResults {
  readonly router: number[];
  readonly raw: number[];
  readonly bare: number[];
}

async function drainBacklog(total: number, rounds: number): Promise<DrainResults> {
  return alternateRounds({
    rounds,
    setup: () => fillBacklog(total),
    contenders: {
      router: (dir) => drain('router', dir, total),
      raw: (dir) => drain('raw', dir, total),
      bare: (dir) => drain('bare', dir, total),
    },
    teardown: (dir) => Promise.resolve(dir[Symbol.dispose]()),
    onMeasured: (name, round, value) =>
      progress(`drain round ${round + 1}/${rounds}: ${name} ${formatNumber(value)} events/s`),
  });
}

// Scenario 3: the same drain with one key parked behind a dead letter, then its release. The
// parking contender drains the backlog while key-00's first event is dead-lettered and its
// later events are parked (timed until every other key is handled and every parked event is
// recorded); then the dead letter is redriven and the release is timed until the key's events
// are all handled, in order (the probe checks it). Both are compared with the plain router's
// drain of the same backlog in the same round.

interface ParkingRun {
  /** Events handled or parked per second until the other keys were done. */
  readonly drain: number;
  /** Events of the parked key (its redriven dead letter included) handled per second after the redrive. */
  readonly release: number;
}

/** Events of `key-00` in a backlog of `total`: sequences 0, KEYS, 2·KEYS, … */
const parkedKeyEvents = (total: number): number => Math.ceil(total / KEYS);

async function drainParked(backlog: BenchDir, total: number): Promise<ParkingRun> {
  const path = backlog.file('parking.db');
  copyDatabase(backlog.file('template.db'), path);
  const { log, store } = await openBenchStore(path);
  try {
    const probe = new Probe(total);
    const held = parkedKeyEvents(total);
    const started = performance.now();
    const consumer = startParkingRouter(log, store, probe);
    let drained: number;
    let releasedAt: number;
    let done: number;
    try {
      await probe.reached(total - held);
      // Every parked event recorded (and so committed past): the drain is over.
      for (;;) {
        const [key] = await parkedKeys(store, GROUP.router);
        if (key?.count === held - 1) break;
        if (performance.now() - started > DEADLINE_MS) throw new Error('parking: the key was never parked');
        await sleep(1);
      }
      drained = performance.now();
      const position = await firstDeadLetter(log);
      await redrive({
        log,
        store,
        deadLetterTopic: `${TOPIC}.dead-letter`,
        positions: [{ partition: position.partition, offset: position.offset }],
      });
      releasedAt = performance.now();
      await handledAll(probe, consumer, 'parking release');
      done = performance.now();
      // Untimed: the key is forgotten once its last event is handled.
      while ((await parkedKeys(store, GROUP.router)).length > 0) {
        if (performance.now() - done > DEADLINE_MS) throw new Error('parking: the key stayed parked');
        await sleep(1);
      }
    } catch (error) {
      await consumer.abort();
      throw error;
    }
    await consumer.stop();
    await verify('router', log, store, probe, path);
    return { drain: perSecond(total, drained - started), release: perSecond(held, done - releasedAt) };
  } finally {
    await log.close();
  }
}

async function firstDeadLetter(log: SqliteLog): Promise<{ partition: number; offset: number }> {
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const [entry] = await log.read(`${TOPIC}.dead-letter`, { partition, from: { offset: 0 }, limit: 1 });
    if (entry !== undefined) return entry;
  }
  throw new Error('parking: no dead letter');
}

interface ParkingResults {
  readonly router: number[];
  readonly parking: ParkingRun[];
}

async function drainWithParking(total: number, rounds: number): Promise<ParkingResults> {
  const parking: ParkingRun[] = [];
  const results = await alternateRounds({
    rounds,
    setup: () => fillBacklog(total),
    contenders: {
      router: (dir) => drain('router', dir, total),
      parking: async (dir) => {
        const run = await drainParked(dir, total);
        parking.push(run);
        return run.drain;
      },
    },
    teardown: (dir) => Promise.resolve(dir[Symbol.dispose]()),
    onMeasured: (name, round, value) =>
      progress(
        `parking round ${round + 1}/${rounds}: ${name} ${formatNumber(value)} events/s` +
          (name === 'parking' ? `, release ${formatNumber(parking[round]!.release)} events/s` : ''),
      ),
  });
  return { router: results.router, parking };
}

function parkingRows(results: ParkingResults, total: number): ScenarioResult[] {
  const held = parkedKeyEvents(total);
  const common = {
    unit: 'events/s',
    better: 'higher',
    baseline: results.router,
    baselineName: 'the router draining the same backlog, nothing parked',
  } as const;
  return [
    {
      scenario: `drain ${formatNumber(total)} with 1 of ${KEYS} keys parked (${held - 1} events held): parking vs router`,
      herald: results.parking.map((run) => run.drain),
      ...common,
    },
    {
      scenario: `release ${held} events of the parked key after its redrive: release vs router drain`,
      herald: results.parking.map((run) => run.release),
      ...common,
    },
  ];
}

// Scenario 2: publish→handled latency under a constant offered rate (an open loop: events are
// published on schedule whether or not the consumer keeps up). Each contender gets a fresh file.

interface LatencyRun {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** How late the publisher was against its schedule, p99 (ms): large means the rate was not held. */
  readonly publisherLagP99: number;
}

/**
 * Publishes `total` events at `rate` per second, each stamped with the time it was appended,
 * without waiting for one append before the next (group commit folds them); catches up at once
 * when a timer fired late. Returns the publisher's lateness per event, in ms.
 */
async function publishAtRate(log: SqliteLog, rate: number, total: number): Promise<Float64Array> {
  const interval = 1000 / rate;
  const lateness = new Float64Array(total);
  const appends: Promise<unknown>[] = [];
  let failure: { error: unknown } | undefined;
  const begin = performance.now();
  let sent = 0;
  while (sent < total && failure === undefined) {
    const due = Math.min(total, Math.floor((performance.now() - begin) / interval) + 1);
    for (; sent < due; sent++) {
      lateness[sent] = performance.now() - (begin + sent * interval);
      appends.push(
        log.append(TOPIC, sampleEvent(sent, now())).catch((error: unknown) => {
          failure ??= { error };
        }),
      );
    }
    if (sent < total) await sleep(Math.max(0, begin + sent * interval - performance.now()));
  }
  await Promise.all(appends);
  if (failure !== undefined) throw failure.error;
  return lateness;
}

async function latency(contender: Contender, rate: number, workload: RuntimeWorkload): Promise<LatencyRun> {
  using dir = benchDir(`runtime-latency-${contender}`);
  const path = dir.file('log.db');
  const { log, store } = await openBenchStore(path);
  try {
    await log.createTopic(TOPIC, { partitions: PARTITIONS });
    const warmup = Math.round((rate * workload.warmupMs) / 1000);
    const total = warmup + Math.round((rate * workload.measureMs) / 1000);
    const probe = new Probe(total);
    const consumer = start(contender, log, store, probe);
    let lateness: Float64Array;
    try {
      lateness = await publishAtRate(log, rate, total);
      await handledAll(probe, consumer, `latency ${contender} at ${rate}/s`);
    } catch (error) {
      await consumer.abort();
      throw error;
    }
    await consumer.stop();
    await verify(contender, log, store, probe, path);
    const measured = probe.latenciesFrom(warmup);
    return {
      p50: percentile(measured, 0.5),
      p99: percentile(measured, 0.99),
      max: percentile(measured, 1),
      publisherLagP99: percentile(lateness.subarray(warmup), 0.99),
    };
  } finally {
    await log.close();
  }
}

type LatencyResults = { readonly [C in Contender]: LatencyRun[] };

async function latencyAtRate(
  rate: number,
  workload: RuntimeWorkload,
  rounds: number,
): Promise<LatencyResults> {
  const runs: { [C in Contender]: LatencyRun[] } = { router: [], raw: [], bare: [] };
  const measure = async (contender: Contender) => {
    const run = await latency(contender, rate, workload);
    runs[contender].push(run);
    return run.p50;
  };
  await alternateRounds({
    rounds,
    setup: () => Promise.resolve(undefined),
    contenders: { router: () => measure('router'), raw: () => measure('raw'), bare: () => measure('bare') },
    onMeasured: (name, round) => {
      const run = runs[name][round]!;
      progress(
        `${rate}/s round ${round + 1}/${rounds}: ${name} p50 ${formatNumber(run.p50)} ms, ` +
          `p99 ${formatNumber(run.p99)} ms, max ${formatNumber(run.max)} ms`,
      );
    },
  });
  return runs;
}

// Rows and derived figures.

const micros = (rate: number): number => 1e6 / rate;

/** The median over rounds of `f(router) − f(baseline)`, per-round like the ratios. */
function medianDifference(router: readonly number[], baseline: readonly number[], f: (x: number) => number) {
  return median(router.map((value, round) => f(value) - f(baseline[round]!)));
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : '−'}${formatNumber(Math.abs(value))}`;
}

function drainRows(results: DrainResults, total: number): ScenarioResult[] {
  const common = { unit: 'events/s', better: 'higher', herald: results.router } as const;
  const name = `drain ${formatNumber(total)}, ${KEYS} keys, ${PARTITIONS} partitions`;
  return [
    { scenario: `${name}: router vs raw`, baseline: results.raw, baselineName: RAW_NAME, ...common },
    {
      scenario: `${name}: router vs raw, no store`,
      baseline: results.bare,
      baselineName: BARE_NAME,
      ...common,
    },
  ];
}

function drainNotes(results: DrainResults): string[] {
  const perEvent = (values: readonly number[]) => formatNumber(median(values.map(micros)));
  const cost = medianDifference(results.router, results.raw, micros);
  const store = medianDifference(results.raw, results.bare, micros);
  return [
    `drain: router + middleware cost ${signed(cost)} µs per event over raw with the same tx.put ` +
      `(router ${perEvent(results.router)} µs, raw ${perEvent(results.raw)} µs, ` +
      `raw without store ${perEvent(results.bare)} µs per event; the tx.put itself costs raw ${signed(store)} µs)`,
  ];
}

function latencyRows(rate: number, runs: LatencyResults): ScenarioResult[] {
  const of = (contender: Contender, field: 'p50' | 'p99' | 'max') => runs[contender].map((run) => run[field]);
  const row = (field: 'p50' | 'p99' | 'max', baseline: 'raw' | 'bare'): ScenarioResult => ({
    scenario: `${rate}/s publish→handled ${field}: router vs raw${baseline === 'bare' ? ', no store' : ''}`,
    unit: 'ms',
    better: 'lower',
    herald: of('router', field),
    baseline: of(baseline, field),
    baselineName: baseline === 'raw' ? RAW_NAME : BARE_NAME,
  });
  return [row('p50', 'raw'), row('p99', 'raw'), row('max', 'raw'), row('p50', 'bare'), row('p99', 'bare')];
}

function latencyNotes(rate: number, runs: LatencyResults): string[] {
  const ms = (x: number) => x * 1000;
  const diff = (field: 'p50' | 'p99') =>
    signed(
      medianDifference(
        runs.router.map((run) => run[field]),
        runs.raw.map((run) => run[field]),
        ms,
      ),
    );
  const lag = Math.max(...Object.values(runs).flatMap((list) => list.map((run) => run.publisherLagP99)));
  return [
    `${rate}/s: router + middleware add ${diff('p50')} µs at p50 and ${diff('p99')} µs at p99 over raw ` +
      `with the same tx.put; publisher lateness p99 ≤ ${formatNumber(lag)} ms in every run`,
  ];
}

const benchmark: Benchmark = {
  async run(options: BenchOptions): Promise<BenchReport> {
    const workload = options.quick ? QUICK_WORKLOAD : FULL_WORKLOAD;
    // One small untimed pass of every contender, so none is measured cold.
    progress('warming up');
    await drainBacklog(Math.min(workload.backlog, 5000), 1);
    await latencyAtRate(Math.min(...workload.rates), { ...workload, warmupMs: 200, measureMs: 300 }, 1);

    const scenarios: ScenarioResult[] = [];
    const notes: string[] = [];
    const drained = await drainBacklog(workload.backlog, options.rounds);
    scenarios.push(...drainRows(drained, workload.backlog));
    notes.push(...drainNotes(drained));
    const parked = await drainWithParking(workload.backlog, options.rounds);
    scenarios.push(...parkingRows(parked, workload.backlog));
    for (const rate of workload.rates) {
      const runs = await latencyAtRate(rate, workload, options.rounds);
      scenarios.push(...latencyRows(rate, runs));
      notes.push(...latencyNotes(rate, runs));
    }
    return {
      scenarios,
      notes,
      parameters: {
        backlog: workload.backlog,
        dataBytes: DATA_BYTES,
        keys: KEYS,
        partitions: PARTITIONS,
        inFlight: IN_FLIGHT,
        rates: workload.rates,
        warmupMs: workload.warmupMs,
        measureMs: workload.measureMs,
        router: `${ROUTER_STACK}; maxInFlight ${IN_FLIGHT}, commits every ${COMMIT_INTERVAL_MS} ms`,
        raw: `batches of at most ${IN_FLIGHT}, each handled at once; commits every ${COMMIT_INTERVAL_MS} ms`,
        handler: `JSON.parse the payload, then (router, raw) one transaction: tx.put('${COLLECTION}', key, …)`,
        synchronous: 'full (the default), on every side',
      },
    };
  },
};

export default benchmark;
