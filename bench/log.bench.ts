// `npm run bench -- log`: the embedded log (`@herald/sqlite`) against raw node:sqlite writing
// and reading the same table with the same pragmas, side by side, in alternating rounds.
// What each scenario measures and why is written up in docs/benchmarks.md.
import type { CloudEvent } from '@herald/core';
import { openSqliteLog } from '@herald/sqlite';
import { DatabaseSync } from 'node:sqlite';
import { alternateRounds } from './lib/alternate-rounds.ts';
import { benchDir } from './lib/bench-dir.ts';
import type { BenchOptions, BenchReport, Benchmark, ScenarioResult } from './lib/benchmark.ts';
import { formatNumber, perSecond } from './lib/stats.ts';
import {
  BATCH_SIZE,
  DATA_BYTES,
  FULL_WORKLOAD,
  PRODUCERS,
  QUICK_WORKLOAD,
  TOPIC,
  batchesOf,
  sampleEvents,
} from './log-workload.ts';
import { RawSqliteLog, rawRowOf } from './raw-sqlite-log.ts';
import type { RawRow } from './raw-sqlite-log.ts';

type Synchronous = 'full' | 'normal';

/** The same events twice over: as CloudEvents for the log, as precomputed rows for raw SQLite. */
interface Input {
  readonly events: readonly CloudEvent[];
  readonly rows: readonly RawRow[];
}

function inputOf(events: readonly CloudEvent[]): Input {
  return { events, rows: events.map(rawRowOf) };
}

function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

function onMeasured(scenario: string, unit: string, rounds: number) {
  return (name: string, round: number, value: number): void =>
    progress(`${scenario} round ${round + 1}/${rounds}: ${name} ${formatNumber(value)} ${unit}`);
}

async function openLog(path: string, synchronous: Synchronous) {
  const log = await openSqliteLog({ path, synchronous, retentionIntervalMs: 0 });
  await log.createTopic(TOPIC, { partitions: 1 });
  return log;
}

// Scenario 1: appendBatch in batches of BATCH_SIZE vs one raw transaction per batch.

async function heraldBatchedAppends(input: Input): Promise<number> {
  using dir = benchDir('append-herald');
  const log = await openLog(dir.file('log.db'), 'full');
  try {
    const batches = batchesOf(input.events);
    const started = performance.now();
    for (const batch of batches) await log.appendBatch(TOPIC, batch);
    return perSecond(input.events.length, performance.now() - started);
  } finally {
    await log.close();
  }
}

function rawBatchedInserts(input: Input): Promise<number> {
  using dir = benchDir('append-raw');
  const raw = new RawSqliteLog(dir.file('raw.db'), 'full');
  try {
    const batches = batchesOf(input.rows);
    const started = performance.now();
    for (const batch of batches) raw.insertBatch(batch);
    return Promise.resolve(perSecond(input.rows.length, performance.now() - started));
  } finally {
    raw.close();
  }
}

async function batchedAppends(input: Input, rounds: number): Promise<ScenarioResult> {
  const results = await alternateRounds({
    rounds,
    setup: () => Promise.resolve(undefined),
    contenders: { herald: () => heraldBatchedAppends(input), raw: () => rawBatchedInserts(input) },
    onMeasured: onMeasured('batched appends', 'events/s', rounds),
  });
  return {
    scenario: `appendBatch ×${BATCH_SIZE}, ${DATA_BYTES} B, FULL`,
    unit: 'events/s',
    better: 'higher',
    herald: results.herald,
    baseline: results.raw,
    baselineName: `raw node:sqlite INSERTs, ${BATCH_SIZE} per transaction`,
    target: { ratio: 0.6 },
  };
}

// Scenario 2: one consumer-group member reading everything, per event and per batch, vs raw
// SELECTs of the same file in chunks of the same size.

async function heraldConsume(path: string, total: number, mode: 'events' | 'batches'): Promise<number> {
  const log = await openSqliteLog({ path, synchronous: 'full', retentionIntervalMs: 0 });
  try {
    const subscription = await log.subscribe({
      group: `bench.consume-${mode}`,
      topics: [TOPIC],
      startAt: 'earliest',
      maxBufferedEvents: BATCH_SIZE,
    });
    let seen = 0;
    const started = performance.now();
    if (mode === 'events') {
      for await (const event of subscription) {
        seen++;
        if (seen % BATCH_SIZE === 0 || seen === total) await subscription.commit(event);
        if (seen === total) break;
      }
    } else {
      for await (const batch of subscription.batches()) {
        seen += batch.length;
        await subscription.commit(batch[batch.length - 1]!);
        if (seen >= total) break;
      }
    }
    const elapsed = performance.now() - started;
    await subscription.close();
    if (seen !== total) throw new Error(`consumed ${seen} events, expected ${total}`);
    return perSecond(total, elapsed);
  } finally {
    await log.close();
  }
}

