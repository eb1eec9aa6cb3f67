// `npm run bench -- timers`: what a durable timer costs over emitting the same event, on the
// embedded log with its store, side by side in alternating rounds. Two rows: scheduling (a
// transaction of BATCH `tx.schedule` calls vs one of BATCH `tx.emit` calls) and firing (rounds of
// `fireDueTimers` over timers already due, BATCH per transaction, vs emitting the same events in
// transactions of BATCH). A timer costs two document writes when scheduled and a delete, a read
// and a delete beside the emit when fired (docs/timers.md); the ratios say what that is worth.
import { type CloudEvent, type Store, type StoreTransaction, fireDueTimers } from '@herald/core';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { alternateRounds } from './lib/alternate-rounds.ts';
import { benchDir } from './lib/bench-dir.ts';
import type { BenchOptions, BenchReport, Benchmark, ScenarioResult } from './lib/benchmark.ts';
import { formatNumber, perSecond } from './lib/stats.ts';

const TOPIC = 'reminders';
const BATCH = 100;
const DATA_BYTES = 256;
const FULL_EVENTS = 20_000;
const QUICK_EVENTS = 2_000;

const encoder = new TextEncoder();

function eventsOf(count: number): CloudEvent[] {
  const data = encoder.encode(JSON.stringify({ pad: 'x'.repeat(DATA_BYTES - 10) }));
  return Array.from({ length: count }, (_, i) => ({
    specversion: '1.0',
    id: `reminder-${i}`,
    source: '/bench/timers',
    type: 'dev.herald.bench.reminder.v1',
    partitionkey: `key-${i % 64}`,
    data,
  }));
}

function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

/** A fresh log and store for one contender of one round. */
async function open(label: string) {
  const dir = benchDir(label);
  const log = await openSqliteLog({ path: dir.file('log.db'), retentionIntervalMs: 0 });
  await log.createTopic(TOPIC, { partitions: 4 });
  const store = await openSqliteStore(log);
  return {
    store,
    close: async (): Promise<void> => {
      await log.close();
      dir[Symbol.dispose]();
    },
  };
}

/** Transactions of BATCH: `write` called for each event; events per second. */
async function inTransactions(
  store: Store,
  events: readonly CloudEvent[],
  write: (tx: StoreTransaction, event: CloudEvent) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < events.length; i += BATCH) {
    await store.transaction(async (tx) => {
      for (const event of events.slice(i, i + BATCH)) await write(tx, event);
    });
  }
  return perSecond(events.length, performance.now() - started);
}

async function scheduling(events: readonly CloudEvent[], rounds: number): Promise<ScenarioResult> {
  const results = await alternateRounds({
    rounds,
    setup: async () => undefined,
    contenders: {
      herald: async () => {
        const { store, close } = await open('timers-schedule');
        try {
          return await inTransactions(store, events, (tx, event) => tx.schedule(1_000, TOPIC, event));
        } finally {
          await close();
        }
      },
      baseline: async () => {
        const { store, close } = await open('timers-emit');
        try {
          return await inTransactions(store, events, (tx, event) => tx.emit(TOPIC, event));
        } finally {
          await close();
        }
      },
    },
    onMeasured: (name, round, value) =>
      progress(`scheduling round ${round + 1}/${rounds}: ${name} ${formatNumber(value)} events/s`),
  });
  return {
    scenario: `schedule, ${BATCH} per transaction`,
    unit: 'events/s',
    better: 'higher',
    herald: results.herald,
    baseline: results.baseline,
    baselineName: `tx.emit of the same events, ${BATCH} per transaction`,
  };
}

async function firing(events: readonly CloudEvent[], rounds: number): Promise<ScenarioResult> {
  const results = await alternateRounds({
    rounds,
    setup: async () => undefined,
    contenders: {
      herald: async () => {
        const { store, close } = await open('timers-fire');
        try {
          // Scheduled untimed, all due (at 1970 + 1 s); then fired, BATCH per transaction.
          await inTransactions(store, events, (tx, event) => tx.schedule(1_000, TOPIC, event));
          const started = performance.now();
          let fired = 0;
          for (;;) {
            const round = await fireDueTimers(store, { limit: BATCH });
            fired += round.fired;
            if (!round.more) break;
          }
          if (fired !== events.length) throw new Error(`fired ${fired} of ${events.length} timers`);
          return perSecond(fired, performance.now() - started);
        } finally {
          await close();
        }
      },
      baseline: async () => {
        const { store, close } = await open('timers-emit');
        try {
          return await inTransactions(store, events, (tx, event) => tx.emit(TOPIC, event));
        } finally {
          await close();
        }
      },
    },
    onMeasured: (name, round, value) =>
      progress(`firing round ${round + 1}/${rounds}: ${name} ${formatNumber(value)} events/s`),
  });
  return {
    scenario: `fire due timers, ${BATCH} per transaction`,
    unit: 'events/s',
    better: 'higher',
    herald: results.herald,
    baseline: results.baseline,
    baselineName: `tx.emit of the same events, ${BATCH} per transaction`,
  };
}

const benchmark: Benchmark = {
  async run(options: BenchOptions): Promise<BenchReport> {
    const events = eventsOf(options.quick ? QUICK_EVENTS : FULL_EVENTS);
    progress('warming up');
    await scheduling(eventsOf(500), 1);
    return {
      scenarios: [await scheduling(events, options.rounds), await firing(events, options.rounds)],
      parameters: {
        store: 'SqliteStore on the embedded log (synchronous=full)',
        events: events.length,
        perTransaction: BATCH,
        dataBytes: DATA_BYTES,
        partitions: 4,
      },
    };
  },
};

export default benchmark;
