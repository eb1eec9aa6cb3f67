// `npm run bench -- backends`: the same scenarios on the embedded log, Kafka and NATS on this
// machine (batched appends, consumer-group consumption with commits, end-to-end latency at a
// constant offered rate), and Herald's Kafka adapter against raw @platformatic/kafka on the
// same broker. What each scenario measures and why is written up in docs/benchmarks.md.
import type { CloudEvent, EventLog, Subscription } from '@herald/core';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageToProduce } from '@platformatic/kafka';
import { alternateRounds } from './lib/alternate-rounds.ts';
import type { BenchOptions, BenchReport, Benchmark, ScenarioResult } from './lib/benchmark.ts';
import { formatNumber, median, perSecond, percentile } from './lib/stats.ts';
import {
  BATCH_SIZE,
  type BackendsWorkload,
  ConsumedPositions,
  DATA_BYTES,
  FULL_WORKLOAD,
  LATENCY_COMMIT_INTERVAL_MS,
  LatencyRecorder,
  PARTITIONS,
  QUICK_WORKLOAD,
  TOPIC,
  batchesOf,
  sampleEvents,
  sequenceOf,
} from './backends-workload.ts';
import {
  BACKEND_NAMES,
  BENCH_NATS_SERVERS,
  type Backend,
  type BrokerAddresses,
  assertNatsAvailable,
  openBenchLog,
} from './bench-log.ts';
import { ensureKafkaBroker } from './kafka-broker.ts';
import { RawKafkaClient, SHARED_SETTINGS } from './raw-kafka-client.ts';

/** The topic the raw client writes next to Herald's, created the same way. */
const RAW_TOPIC = `${TOPIC}.raw`;
/** The topic the raw client writes with records it builds as it sends. */
const BUILT_TOPIC = `${TOPIC}.built`;
const CONSUME_GROUP = 'bench.consume';
const LATENCY_GROUP = 'bench.latency';
/** The id of the untimed event each latency run appends before its schedule starts. */
const PRIMER_ID = 'bench-primer';
const RAW_GROUP = 'bench.raw';
const BUILT_GROUP = 'bench.built';
/** The Herald-vs-raw target: Herald's Kafka adapter at most 15% slower than the raw client. */
const KAFKA_TARGET = 0.85;
/**
 * More appends than this in flight (five seconds' worth) means the backend is not keeping up
 * with the offered rate at all: the run stops instead of measuring an ever-growing queue.
 * Anything below it is measured, a backlog included, from each event's due time.
 */
const maxInFlight = (rate: number): number => Math.max(1000, rate * 5);
/** How long a consumer may take to receive what it was given before the run is declared broken. */
const DEADLINE_MS = 120_000;

function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

// ---- shared steps ----

/**
 * Appends `batches` with `appendBatch`, awaiting each. The first batch is untimed: it opens the
 * connections, loads the metadata and (Kafka) registers the idempotent producer, which every
 * real producer has done long before its steady state. Returns events/s over the others.
 */
async function appendBatches(log: EventLog, topic: string, batches: readonly CloudEvent[][]) {
  const [first, ...timed] = batches;
  if (first === undefined || timed.length === 0) throw new Error('appendBatches needs at least two batches');
  await log.appendBatch(topic, first);
  const started = performance.now();
  for (const batch of timed) await log.appendBatch(topic, batch);
  const elapsed = performance.now() - started;
  return perSecond(
    timed.reduce((sum, batch) => sum + batch.length, 0),
    elapsed,
  );
}

/**
 * One new consumer-group member reading `topic` from the earliest offset through `batches()`
 * until `total` events arrived, committing every partition's position every BATCH_SIZE events
 * and at the end. Joining is untimed; returns events/s from then to the last commit. Fails if
 * an offset was skipped or delivered twice. Also returns the process's CPU time (all threads,
 * the garbage collector's included) per event over the same span, in µs.
 */
