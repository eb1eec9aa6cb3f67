import type { BenchOptions } from './benchmark.ts';

/** Rounds when none are asked for: 5 for a measurement, 2 for a `--quick` smoke run. */
export const DEFAULT_ROUNDS = 5;
export const QUICK_ROUNDS = 2;

/** The benchmark name and options from `npm run bench -- <name> [--quick] [--rounds n] [--profile]`. */
export interface BenchArgs {
  readonly name: string | undefined;
  readonly options: BenchOptions;
}

/** Parses the dispatcher's arguments; throws a `RangeError` whose message is the usage problem. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let name: string | undefined;
  let quick = false;
  let profile = false;
  let rounds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--profile') profile = true;
    else if (arg === '--rounds' || arg.startsWith('--rounds=')) {
      const text = arg === '--rounds' ? argv[++i] : arg.slice('--rounds='.length);
      const value = Number(text);
      if (text === undefined || !Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`--rounds needs a positive integer, got ${String(text)}`);
      }
      rounds = value;
    } else if (arg.startsWith('-')) throw new RangeError(`unknown option ${arg}`);
    else if (name === undefined) name = arg;
    else throw new RangeError(`one benchmark at a time: got "${name}" and "${arg}"`);
  }
  return { name, options: { quick, rounds: rounds ?? (quick ? QUICK_ROUNDS : DEFAULT_ROUNDS), profile } };
}
