// `npm run lab -- [--short | --full] [--out <dir>] [--durability full|normal] [--keep-data]`: the
// resilience lab. Starts
// the event-driven order system and the REST baseline on this machine, runs every scenario
// against both, searches each one's sustained rate, and writes results.json, report.html and
// svg/*.svg into the output folder (default `.herald/lab/<mode>-<time>`). --short takes about a
// minute (for CI), --full (the default) several minutes. Exit code 0 when the lab ran, whatever
// it measured: targets are reported, not enforced; 1 when it could not run; 130/143 when
// SIGINT/SIGTERM interrupted it (both systems stopped and their data removed first). Whatever ends
// the lab, even a crash of its own, ends both systems: see child-system.ts.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runLab } from './lab.ts';
import { writeReport } from './report.ts';
import { MODES } from './scenarios.ts';
import { TerminalProgress, formatSummary } from './terminal.ts';

const USAGE =
  'usage: npm run lab -- [--short | --full] [--out <dir>] [--durability full|normal] [--keep-data]';

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        short: { type: 'boolean', default: false },
        full: { type: 'boolean', default: false },
        out: { type: 'string' },
        'keep-data': { type: 'boolean', default: false },
        durability: { type: 'string', default: 'full' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.short && values.full) {
    console.error(`choose --short or --full\n${USAGE}`);
    return 2;
  }
  const mode = values.short ? MODES.short : MODES.full;
  const durability = values.durability;
  if (durability !== 'full' && durability !== 'normal') {
    console.error(`--durability must be full or normal\n${USAGE}`);
    return 2;
  }
  const stamp = new Date()
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
  const out = resolve(values.out ?? `.herald/lab/${mode.name}-${stamp}`);
  const command =
    `npm run lab -- --${mode.name}${values.out === undefined ? '' : ` --out ${values.out}`}` +
    (durability === 'full' ? '' : ` --durability ${durability}`);

  const progress = new TerminalProgress();
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupt.signal.aborted) return;
    progress.note(`\n${signal}: stopping both systems`);
    interrupt.abort(new Interrupted(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  progress.note(
    `Herald resilience lab (${mode.name}, SQLite synchronous=${durability}): ${mode.ratePerSecond} orders/s, ${mode.durationMs / 1000} s per scenario and system; results in ${out}`,
  );
  const result = await runLab({
    mode,
    command,
    durability,
    progress,
    keepData: values['keep-data'],
    signal: interrupt.signal,
  });
  progress.finish();
  const { dataDir, ...report } = result;
  const written = await writeReport(report, out);
  console.log(`\n${formatSummary(report)}\n`);
  console.log(
    `wrote ${written.json}\n      ${written.html}\n      ${written.svgDir}/ (${written.charts} charts)`,
  );
  if (values['keep-data']) console.log(`kept the systems' data in ${dataDir}`);
  return 0;
}

/** The lab was stopped by a signal. */
class Interrupted extends Error {
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  if (error instanceof Interrupted) {
    console.error(`the lab was ${error.message}; both systems are stopped`);
    // The run in progress was abandoned, not awaited: its timers must not keep the lab alive.
    process.exit(error.exitCode);
  }
  console.error(
    `\nthe lab could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  process.exitCode = 1;
}