async function consumeAll(
  log: EventLog,
  group: string,
  topic: string,
  total: number,
): Promise<{ readonly rate: number; readonly cpuUs: number }> {
  const subscription = await log.subscribe({
    group,
    topics: [topic],
    startAt: 'earliest',
    maxBufferedEvents: BATCH_SIZE,
  });
  try {
    const positions = new ConsumedPositions();
    const cpu = process.cpuUsage();
    const started = performance.now();
    for await (const batch of subscription.batches()) {
      positions.consumedAll(batch);
      if (positions.sinceCommit >= BATCH_SIZE || positions.seen >= total) {
        await subscription.commit(positions.toCommit(topic));
      }
      if (positions.seen >= total) break;
    }
    const elapsed = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (positions.seen !== total || positions.total !== total) {
      throw new Error(`${group} read ${positions.seen} events (${positions.total} offsets) of ${total}`);
    }
    return { rate: perSecond(total, elapsed), cpuUs: (used.user + used.system) / total };
  } finally {
    await subscription.close();
  }
}

/** Fails unless `group` committed everything `topic` holds: the consumer did the work it was timed on. */
async function assertCommittedAll(log: EventLog, group: string, topic: string): Promise<void> {
  const described = await log.describeGroup(group);
  const mine = described.partitions.filter((p) => p.topic === topic);
  const lag = mine.reduce((sum, p) => sum + p.lag, 0);
  if (mine.length !== PARTITIONS || lag !== 0) {
    throw new Error(`group ${group}: ${mine.length} partitions described, ${lag} events left uncommitted`);
  }
}

// ---- scenarios 1 and 2: batched appends, then consuming them, on each backend ----

interface Throughput {
  readonly append: number;
  readonly consume: number;
  /** CPU time of the whole process per event consumed, µs. */
  readonly consumeCpu: number;
}

/** Appends the batches to a fresh topic on `backend` (scenario 1), then consumes them (scenario 2). */
async function throughput(backend: Backend, batches: CloudEvent[][], brokers: BrokerAddresses) {
  await using bench = await openBenchLog(backend, brokers);
  const append = await appendBatches(bench.log, TOPIC, batches);
  const total = batches.reduce((sum, batch) => sum + batch.length, 0);
  const consumed = await consumeAll(bench.log, CONSUME_GROUP, TOPIC, total);
  await assertCommittedAll(bench.log, CONSUME_GROUP, TOPIC);
  return { append, consume: consumed.rate, consumeCpu: consumed.cpuUs };
}

type PerBackend<T> = { [B in Backend]: T[] };

async function backendThroughput(events: readonly CloudEvent[], rounds: number, brokers: BrokerAddresses) {
  const batches = batchesOf(events);
  const runs: PerBackend<Throughput> = { embedded: [], kafka: [], nats: [] };
  const measure = async (backend: Backend) => {
    const run = await throughput(backend, batches, brokers);
    runs[backend].push(run);
    return run.append;
  };
  await alternateRounds({
    rounds,
    setup: () => Promise.resolve(undefined),
    contenders: {
      embedded: () => measure('embedded'),
      kafka: () => measure('kafka'),
      nats: () => measure('nats'),
    },
    onMeasured: (backend, round) => {
      const run = runs[backend][round]!;
      progress(
        `throughput round ${round + 1}/${rounds}: ${BACKEND_NAMES[backend]} append ` +
          `${formatNumber(run.append)} events/s, consume ${formatNumber(run.consume)} events/s`,
      );
    },
  });
  return runs;
}

// ---- scenario 3: end-to-end latency at a constant offered rate ----

interface LatencyRun {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** How late the publisher was against its schedule, p99 (ms): large means the rate was not held. */
  readonly publisherLagP99: number;
  /** The most appends unacknowledged at once: near 1 when appends keep up easily, large when they queue. */
  readonly peakInFlight: number;
  /** Events delivered twice (at-least-once after a hiccup); zero in a clean run. */
  readonly duplicates: number;
}

/**
 * The open-loop publisher: event i is due at `begin + i / rate` and is appended (a single
 * `append`, not awaited before the next) as soon as it is due, whether or not earlier appends
 * were acknowledged; a timer that fires late catches up at once. Bounded: more than
 * `maxInFlight(rate)` unacknowledged appends fails the run. Returns how late each event was
 * sent against its schedule and the most appends that were unacknowledged at once.
 */