function rawConsume(path: string, total: number): Promise<number> {
  const raw = new RawSqliteLog(path, 'full');
  try {
    let seen = 0;
    let from = 0;
    const started = performance.now();
    while (true) {
      const chunk = raw.read(from, BATCH_SIZE);
      if (chunk.count === 0) break;
      seen += chunk.count;
      from = chunk.next;
    }
    const elapsed = performance.now() - started;
    if (seen !== total) throw new Error(`read ${seen} rows, expected ${total}`);
    return Promise.resolve(perSecond(total, elapsed));
  } finally {
    raw.close();
  }
}

async function consume(input: Input, rounds: number): Promise<ScenarioResult[]> {
  const total = input.events.length;
  const results = await alternateRounds({
    rounds,
    // Each round fills a fresh file through the log (untimed); the three readers share it,
    // each consumer with its own group so each reads everything.
    setup: async () => {
      const dir = benchDir('consume');
      try {
        const log = await openLog(dir.file('log.db'), 'full');
        try {
          for (const batch of batchesOf(input.events)) await log.appendBatch(TOPIC, batch);
        } finally {
          await log.close();
        }
        return dir;
      } catch (error) {
        dir[Symbol.dispose]();
        throw error;
      }
    },
    contenders: {
      events: (dir) => heraldConsume(dir.file('log.db'), total, 'events'),
      batches: (dir) => heraldConsume(dir.file('log.db'), total, 'batches'),
      raw: (dir) => rawConsume(dir.file('log.db'), total),
    },
    teardown: (dir) => Promise.resolve(dir[Symbol.dispose]()),
    onMeasured: onMeasured('consume', 'events/s', rounds),
  });
  const common = {
    unit: 'events/s',
    better: 'higher',
    baseline: results.raw,
    baselineName: `raw node:sqlite SELECTs, ${BATCH_SIZE} rows per query`,
    target: { ratio: 0.6 },
  } as const;
  return [
    { scenario: `consume per event, commit per ${BATCH_SIZE}`, herald: results.events, ...common },
    { scenario: 'consume batches(), commit per batch', herald: results.batches, ...common },
  ];
}

// Scenario 3: concurrent producers doing single appends (the log folds them into shared
// transactions: group commit) vs one raw transaction, hence one fsync, per event.

async function heraldSingleAppends(input: Input, synchronous: Synchronous): Promise<number> {
  using dir = benchDir('single-herald');
  const log = await openLog(dir.file('log.db'), synchronous);
  try {
    const perProducer = Math.floor(input.events.length / PRODUCERS);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: PRODUCERS }, async (_, producer) => {
        for (let i = producer * perProducer; i < (producer + 1) * perProducer; i++) {
          await log.append(TOPIC, input.events[i]!);
        }
      }),
    );
    return perSecond(perProducer * PRODUCERS, performance.now() - started);
  } finally {
    await log.close();
  }
}

// node:sqlite is synchronous, so concurrent loops would run these inserts one after another
// anyway; a plain loop measures the same thing without pretending otherwise.
function rawSingleInserts(input: Input, synchronous: Synchronous): Promise<number> {
  using dir = benchDir('single-raw');
  const raw = new RawSqliteLog(dir.file('raw.db'), synchronous);
  try {
    const count = Math.floor(input.rows.length / PRODUCERS) * PRODUCERS;
    const started = performance.now();
    for (let i = 0; i < count; i++) raw.insertOne(input.rows[i]!);
    return Promise.resolve(perSecond(count, performance.now() - started));
  } finally {
    raw.close();
  }
}

