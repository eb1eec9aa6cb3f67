// `npm run bench -- timers`: what a durable timer costs over emitting the same event, on the
// embedded log with its store, side by side in alternating rounds. Two rows: scheduling (a
// transaction of BATCH `tx.schedule` calls vs one of BATCH `tx.emit` calls) and firing (rounds of
// `fireDueTimers` over timers already due, BATCH per transaction, vs emitting the same events in
// transactions of BATCH). A timer costs two document writes when scheduled and a delete, a read
// and a delete beside the emit when fired (docs/timers.md); the ratios say what that is worth.
import { type CloudEvent, type Store, type StoreTransaction, fireDueTimers } from '@herald/core';
import { alternateRounds } from './lib/alternate-rounds.ts';
import { benchDir } from './lib/bench-dir.ts';
import { openBenchStore } from './lib/bench-store.ts';
import type { BenchOptions, BenchReport, Benchmark, ScenarioResult } from './lib/benchmark.ts';
import { formatNumber, perSecond } from './lib/stats.ts';

const TOPIC = 'reminders';
const BATCH = 100;
const DATA_BYTES = 256;
const FULL_EVENTS = 20_000;
const QUICK_EVENTS = 2_000;
const PARTITIONS = 4;

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

/** Runs `measure` on a fresh log and store (one contender of one round), then deletes them. */
async function onFreshStore(label: string, measure: (store: Store) => Promise<number>): Promise<number> {
  using dir = benchDir(label);
  await using opened = await openBenchStore(dir.file('log.db'));
  await opened.log.createTopic(TOPIC, { partitions: PARTITIONS });
  return await measure(opened.store);
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

/** The baseline of both rows: the same events emitted, BATCH per transaction. */
function emitting(events: readonly CloudEvent[]): Promise<number> {
  return onFreshStore('timers-emit', (store) =>
    inTransactions(store, events, (tx, event) => tx.emit(TOPIC, event)),
  );
}

async function scheduling(events: readonly CloudEvent[], rounds: number): Promise<ScenarioResult> {
  const results = await alternateRounds({
    rounds,
    setup: async () => undefined,
    contenders: {
      herald: () =>
        onFreshStore('timers-schedule', (store) =>
          inTransactions(store, events, (tx, event) => tx.schedule(1_000, TOPIC, event)),
        ),
      baseline: () => emitting(events),
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
      herald: () =>
        onFreshStore('timers-fire', async (store) => {
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
        }),
      baseline: () => emitting(events),
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
        partitions: PARTITIONS,
      },
    };
  },
};

export default benchmark;
