import { HeraldError, isHeraldError, redactUrl } from '@herald/core';
import { AUDIT_COLLECTION, auditId } from '@herald/core/ops';
import type { GroupResetPlan, PartitionOffset, ResetTarget } from '@herald/core';
import {
  EXIT_FAILURE,
  confirmed,
  EXIT_OK,
  UsageError,
  expectPositionals,
  parseCommandLine,
  parseTimestamp,
  parseTopicPosition,
  printable,
} from './arguments.ts';
import { currentActor } from './command-context.ts';
import type { CommandContext } from './command-context.ts';
import { formatTable } from './format-table.ts';

/** Help of `herald groups reset`. */
export const GROUPS_RESET_HELP = `Usage:
  herald groups reset <group> (--to-earliest | --to-latest | --to-time <time>
                               | --to-offset <topic>:<partition>:<offset>...)
                      [--topic <topic>...] [--dry-run] [--yes] [--json]

Moves a consumer group's committed offsets: the one deliberate way they go back (or forward).
Prints the plan: per partition, where the group was (FROM; "-" if it never committed) and
where it will start (TO). Events the group had handled and will now read again are a replay:
routers do not perform their declared effects (ctx.effect) for them a second time.

The log refuses while the group has live members: stop its consumers first ('herald groups
<group>' shows them). Not every backend can reset groups; those that cannot say so.

Targets (exactly one):
  --to-earliest         the oldest retained event of each partition
  --to-latest           the end of each partition (skip everything appended so far)
  --to-time <time>      the first event appended at or after <time>: an ISO 8601 timestamp
                        (2025-01-31T12:00:00Z) or a duration back from now (30s, 10m, 2h, 1d)
  --to-offset <topic>:<partition>:<offset>
                        exact offsets (repeat for several partitions); other partitions keep
                        their position

Options:
  --topic <topic>       only this topic (repeatable); default every topic the group has
                        positions on, or with --to-offset the topics named there
  --dry-run             print the plan without changing anything
  -y, --yes             reset without asking (needed when no terminal is there to ask)
  --json                print {"group","dryRun","liveMembers","plan":[{"topic","partition","from","to"}]}
  -h, --help            show this help

On the embedded SQLite log, a reset (not a dry run) is recorded in the audit (herald.audit),
in the same transaction as the reset; with HERALD_STORE, in that store right after it.
`;

const COMMAND = 'herald groups reset';

/** A parsed `herald groups reset` command line. */
export interface GroupsResetArguments {
  readonly group: string;
  readonly to: ResetTarget;
  readonly topics?: readonly string[];
  readonly dryRun: boolean;
  /** `--yes`: reset without asking. */
  readonly yes: boolean;
  readonly json: boolean;
}

/** Parses `herald groups reset` arguments; undefined means `--help` was asked for. */
export function parseGroupsResetArguments(
  args: readonly string[],
  now: number,
): GroupsResetArguments | undefined {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    'to-earliest': { type: 'boolean' },
    'to-latest': { type: 'boolean' },
    'to-time': { type: 'string' },
    'to-offset': { type: 'string', multiple: true },
    topic: { type: 'string', multiple: true },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return undefined;
  const [group] = expectPositionals(COMMAND, positionals, ['<group>']);
  if (group!.trim() === '') throw new UsageError(COMMAND, '<group> must not be empty');
  const targets = (['to-earliest', 'to-latest', 'to-time', 'to-offset'] as const).filter(
    (name) => values[name] !== undefined && values[name] !== false,
  );
  if (targets.length === 0) {
    throw new UsageError(COMMAND, 'missing target: --to-earliest, --to-latest, --to-time or --to-offset');
  }
  if (targets.length > 1) {
    throw new UsageError(COMMAND, `choose one target, not ${targets.map((t) => `--${t}`).join(' and ')}`);
  }
  let to: ResetTarget;
  let topics = values.topic;
  if (values['to-earliest'] === true) to = 'earliest';
  else if (values['to-latest'] === true) to = 'latest';
  else if (values['to-time'] !== undefined) {
    to = { timestamp: parseTimestamp(COMMAND, '--to-time', values['to-time'], now) };
  } else {
    const offsets: PartitionOffset[] = (values['to-offset'] ?? []).map((value) =>
      parseTopicPosition(COMMAND, '--to-offset', value),
    );
    const seen = new Set<string>();
    for (const p of offsets) {
      const id = `${p.topic}:${p.partition}`;
      if (seen.has(id)) throw new UsageError(COMMAND, `--to-offset names ${printable(id)} twice`);
      seen.add(id);
    }
    const named = [...new Set(offsets.map((p) => p.topic))];
    if (topics !== undefined) {
      const outside = named.find((t) => !topics!.includes(t));
      if (outside !== undefined) {
        throw new UsageError(
          COMMAND,
          `--to-offset names topic "${printable(outside)}", which --topic leaves out`,
        );
      }
    }
    topics ??= named;
    to = { offsets };
  }
  if (topics?.some((t) => t.trim() === '') === true)
    throw new UsageError(COMMAND, '--topic must not be empty');
  const parsed: { -readonly [K in keyof GroupsResetArguments]: GroupsResetArguments[K] } = {
    group: group!,
    to,
    dryRun: values['dry-run'] === true,
    yes: values.yes === true,
    json: values.json === true,
  };
  if (topics !== undefined) parsed.topics = [...new Set(topics)];
  return parsed;
}

