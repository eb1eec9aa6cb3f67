/**
 * Runs contenders side by side: every round runs each contender once, and the order rotates
 * from round to round (A B, B A, … for two), so drift on a shared machine — another process
 * waking up, the page cache warming, the disk's write cache filling — falls on all of them
 * alike instead of on whoever runs second.
 *
 * `setup` runs before each round and its value is handed to every contender of that round (for
 * example a database file they all read); `teardown` runs after the round, even when a
 * contender throws. Each contender returns one measurement; the result lists them per
 * contender, in round order.
 *
 * @example
 * const rates = await alternateRounds({
 *   rounds: 5,
 *   setup: async () => undefined,
 *   contenders: { herald: () => heraldRate(), baseline: () => rawRate() },
 * });
 * median(rates.herald) / median(rates.baseline);
 */
export async function alternateRounds<Context, const Name extends string>(plan: {
  readonly rounds: number;
  readonly setup: (round: number) => Promise<Context>;
  readonly contenders: { readonly [K in Name]: (context: Context, round: number) => Promise<number> };
  readonly teardown?: (context: Context) => Promise<void>;
  /** Called after each measurement, for progress output. */
  readonly onMeasured?: (name: NoInfer<Name>, round: number, value: number) => void;
}): Promise<{ [K in Name]: number[] }> {
  const names = Object.keys(plan.contenders) as Name[];
  const results = Object.fromEntries(names.map((name) => [name, [] as number[]])) as {
    [K in Name]: number[];
  };
  for (let round = 0; round < plan.rounds; round++) {
    const context = await plan.setup(round);
    try {
      for (const name of rotation(names, round)) {
        const value = await plan.contenders[name](context, round);
        results[name].push(value);
        plan.onMeasured?.(name, round, value);
      }
    } finally {
      await plan.teardown?.(context);
    }
  }
  return results;
}

/** The order of `names` in round `round`: rotated left by `round` places. */
export function rotation<T>(names: readonly T[], round: number): T[] {
  if (names.length === 0) return [];
  const shift = round % names.length;
  return [...names.slice(shift), ...names.slice(0, shift)];
}
