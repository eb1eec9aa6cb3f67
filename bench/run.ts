// The benchmark dispatcher: `npm run bench -- <name> [--quick] [--rounds n] [--profile]`.
// It runs one benchmark, prints its table, and writes bench/results/<name>-<date>.json and
// bench/results/<name>-latest.json. A missed target is reported, never an exit failure:
// benchmarks measure, they do not gate (see /docs/benchmarks.md).
import type { Benchmark } from './lib/benchmark.ts';
import { formatTable } from './lib/format-table.ts';
import { machineFacts } from './lib/machine-facts.ts';
import { parseBenchArgs } from './lib/parse-bench-args.ts';
import { resultsFile, writeResults } from './lib/write-results.ts';

interface Registration {
  readonly about: string;
  /** Loaded only when chosen, so one benchmark's missing backend never breaks another. */
  readonly load: () => Promise<{ readonly default: Benchmark }>;
}

/** Adding a benchmark is one line here plus its `<name>.bench.ts`. */
const BENCHMARKS: Readonly<Record<string, Registration>> = {
  log: { about: 'embedded SQLite log vs raw node:sqlite', load: () => import('./log.bench.ts') },
  runtime: { about: 'Router + middleware vs raw consumption', load: () => import('./runtime.bench.ts') },
  backends: { about: 'embedded, Kafka, NATS; Kafka vs raw', load: () => import('./backends.bench.ts') },
  orders: { about: 'order system capacity: events vs REST vs raw', load: () => import('./orders.bench.ts') },
  timers: { about: 'durable timers: schedule and fire vs emit', load: () => import('./timers.bench.ts') },
};

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([name, { about }]) => `  ${name.padEnd(10)} ${about}`);
  return [
    'usage: npm run bench -- <name> [--quick] [--rounds n] [--profile]',
    '',
    'benchmarks:',
    ...names,
  ].join('\n');
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage()}`);
    return 2;
  }
  const registration = args.name === undefined ? undefined : BENCHMARKS[args.name];
  if (args.name === undefined || registration === undefined) {
    if (args.name !== undefined) console.error(`unknown benchmark "${args.name}"\n`);
    console.error(usage());
    return 2;
  }
  const machine = machineFacts();
  const mode = args.options.quick ? 'quick' : 'full';
  console.log(
    `${args.name}: ${mode}, ${args.options.rounds} rounds; ${machine.cpus} cpus, Node ${machine.node}, ` +
      `SQLite ${machine.sqlite}, files in ${machine.benchDir} (${machine.benchFilesystem})`,
  );
  if (machine.benchFilesystem === 'tmpfs') {
    console.warn('warning: the bench directory is on tmpfs, so fsync costs nothing; set HERALD_BENCH_DIR');
  }
  const started = new Date();
  const { default: benchmark } = await registration.load();
  const report = await benchmark.run(args.options);
  console.log(`\n${formatTable(report.scenarios)}\n`);
  if (report.notes !== undefined && report.notes.length > 0) console.log(`${report.notes.join('\n')}\n`);
  const written = writeResults(resultsFile(args.name, started, args.options, machine, report));
  console.log(`wrote ${written.dated}\n  and ${written.latest}`);
  return 0;
}

process.exitCode = await main();