async function publishAtRate(
  log: EventLog,
  events: readonly CloudEvent[],
  rate: number,
  recorder: LatencyRecorder,
): Promise<{ readonly lateness: Float64Array; readonly peakInFlight: number }> {
  const total = recorder.expected;
  const interval = 1000 / rate;
  const lateness = new Float64Array(total);
  const bound = maxInFlight(rate);
  const appends: Promise<unknown>[] = [];
  let inFlight = 0;
  let peakInFlight = 0;
  let failure: { error: unknown } | undefined;
  const begin = performance.now();
  let sent = 0;
  while (sent < total && failure === undefined) {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - begin) / interval) + 1);
    for (; sent < due && failure === undefined; sent++) {
      const at = begin + sent * interval;
      recorder.due(sent, at);
      lateness[sent] = now - at;
      peakInFlight = Math.max(peakInFlight, ++inFlight);
      if (inFlight > bound) {
        failure = {
          error: new Error(
            `more than ${bound} appends in flight: the backend does not keep up with ${rate}/s`,
          ),
        };
        break;
      }
      appends.push(
        log.append(TOPIC, events[sent]!).then(
          () => inFlight--,
          (error: unknown) => {
            failure ??= { error };
          },
        ),
      );
    }
    if (sent < total) await sleep(Math.max(0, begin + sent * interval - performance.now()));
  }
  await Promise.all(appends);
  if (failure !== undefined) throw failure.error;
  return { lateness, peakInFlight };
}

/**
 * The consumer of the latency scenario: one group member receiving through `batches()`, noting
 * each event's arrival, committing at most every LATENCY_COMMIT_INTERVAL_MS (as the router does)
 * and once more at the end.
 */
async function receive(subscription: Subscription, recorder: LatencyRecorder): Promise<void> {
  const next = new Map<number, number>();
  let committedAt = performance.now();
  const commit = async () => {
    await subscription.commit([...next].map(([partition, offset]) => ({ topic: TOPIC, partition, offset })));
    committedAt = performance.now();
  };
  for await (const batch of subscription.batches()) {
    const at = performance.now();
    for (const event of batch) {
      if (event.id !== PRIMER_ID) recorder.receivedOne(sequenceOf(event.id), at);
      next.set(event.partition, event.offset + 1);
    }
    if (recorder.complete || at - committedAt >= LATENCY_COMMIT_INTERVAL_MS) await commit();
    if (recorder.complete) return;
  }
}

async function latency(
  backend: Backend,
  events: readonly CloudEvent[],
  workload: BackendsWorkload,
  brokers: BrokerAddresses,
): Promise<LatencyRun> {
  await using bench = await openBenchLog(backend, brokers);
  const warmup = Math.round((workload.rate * workload.warmupMs) / 1000);
  const total = warmup + Math.round((workload.rate * workload.measureMs) / 1000);
  const recorder = new LatencyRecorder(total);
  // One untimed append first, as in the throughput scenarios: it opens the connections and
  // (Kafka) registers the idempotent producer, which would otherwise delay the first events.
  await bench.log.append(TOPIC, { ...events[0]!, id: PRIMER_ID });
  const subscription = await bench.log.subscribe({
    group: LATENCY_GROUP,
    topics: [TOPIC],
    startAt: 'earliest',
    maxBufferedEvents: BATCH_SIZE,
  });
  let published: { readonly lateness: Float64Array; readonly peakInFlight: number };
  try {
    const receiving = receive(subscription, recorder).then(() => {
      if (!recorder.complete) throw new Error(`the consumer stopped after ${recorder.received} events`);
    });
    receiving.catch(() => undefined);
    published = await publishAtRate(bench.log, events, workload.rate, recorder);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`only ${recorder.received} of ${total} events received after ${DEADLINE_MS} ms`)),
        DEADLINE_MS,
      );
    });
    try {
      await Promise.race([receiving, deadline]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await subscription.close();
  }
  await assertCommittedAll(bench.log, LATENCY_GROUP, TOPIC);
  const measured = recorder.latenciesFrom(warmup);
  return {
    p50: percentile(measured, 0.5),
    p99: percentile(measured, 0.99),
    max: percentile(measured, 1),
    publisherLagP99: percentile(published.lateness.subarray(warmup), 0.99),
    peakInFlight: published.peakInFlight,
    duplicates: recorder.duplicates,
  };
}

async function backendLatency(
  events: readonly CloudEvent[],
  workload: BackendsWorkload,
  rounds: number,
  brokers: BrokerAddresses,
) {
  const runs: PerBackend<LatencyRun> = { embedded: [], kafka: [], nats: [] };
  const measure = async (backend: Backend) => {
    const run = await latency(backend, events, workload, brokers);
    runs[backend].push(run);
    return run.p50;
  };
  await alternateRounds({
    rounds,
    setup: () => Promise.resolve(undefined),
    contenders: {
      embedded: () => measure('embedded'),
      kafka: () => measure('kafka'),
      nats: () => measure('nats'),
    },
    onMeasured: (backend, round) => {
      const run = runs[backend][round]!;
      progress(
        `latency ${workload.rate}/s round ${round + 1}/${rounds}: ${BACKEND_NAMES[backend]} ` +
          `p50 ${formatNumber(run.p50)} ms, p99 ${formatNumber(run.p99)} ms, max ${formatNumber(run.max)} ms, ` +
          `at most ${run.peakInFlight} appends in flight`,
      );
    },
  });
  return runs;
}