async function singleAppends(
  input: Input,
  rounds: number,
  synchronous: Synchronous,
): Promise<ScenarioResult> {
  const mode = synchronous.toUpperCase();
  const results = await alternateRounds({
    rounds,
    setup: () => Promise.resolve(undefined),
    contenders: {
      herald: () => heraldSingleAppends(input, synchronous),
      raw: () => rawSingleInserts(input, synchronous),
    },
    onMeasured: onMeasured(`single appends ${mode}`, 'events/s', rounds),
  });
  return {
    scenario: `append ×${PRODUCERS} producers, ${mode}`,
    unit: 'events/s',
    better: 'higher',
    herald: results.herald,
    baseline: results.raw,
    baselineName: `raw node:sqlite, one INSERT per transaction, ${mode}`,
    ...(synchronous === 'full' ? { target: { ratio: 3 } } : {}),
  };
}

// The baseline is only a baseline if it stores what the log stores: write a few batches both
// ways and compare every column but the append timestamp and the record checksum (the log's own
// integrity work, which covers the timestamp; the baseline leaves it NULL).

async function assertSameRows(input: Input): Promise<void> {
  using dir = benchDir('same-rows');
  const log = await openLog(dir.file('log.db'), 'full');
  try {
    for (const batch of batchesOf(input.events)) await log.appendBatch(TOPIC, batch);
  } finally {
    await log.close();
  }
  const raw = new RawSqliteLog(dir.file('raw.db'), 'full');
  try {
    for (const batch of batchesOf(input.rows)) raw.insertBatch(batch);
  } finally {
    raw.close();
  }
  // Every column but the append timestamp and the checksum, data as hex, in key order.
  const dump = (file: string): string[] => {
    const db = new DatabaseSync(dir.file(file), { readOnly: true });
    try {
      const rows = db.prepare('SELECT * FROM herald_events ORDER BY topic_id, partition, offset').all();
      return rows.map(({ timestamp: _timestamp, crc: _crc, data, ...columns }) =>
        JSON.stringify({
          ...columns,
          data: data instanceof Uint8Array ? Buffer.from(data).toString('hex') : data,
        }),
      );
    } finally {
      db.close();
    }
  };
  const logRows = dump('log.db');
  const rawRows = dump('raw.db');
  const count = input.events.length;
  if (logRows.length !== count || rawRows.length !== count) {
    throw new Error(
      `expected ${count} rows on both sides; the log stored ${logRows.length}, raw ${rawRows.length}`,
    );
  }
  const differs = logRows.findIndex((row, i) => row !== rawRows[i]);
  if (differs !== -1) {
    throw new Error(
      `the raw baseline does not store what the log stores (row ${differs}):\n  log: ${logRows[differs]}\n  raw: ${rawRows[differs]}`,
    );
  }
}

const benchmark: Benchmark = {
  async run(options: BenchOptions): Promise<BenchReport> {
    const workload = options.quick ? QUICK_WORKLOAD : FULL_WORKLOAD;
    const single = workload.appendsPerProducer * PRODUCERS;
    const all = sampleEvents(Math.max(workload.events, single));
    const batched = inputOf(all.slice(0, workload.events));
    const singles = inputOf(all.slice(0, single));

    progress('checking that the baseline stores the same rows as the log');
    await assertSameRows(inputOf(all.slice(0, 2 * BATCH_SIZE + 7)));
    // One small untimed pass of every contender, so neither side is measured while cold.
    progress('warming up');
    const warm = inputOf(all.slice(0, Math.min(all.length, 10 * BATCH_SIZE)));
    await batchedAppends(warm, 1);
    await consume(warm, 1);
    await singleAppends(inputOf(all.slice(0, PRODUCERS * 8)), 1, 'full');

    const scenarios: ScenarioResult[] = [];
    scenarios.push(await batchedAppends(batched, options.rounds));
    scenarios.push(...(await consume(batched, options.rounds)));
    scenarios.push(await singleAppends(singles, options.rounds, 'full'));
    scenarios.push(await singleAppends(singles, options.rounds, 'normal'));
    return {
      scenarios,
      parameters: {
        events: workload.events,
        dataBytes: DATA_BYTES,
        batchSize: BATCH_SIZE,
        partitions: 1,
        producers: PRODUCERS,
        appendsPerProducer: workload.appendsPerProducer,
        synchronous: 'full (scenarios 1-2 and the FULL row of 3), normal (the NORMAL row of 3)',
        pragmas: 'journal_mode=WAL, synchronous as stated, busy timeout 5000 ms, on both sides',
      },
    };
  },
};

export default benchmark;
