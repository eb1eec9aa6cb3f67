import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HeraldError } from '@herald/core';
import { type ShadowBound, type ShadowTarget, formatShadowReport, shadowRun } from '@herald/core/ops';
import {
  EXIT_FAILURE,
  EXIT_OK,
  UsageError,
  expectPositionals,
  parseCommandLine,
  parseTimestamp,
  printable,
} from './arguments.ts';
import type { CommandContext } from './command-context.ts';

/** Help of `herald shadow`. */
export const SHADOW_HELP = `Usage:
  herald shadow <module> [--group <group>] [--from <time|offset>] [--to <time|offset>]
                [--empty] [--samples <n>] [--json]

Runs a new version of a consumer group's handlers over a window of history against a copy of
the group's state, applying nothing: the log is only read (no consumer group joined, nothing
committed), the store only read, emitted events and store writes are recorded in memory, and
declared effects are skipped and counted. Then compares it with the running version: per
emitted event type, the events the running version emitted for the same handled events (found
by their causationid) are the same, different (samples show both payloads), new (only the new
version emits them) or missing (only the running version did); per collection, the documents the
new version wrote against the store's CURRENT documents (not as they were at the time).

The module exports what to shadow as default or as \`shadow\`: an object with group, topics,
outputs (the topics the running version writes) and handlers or router — or several of them,
one per group, chosen with --group. A service's module exports serviceShadow(definition) from
@herald/service.

Options:
  --group <group>       The group to shadow when the module exports several.
  --from <time|offset>  First event of the window: an offset (the same in every partition), an
                        ISO 8601 timestamp or a duration back from now (30m, 2h, 1d). Default:
                        the earliest retained event.
  --to <time|offset>    End of the window (exclusive), in the same forms. Default: the end of
                        each partition when the run starts.
  --empty               Start from an empty state instead of the store's current documents: for
                        a window from the beginning of history, so that what handlers accumulate
                        is rebuilt rather than counted twice.
  --samples <n>         Samples per event type and outcome, and per collection (default 5).
  --json                The report as one JSON document.
  -h, --help            Show this help.

The store is HERALD_STORE, else the sqlite: log's own file; with neither, the shadow starts
empty and no state is compared.

Exit status: 0 when every event of the window was handled (whatever the diff), 1 when a
handler failed (the report lists it) or the run could not start.
`;

const COMMAND = 'herald shadow';

/** A parsed `herald shadow` command line. */
export interface ShadowArguments {
  readonly module: string;
  readonly group: string | undefined;
  readonly from: ShadowBound | undefined;
  readonly to: ShadowBound | undefined;
  readonly empty: boolean;
  readonly samples: number;
  readonly json: boolean;
}

/** Parses `herald shadow` arguments; undefined means `--help` was asked for. */
export function parseShadowArguments(args: readonly string[], now: number): ShadowArguments | undefined {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    group: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    empty: { type: 'boolean' },
    samples: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return undefined;
  const [module] = expectPositionals(COMMAND, positionals, ['<module>']);
  const samples = values.samples === undefined ? 5 : Number(values.samples);
  if (!Number.isSafeInteger(samples) || samples < 0) {
    throw new UsageError(
      COMMAND,
      `--samples must be a whole number, got "${printable(values.samples ?? '')}"`,
    );
  }
  return {
    module: module!,
    group: values.group,
    from: values.from === undefined ? undefined : boundOf('--from', values.from, now),
    to: values.to === undefined ? undefined : boundOf('--to', values.to, now),
    empty: values.empty === true,
    samples,
    json: values.json === true,
  };
}

function boundOf(option: string, value: string, now: number): ShadowBound {
  if (/^\d+$/.test(value)) return { offset: Number(value) };
  return { timestamp: parseTimestamp(COMMAND, option, value, now) };
}

/** `herald shadow <module>`: a shadow run and its diff. */
export async function runShadowCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const parsed = parseShadowArguments(args, context.io.now?.() ?? Date.now());
  if (parsed === undefined) {
    await context.out(SHADOW_HELP);
    return EXIT_OK;
  }
  const target = await loadTarget(parsed.module, parsed.group);
  return context.withStore(async (log, store) => {
    if (store === undefined) {
      await context.io.stderr(`${COMMAND}: no store: the shadow starts empty and no state is compared\n`);
    }
    const report = await shadowRun({
      ...target,
      log,
      ...(store === undefined ? {} : { state: store }),
      startFrom: parsed.empty || store === undefined ? 'empty' : 'state',
      ...(parsed.from === undefined ? {} : { from: parsed.from }),
      ...(parsed.to === undefined ? {} : { to: parsed.to }),
      samples: parsed.samples,
    });
    await context.out(parsed.json ? JSON.stringify(report) : formatShadowReport(report));
    return report.failures.length === 0 ? EXIT_OK : EXIT_FAILURE;
  });
}

/** The module's shadow target: its default or `shadow` export, one of several by `group`. */
async function loadTarget(path: string, group: string | undefined): Promise<ShadowTarget> {
  const file = isAbsolute(path) ? path : resolve(process.cwd(), path);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new HeraldError('INVALID_ARGUMENT', `cannot load the shadow module ${path}: ${why}`, { cause });
  }
  const exported = module['default'] ?? module['shadow'];
  const targets = (Array.isArray(exported) ? exported : [exported]) as unknown[];
  if (exported === undefined || !targets.every(isTarget)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `${path} exports no shadow target: export default { group, topics, outputs, handlers } (or serviceShadow(definition))`,
    );
  }
  const chosen = group === undefined ? targets : targets.filter((t) => t.group === group);
  if (chosen.length !== 1) {
    const groups = targets.map((t) => t.group).join(', ');
    throw new HeraldError(
      'INVALID_ARGUMENT',
      group === undefined
        ? `${path} exports several groups (${groups}): choose one with --group`
        : `${path} exports no group ${group} (it has ${groups})`,
    );
  }
  return chosen[0]!;
}

function isTarget(value: unknown): value is ShadowTarget {
  if (value === null || typeof value !== 'object') return false;
  const target = value as Partial<ShadowTarget>;
  return (
    typeof target.group === 'string' &&
    Array.isArray(target.topics) &&
    (typeof target.handlers === 'function' || typeof target.router === 'function')
  );
}