// ---- scenario 4: Herald's Kafka adapter against raw @platformatic/kafka ----

/** One round's clients: a Herald Kafka log in a fresh namespace, with its topic and the raw client's two. */
interface KafkaRound extends AsyncDisposable {
  readonly log: EventLog;
  readonly namespace: string;
  readonly raw: RawKafkaClient;
}

async function openKafkaRound(brokers: BrokerAddresses): Promise<KafkaRound> {
  const bench = await openBenchLog('kafka', brokers);
  try {
    for (const topic of [RAW_TOPIC, BUILT_TOPIC])
      await bench.log.createTopic(topic, { partitions: PARTITIONS });
  } catch (error) {
    await bench[Symbol.asyncDispose]();
    throw error;
  }
  const raw = new RawKafkaClient(brokers.kafka, `herald-bench-raw-${process.pid}`);
  return {
    log: bench.log,
    namespace: bench.namespace,
    raw,
    [Symbol.asyncDispose]: async () => {
      await raw[Symbol.asyncDispose]();
      await bench[Symbol.asyncDispose]();
    },
  };
}

async function heraldKafka(round: KafkaRound, batches: CloudEvent[][]): Promise<Throughput> {
  const append = await appendBatches(round.log, TOPIC, batches);
  const total = batches.reduce((sum, batch) => sum + batch.length, 0);
  const consumed = await consumeAll(round.log, CONSUME_GROUP, TOPIC, total);
  await assertCommittedAll(round.log, CONSUME_GROUP, TOPIC);
  return { append, consume: consumed.rate, consumeCpu: consumed.cpuUs };
}

/** Sends every batch with the raw producer (the first untimed, as on Herald's side); events/s. */
async function rawProduce(
  round: KafkaRound,
  batches: readonly CloudEvent[][],
  toMessages: (batch: readonly CloudEvent[]) => MessageToProduce[],
): Promise<number> {
  const [first, ...timed] = batches;
  if (first === undefined || timed.length === 0) throw new Error('rawProduce needs at least two batches');
  await round.raw.produce(toMessages(first));
  const started = performance.now();
  for (const batch of timed) await round.raw.produce(toMessages(batch));
  const elapsed = performance.now() - started;
  return perSecond(
    timed.reduce((sum, batch) => sum + batch.length, 0),
    elapsed,
  );
}

/**
 * The strict baseline: the same records Herald writes, prepared before timing (as the log
 * benchmark prepares its raw rows), so the client is measured alone; then a raw group
 * consumer reading them back.
 */
async function rawKafka(round: KafkaRound, batches: CloudEvent[][]): Promise<Throughput> {
  const wireTopic = round.namespace + RAW_TOPIC;
  const prepared = new Map<readonly CloudEvent[], MessageToProduce[]>(
    batches.map((batch) => [batch, RawKafkaClient.messagesOf(batch, wireTopic)]),
  );
  const append = await rawProduce(round, batches, (batch) => prepared.get(batch)!);
  const total = batches.reduce((sum, batch) => sum + batch.length, 0);
  const consumed = await round.raw.consumeAll(round.namespace + RAW_GROUP, wireTopic, total, 'bytes');
  await assertCommittedAll(round.log, RAW_GROUP, RAW_TOPIC);
  return { append, consume: perSecond(total, consumed.elapsedMs), consumeCpu: consumed.cpuMicros / total };
}

/**
 * The application's baseline: the raw producer, with the records built from the events as they
 * are sent; then a raw group consumer turning each record's headers into text as it reads them.
 */