/** `herald groups reset <group> …`: moves a group's committed offsets, printing the plan. */
export async function runGroupsResetCommand(
  args: readonly string[],
  context: CommandContext,
): Promise<number> {
  const parsed = parseGroupsResetArguments(args, context.io.now?.() ?? Date.now());
  if (parsed === undefined) {
    await context.out(GROUPS_RESET_HELP);
    return EXIT_OK;
  }
  const { group } = parsed;
  if (
    !parsed.dryRun &&
    !(await confirmed(
      COMMAND,
      context.io,
      `reset the committed positions of group "${printable(group)}"`,
      parsed.yes,
    ))
  ) {
    await context.io.stderr('herald: nothing was changed\n');
    return EXIT_FAILURE;
  }
  const outcome = await context.withStore(async (log, store) => {
    if (log.resetGroup === undefined) {
      throw new HeraldError(
        'UNSUPPORTED',
        `the log at HERALD_LOG=${redactUrl(context.logUrl)} cannot reset consumer groups: its backend has no resetGroup`,
      );
    }
    const description = await log.describeGroup(group);
    const liveMembers = description.members.length;
    if (parsed.topics === undefined && description.partitions.length === 0) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `group "${group}" has no committed positions (see 'herald groups'); name the topics to reset with --topic`,
      );
    }
    if (typeof parsed.to === 'object' && 'offsets' in parsed.to) {
      for (const p of parsed.to.offsets) {
        const { partitions } = await log.describeTopic(p.topic);
        if (p.partition >= partitions) {
          throw new HeraldError(
            'INVALID_ARGUMENT',
            `topic "${p.topic}" has no partition ${p.partition} (it has ${partitions})`,
          );
        }
      }
    }
    const auditOf = (plan: readonly GroupResetPlan[]) => ({
      action: 'groups.reset',
      at: new Date().toISOString(),
      actor: currentActor(),
      group,
      to: parsed.to,
      topics: parsed.topics ?? null,
      plan,
    });
    // The store in the log's own file (the embedded log without HERALD_STORE): the audit entry
    // commits with the reset. Elsewhere it is written right after it.
    const auditWithReset = store !== undefined && context.storeUrl === context.logUrl;
    let plan: readonly GroupResetPlan[];
    try {
      plan = await log.resetGroup(group, {
        to: parsed.to,
        dryRun: parsed.dryRun,
        ...(parsed.topics === undefined ? {} : { topics: parsed.topics }),
        ...(auditWithReset
          ? { record: { collection: AUDIT_COLLECTION, id: auditId(), value: auditOf } }
          : {}),
      });
    } catch (error) {
      if (isHeraldError(error, 'CONFLICT')) return { refused: error };
      throw error;
    }
    if (!parsed.dryRun && store !== undefined && !auditWithReset) {
      await store.transaction((tx) => tx.put(AUDIT_COLLECTION, auditId(), auditOf(plan)));
    }
    return { plan, liveMembers };
  });

  if ('refused' in outcome) {
    await context.io.stderr(
      `herald: cannot reset group "${printable(group)}" while it has live members: ${printable(outcome.refused.message)} (see 'herald groups ${printable(group)}')\n`,
    );
    return EXIT_FAILURE;
  }
  const { plan, liveMembers } = outcome;
  if (parsed.json) {
    await context.out(JSON.stringify({ group, dryRun: parsed.dryRun, liveMembers, plan }));
    return EXIT_OK;
  }
  await context.out(formatResetPlan(group, plan, parsed.dryRun));
  if (parsed.dryRun && liveMembers > 0) {
    await context.out(
      `note: the group has ${liveMembers} live member${liveMembers === 1 ? '' : 's'}; a real reset is refused until ${liveMembers === 1 ? 'it stops' : 'they stop'}`,
    );
  }
  return EXIT_OK;
}

/** The text of a reset plan: a headline, then TOPIC, PARTITION, FROM, TO per partition. */
export function formatResetPlan(group: string, plan: readonly GroupResetPlan[], dryRun: boolean): string {
  const name = `"${printable(group)}"`;
  if (plan.length === 0)
    return dryRun ? `dry run: nothing to reset in group ${name}` : `nothing to reset in group ${name}`;
  const headline = dryRun
    ? `dry run: group ${name} would move as follows (nothing was changed)`
    : `reset group ${name}:`;
  const table = formatTable([
    ['TOPIC', 'PARTITION', 'FROM', 'TO'],
    ...plan.map((p) => [p.topic, String(p.partition), p.from === null ? '-' : String(p.from), String(p.to)]),
  ]);
  const back = plan.some((p) => p.from !== null && p.to < p.from);
  const replay = back
    ? `\nevents between TO and FROM are read again as a replay: declared effects ${dryRun ? 'would not be' : 'are not'} performed a second time`
    : '';
  return `${headline}\n${table}${replay}`;
}
