import type { GroupDescription } from '@herald/core';
import { parkedKeys } from '@herald/core/ops';
import type { ParkedKey } from '@herald/core/ops';
import { EXIT_FAILURE, EXIT_OK, expectPositionals, parseCommandLine, printable } from './arguments.ts';
import type { CommandContext } from './command-context.ts';
import { formatTable } from './format-table.ts';
import { runGroupsResetCommand } from './groups-reset-command.ts';

/** Help of `herald groups`. */
export const GROUPS_HELP = `Usage:
  herald groups [--json]
  herald groups <group> [--json]
  herald groups reset <group> (--to-earliest | --to-latest | --to-time <time> | --to-offset <t>:<p>:<o>...)
                      [--topic <topic>...] [--dry-run] [--json]

Without a group: every consumer group with its number of live members and its total lag.
With a group: its members (id, client id, last heartbeat, partitions owned) and, per partition,
the committed offset (the next offset the group will read; "-" if it never committed), the
latest offset and the lag (events appended but not yet committed). With a store (HERALD_STORE,
or the embedded SQLite log's own), also its parked keys: keys whose event was dead-lettered,
their later events waiting (as positions) until the dead letter is redriven and handled, or
discarded ('herald dlq discard'); per key, the dead letter and how many events wait behind it.

'herald groups reset' moves a group's committed offsets; see 'herald groups reset --help'.
(To describe a group named "reset", write 'herald groups -- reset'.)

Options:
  --json       Print JSON: for the list, [{"group","members","lag"}]; for one group, its
               description as the EventLog API returns it (lastHeartbeat in ms since the epoch)
               plus "parked": the parked keys as parkedKeys returns them (null without a store).
  -h, --help   Show this help.
`;

const COMMAND = 'herald groups';

/** `herald groups [<group>]`: consumer groups, their members, positions and lag. */
export async function runGroupsCommand(args: readonly string[], context: CommandContext): Promise<number> {
  if (args[0] === 'reset') return runGroupsResetCommand(args.slice(1), context);
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(GROUPS_HELP);
    return EXIT_OK;
  }
  const [group] = expectPositionals(COMMAND, positionals, ['<group>?']);
  const json = values.json === true;
  return group === undefined ? listGroups(context, json) : describeGroup(context, group, json);
}

async function listGroups(context: CommandContext, json: boolean): Promise<number> {
  const groups = await context.withLog(async (log) => {
    const names = await log.listGroups();
    const descriptions: GroupDescription[] = [];
    for (const name of names) descriptions.push(await log.describeGroup(name));
    return descriptions;
  });
  const summaries = groups.map((g) => ({
    group: g.group,
    members: g.members.length,
    lag: g.partitions.reduce((sum, p) => sum + p.lag, 0),
  }));
  if (json) {
    await context.out(JSON.stringify(summaries));
  } else if (summaries.length === 0) {
    await context.out('no consumer groups');
  } else {
    const rows = summaries.map((s) => [s.group, String(s.members), String(s.lag)]);
    await context.out(formatTable([['GROUP', 'MEMBERS', 'LAG'], ...rows]));
  }
  return EXIT_OK;
}

async function describeGroup(context: CommandContext, group: string, json: boolean): Promise<number> {
  const found = await context.withStore(async (log, store) => {
    const names = await log.listGroups();
    if (!names.includes(group)) return undefined;
    return {
      description: await log.describeGroup(group),
      parked: store === undefined ? null : await parkedKeys(store, group),
    };
  });
  const description = found?.description;
  if (description === undefined) {
    await context.io.stderr(`herald: no consumer group "${printable(group)}" (see 'herald groups')\n`);
    return EXIT_FAILURE;
  }
  if (json) {
    await context.out(JSON.stringify({ ...description, parked: found?.parked ?? null }));
    return EXIT_OK;
  }
  const now = context.io.now?.() ?? Date.now();
  const members =
    description.members.length === 0
      ? 'no live members'
      : formatTable([
          ['MEMBER', 'CLIENT', 'LAST HEARTBEAT', 'PARTITIONS'],
          ...description.members.map((m) => [
            m.memberId,
            m.clientId === '' ? '-' : m.clientId,
            `${new Date(m.lastHeartbeat).toISOString()} (${ago(now - m.lastHeartbeat)})`,
            m.partitions.length === 0 ? '-' : m.partitions.map((p) => `${p.topic}/${p.partition}`).join(','),
          ]),
        ]);
  const partitions =
    description.partitions.length === 0
      ? 'no partitions'
      : formatTable([
          ['TOPIC', 'PARTITION', 'COMMITTED', 'LATEST', 'LAG'],
          ...description.partitions.map((p) => [
            p.topic,
            String(p.partition),
            p.committed === null ? '-' : String(p.committed),
            String(p.latest),
            String(p.lag),
          ]),
        ]);
  const parked = formatParkedKeys(found?.parked ?? null);
  await context.out(
    `${formatTable([['group', description.group]])}\n\n${members}\n\n${partitions}\n\n${parked}`,
  );
  return EXIT_OK;
}

/** The parked-keys section of `herald groups <group>`. */
export function formatParkedKeys(parked: readonly ParkedKey[] | null): string {
  if (parked === null) return 'parked keys: unknown (no store)';
  if (parked.length === 0) return 'no parked keys';
  const events = parked.reduce((sum, key) => sum + key.count, 0);
  return `parked keys: ${parked.length}, ${events} event${events === 1 ? '' : 's'} waiting\n${formatTable([
    ['TOPIC', 'PARTITION', 'KEY', 'WAITING', 'DEAD LETTER', 'SINCE', 'STATE'],
    ...parked.map((key) => [
      printable(key.topic),
      String(key.partition),
      printable(key.key),
      String(key.count),
      `${printable(key.eventId)}${key.deadLetter === null ? '' : ` at ${printable(key.deadLetter.topic)} ${key.deadLetter.partition}:${key.deadLetter.offset}`}`,
      key.parkedAt,
      key.released === undefined ? 'parked' : `releasing (${key.released.by})`,
    ]),
  ])}`;
}

function ago(ms: number): string {
  if (ms < 1_000) return 'just now';
  const seconds = Math.round(ms / 1_000);
  if (seconds < 120) return `${seconds}s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes}m ago`;
  return `${Math.round(minutes / 60)}h ago`;
}