async function builtKafka(round: KafkaRound, batches: CloudEvent[][]): Promise<Throughput> {
  const wireTopic = round.namespace + BUILT_TOPIC;
  const append = await rawProduce(round, batches, (batch) => RawKafkaClient.buildMessages(batch, wireTopic));
  const total = batches.reduce((sum, batch) => sum + batch.length, 0);
  const consumed = await round.raw.consumeAll(round.namespace + BUILT_GROUP, wireTopic, total, 'attributes');
  await assertCommittedAll(round.log, BUILT_GROUP, BUILT_TOPIC);
  return { append, consume: perSecond(total, consumed.elapsedMs), consumeCpu: consumed.cpuMicros / total };
}

interface KafkaRuns {
  readonly herald: Throughput[];
  /** The raw client alone: records prepared before timing, delivered as bytes. */
  readonly raw: Throughput[];
  /** A raw application: records built as sent, headers read as text. */
  readonly built: Throughput[];
}

async function heraldVersusRaw(events: readonly CloudEvent[], rounds: number, brokers: BrokerAddresses) {
  const batches = batchesOf(events);
  const runs: KafkaRuns = { herald: [], raw: [], built: [] };
  await alternateRounds({
    rounds,
    setup: () => openKafkaRound(brokers),
    contenders: {
      herald: async (round) => {
        const run = await heraldKafka(round, batches);
        runs.herald.push(run);
        return run.append;
      },
      raw: async (round) => {
        const run = await rawKafka(round, batches);
        runs.raw.push(run);
        return run.append;
      },
      built: async (round) => {
        const run = await builtKafka(round, batches);
        runs.built.push(run);
        return run.append;
      },
    },
    teardown: async (round) => {
      await round[Symbol.asyncDispose]();
    },
    onMeasured: (side, round) => {
      const run = runs[side][round]!;
      progress(
        `Kafka ${side} round ${round + 1}/${rounds}: append ${formatNumber(run.append)} events/s, ` +
          `consume ${formatNumber(run.consume)} events/s`,
      );
    },
  });
  return runs;
}

/**
 * The raw baselines are only baselines if they write what Herald writes: a few batches all
 * three ways, then every partition of the three topics read back through Herald and compared,
 * event by event (partition, offset, every attribute, the data), all but the broker's timestamps.
 */
async function assertSameRecords(events: readonly CloudEvent[], brokers: BrokerAddresses): Promise<void> {
  await using round = await openKafkaRound(brokers);
  const batches = batchesOf(events);
  for (const batch of batches) await round.log.appendBatch(TOPIC, batch);
  for (const batch of batches) {
    await round.raw.produce(RawKafkaClient.messagesOf(batch, round.namespace + RAW_TOPIC));
    await round.raw.produce(RawKafkaClient.buildMessages(batch, round.namespace + BUILT_TOPIC));
  }
  const dump = async (topic: string): Promise<string[]> => {
    const rows: string[] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const read = await round.log.read(topic, { partition, from: 'earliest', limit: events.length });
      for (const { timestamp: _timestamp, topic: _topic, data, ...rest } of read) {
        rows.push(
          JSON.stringify({ ...rest, data: data === undefined ? null : Buffer.from(data).toString('hex') }),
        );
      }
    }
    return rows;
  };
  const herald = await dump(TOPIC);
  for (const topic of [RAW_TOPIC, BUILT_TOPIC]) {
    const raw = await dump(topic);
    if (herald.length !== events.length || raw.length !== events.length) {
      throw new Error(
        `expected ${events.length} records in ${TOPIC} and ${topic}; found ${herald.length} and ${raw.length}`,
      );
    }
    const differs = herald.findIndex((row, i) => row !== raw[i]);
    if (differs !== -1) {
      throw new Error(
        `${topic} does not hold what Herald writes (record ${differs}):\n  herald: ${herald[differs]}\n  raw:    ${raw[differs]}`,
      );
    }
  }
}

// ---- rows and notes ----

const OTHERS = ['kafka', 'nats'] as const;

function throughputRows(runs: PerBackend<Throughput>, total: number): ScenarioResult[] {
  const rows: ScenarioResult[] = [];
  for (const field of ['append', 'consume'] as const) {
    for (const backend of OTHERS) {
      rows.push({
        scenario:
          field === 'append'
            ? `appendBatch ×${BATCH_SIZE}, ${formatNumber(total)} events: ${BACKEND_NAMES[backend]} vs embedded`
            : `consume, commit per ${BATCH_SIZE}: ${BACKEND_NAMES[backend]} vs embedded`,
        unit: 'events/s',
        better: 'higher',
        herald: runs[backend].map((run) => run[field]),
        baseline: runs.embedded.map((run) => run[field]),
        baselineName: 'the embedded log (@herald/sqlite, synchronous FULL), same events, same batches',
      });
    }
  }
  return rows;
}

function latencyRows(runs: PerBackend<LatencyRun>, rate: number): ScenarioResult[] {
  const rows: ScenarioResult[] = [];
  for (const backend of OTHERS) {
    for (const field of ['p50', 'p99', 'max'] as const) {
      rows.push({
        scenario: `append→consumed ${field} at ${rate}/s: ${BACKEND_NAMES[backend]} vs embedded`,
        unit: 'ms',
        better: 'lower',
        herald: runs[backend].map((run) => run[field]),
        baseline: runs.embedded.map((run) => run[field]),
        baselineName: 'the embedded log (@herald/sqlite, synchronous FULL), same flow, same rate',
      });
    }
  }
  return rows;
}

function kafkaRows(runs: KafkaRuns): ScenarioResult[] {
  const common = { unit: 'events/s', better: 'higher', target: { ratio: KAFKA_TARGET } } as const;
  const appends = runs.herald.map((run) => run.append);
  const consumes = runs.herald.map((run) => run.consume);
  const client = `raw @platformatic/kafka`;
  const sends = `${BATCH_SIZE} per send, idempotent, acks=all`;
  return [
    {
      scenario: `Kafka appendBatch ×${BATCH_SIZE}: Herald vs raw client, records prepared`,
      herald: appends,
      baseline: runs.raw.map((run) => run.append),
      baselineName: `${client} Producer.send of the same records prepared before timing, ${sends}`,
      ...common,
    },
    {
      scenario: `Kafka appendBatch ×${BATCH_SIZE}: Herald vs raw app, records built as sent`,
      herald: appends,
      baseline: runs.built.map((run) => run.append),
      baselineName: `${client} Producer.send of the same records built from the events as they are sent (no validation), ${sends}`,
      ...common,
    },
    {
      scenario: `Kafka consume, commit per ${BATCH_SIZE}: Herald vs raw client, bytes`,
      herald: consumes,
      baseline: runs.raw.map((run) => run.consume),
      baselineName: `${client} Consumer stream delivering the records as bytes, manual commit per ${BATCH_SIZE}`,
      ...common,
    },
    {
      scenario: `Kafka consume, commit per ${BATCH_SIZE}: Herald vs raw app, headers as text`,
      herald: consumes,
      baseline: runs.built.map((run) => run.consume),
      baselineName: `${client} Consumer stream, every header and the key turned into text (no validation), manual commit per ${BATCH_SIZE}`,
      ...common,
    },
    {
      scenario: `Kafka consume, CPU µs per event: Herald vs raw client, bytes`,
      unit: 'µs/event',
      better: 'lower',
      target: { ratio: 1 / KAFKA_TARGET },
      herald: runs.herald.map((run) => run.consumeCpu),
      baseline: runs.raw.map((run) => run.consumeCpu),
      baselineName: `the same raw consumer as above: process CPU time (user + system, all threads) over the timed span, per event`,
    },
    {
      scenario: `Kafka consume, CPU µs per event: Herald vs raw app, headers as text`,
      unit: 'µs/event',
      better: 'lower',
      target: { ratio: 1 / KAFKA_TARGET },
      herald: runs.herald.map((run) => run.consumeCpu),
      baseline: runs.built.map((run) => run.consumeCpu),
      baselineName: `the same raw application consumer as above: process CPU time over the timed span, per event`,
    },
  ];
}

function backendNotes(
  throughputRuns: PerBackend<Throughput>,
  latencyRuns: PerBackend<LatencyRun>,
  rate: number,
) {
  const med = (values: readonly number[]) => formatNumber(median(values));
  const notes: string[] = [];
  for (const backend of ['embedded', ...OTHERS] as const) {
    const t = throughputRuns[backend];
    const l = latencyRuns[backend];
    notes.push(
      `${BACKEND_NAMES[backend].padEnd(8)}: append ${med(t.map((run) => run.append))} events/s, ` +
        `consume ${med(t.map((run) => run.consume))} events/s; at ${rate}/s append→consumed ` +
        `p50 ${med(l.map((run) => run.p50))} ms, p99 ${med(l.map((run) => run.p99))} ms, ` +
        `max ${med(l.map((run) => run.max))} ms, at most ${Math.max(...l.map((run) => run.peakInFlight))} ` +
        `appends in flight (medians of ${t.length} rounds)`,
    );
  }
  const lag = Math.max(
    ...Object.values(latencyRuns).flatMap((list) => list.map((run) => run.publisherLagP99)),
  );
  const duplicates = Object.values(latencyRuns)
    .flat()
    .reduce((sum, run) => sum + run.duplicates, 0);
  notes.push(
    `publisher lateness p99 ≤ ${formatNumber(lag)} ms in every latency run; ${duplicates} events delivered twice`,
  );
  return notes;
}

function kafkaNotes(runs: KafkaRuns): string[] {
  const overhead = (field: 'append' | 'consume', baseline: readonly Throughput[]) => {
    const ratio = median(runs.herald.map((run, round) => run[field] / baseline[round]![field]));
    return `${formatNumber((1 - ratio) * 100)}%`;
  };
  return [
    `Herald's Kafka adapter overhead (1 − herald/raw, median of per-round ratios; target ≤ 15%): ` +
      `against the raw client append ${overhead('append', runs.raw)}, consume ${overhead('consume', runs.raw)}; ` +
      `against the raw app append ${overhead('append', runs.built)}, consume ${overhead('consume', runs.built)}`,
  ];
}

const benchmark: Benchmark = {
  async run(options: BenchOptions): Promise<BenchReport> {
    const workload = options.quick ? QUICK_WORKLOAD : FULL_WORKLOAD;
    await assertNatsAvailable(BENCH_NATS_SERVERS);
    await using kafka = await ensureKafkaBroker();
    const brokers: BrokerAddresses = { kafka: kafka.brokers, nats: BENCH_NATS_SERVERS };
    const latencyEvents = Math.round((workload.rate * (workload.warmupMs + workload.measureMs)) / 1000);
    // Every scenario's events come from one list; the first batch of each append run is untimed.
    const all = sampleEvents(Math.max(workload.events, workload.kafkaEvents, latencyEvents) + BATCH_SIZE);
    const backendEvents = all.slice(0, workload.events + BATCH_SIZE);
    const kafkaEvents = all.slice(0, workload.kafkaEvents + BATCH_SIZE);

    progress('checking that the raw Kafka baseline writes the same records as Herald');
    await assertSameRecords(all.slice(0, 2 * BATCH_SIZE + 7), brokers);
    // One small untimed pass of every contender, so none is measured cold.
    progress('warming up');
    const warm = all.slice(0, 3 * BATCH_SIZE);
    await backendThroughput(warm, 1, brokers);
    // Long enough at the full rate for a freshly started broker's JIT to settle.
    const warmLatency = options.quick
      ? { warmupMs: 200, measureMs: 300 }
      : { warmupMs: 500, measureMs: 2500 };
    await backendLatency(all, { ...workload, ...warmLatency }, 1, brokers);
    await heraldVersusRaw(warm, 1, brokers);

    const throughputRuns = await backendThroughput(backendEvents, options.rounds, brokers);
    const latencyRuns = await backendLatency(all, workload, options.rounds, brokers);
    const kafkaRuns = await heraldVersusRaw(kafkaEvents, options.rounds, brokers);
    return {
      scenarios: [
        ...throughputRows(throughputRuns, workload.events),
        ...latencyRows(latencyRuns, workload.rate),
        ...kafkaRows(kafkaRuns),
      ],
      notes: [...backendNotes(throughputRuns, latencyRuns, workload.rate), ...kafkaNotes(kafkaRuns)],
      parameters: {
        events: workload.events,
        kafkaEvents: workload.kafkaEvents,
        dataBytes: DATA_BYTES,
        batchSize: BATCH_SIZE,
        partitions: PARTITIONS,
        untimedFirstBatch: BATCH_SIZE,
        rate: workload.rate,
        warmupMs: workload.warmupMs,
        measureMs: workload.measureMs,
        latencyCommitIntervalMs: LATENCY_COMMIT_INTERVAL_MS,
        kafka: `${kafka.brokers.join(',')} (single-node KRaft${kafka.started ? ', started by the benchmark' : ''})`,
        nats: BENCH_NATS_SERVERS.join(','),
        durability:
          'embedded: synchronous FULL (fsync per commit); Kafka: idempotent producer, acks=all, one broker ' +
          '(no fsync per append); NATS: file storage (JetStream syncs lazily) — each backend’s default',
        kafkaClientSettings: SHARED_SETTINGS,
      },
    };
  },
};

export default benchmark;
