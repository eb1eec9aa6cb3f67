import { HeraldError } from '@herald/core';
import { AUDIT_VIOLATION_KINDS, auditGroup, auditViolationCount } from '@herald/core/ops';
import type { AuditReport, AuditViolation } from '@herald/core/ops';
import {
  EXIT_FAILURE,
  EXIT_OK,
  expectPositionals,
  parseCommandLine,
  parseInteger,
  parseSince,
  printable,
} from './arguments.ts';
import type { CommandContext } from './command-context.ts';
import { formatTable } from './format-table.ts';

/** Help of `herald audit`. */
export const AUDIT_HELP = `Usage:
  herald audit <group> [--since <time>] [--max-violations <n>] [--json]

Checks, from the log, the group's store (HERALD_STORE, default the sqlite: log's own file) and
the group's committed offsets, that the group kept Herald's delivery guarantees. For every
partition the group has committed on, each event below the committed offset must be:
  handled         an inbox entry (group, event id) in the store, or
  dead-lettered   a copy in <topic>.dead-letter whose dlgroup is the group and whose
                  dltopic/dlpartition/dloffset name the event,
exactly once. Violations, by kind:
  unhandled                  neither: a committed offset skipped it
  handled-and-dead-lettered  both, and no other copy of its id (a redriven copy, an earlier
                             event with the same id) that the inbox entry could belong to
  dead-lettered-twice        parked more than once by the group
  out-of-order               handled (inbox handled_at) before an earlier-offset event of the
                             same key in the same partition; equal times pass
An id at several offsets is handled once: its later occurrences are duplicates, which is fine.
A redriven dead letter counts as dead-lettered, its copy (same id, dlredrive) as handled.
Parked events (held back behind their key's dead letter) count as parked until released, then
as handled; a redriven copy, handled ahead of the events parked behind it, is not order-checked.

The group must use the idempotency middleware on that store. Inbox entries pruned by inbox
retention read as unhandled: audit within the retention with --since.

Options:
  --since <time>          Only events appended at or after <time>: an ISO 8601 timestamp or a
                          duration before now (10m, 2h, 7d).
  --max-violations <n>    Violations listed (all are counted). Default 20.
  --json                  Print the report as JSON (auditGroup's AuditReport).
  -h, --help              Show this help.

Exit status: 0 no violation, 1 violations found (or the audit failed), 2 the command line was wrong.
`;

const COMMAND = 'herald audit';

/** `herald audit <group>`: the guarantee auditor. */
export async function runAuditCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    since: { type: 'string' },
    'max-violations': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(AUDIT_HELP);
    return EXIT_OK;
  }
  const [group] = expectPositionals(COMMAND, positionals, ['<group>']);
  const now = context.io.now?.() ?? Date.now();
  const since = values.since === undefined ? undefined : parseSince(COMMAND, values.since, now);
  const maxViolations =
    values['max-violations'] === undefined
      ? undefined
      : parseInteger(COMMAND, '--max-violations', values['max-violations'], 0);
  if (context.storeUrl === undefined) {
    throw new HeraldError(
      'UNSUPPORTED',
      "herald audit needs the group's store: set HERALD_STORE (a sqlite: log uses its own file)",
    );
  }
  const report = await context.withStore((log, store) =>
    auditGroup(log, store!, group!, {
      ...(since === undefined ? {} : { since }),
      ...(maxViolations === undefined ? {} : { maxViolations }),
    }),
  );
  await context.out(values.json === true ? JSON.stringify(report) : formatReport(report));
  return report.verdict === 'ok' ? EXIT_OK : EXIT_FAILURE;
}

function formatReport(report: AuditReport): string {
  const total = auditViolationCount(report);
  const lines = [
    `group ${printable(report.group)}: ${report.verdict === 'ok' ? 'OK, no violation' : `${total} violation${total === 1 ? '' : 's'}`}`,
    '',
    formatTable([
      ['checked', String(report.checked)],
      ['handled', String(report.handled)],
      ['duplicates', String(report.duplicates)],
      ['dead-lettered', String(report.deadLettered)],
      ['redriven copies', String(report.redriven)],
      ...AUDIT_VIOLATION_KINDS.map((kind) => [kind, String(report.violations[kind])]),
      ['partitions', String(report.partitions.length)],
      ['parked (behind a dead letter)', String(report.parked)],
    ]),
  ];
  if (report.firstViolations.length > 0) {
    lines.push(
      '',
      total > report.firstViolations.length
        ? `first ${report.firstViolations.length} of ${total} violations:`
        : 'violations:',
      formatTable([
        ['KIND', 'POSITION', 'EVENT', 'KEY', 'DETAIL'],
        ...report.firstViolations.map((v) => [
          v.kind,
          `${printable(v.topic)}:${v.partition}:${v.offset}`,
          printable(v.eventId),
          v.key === undefined ? '-' : printable(v.key),
          detail(v),
        ]),
      ]),
    );
  }
  return lines.join('\n');
}

function detail(v: AuditViolation): string {
  const at = (ms: number) => new Date(ms).toISOString();
  switch (v.kind) {
    case 'unhandled':
      return 'no inbox entry, no dead letter';
    case 'out-of-order':
      return v.handledBefore === undefined || v.handledAt === undefined
        ? ''
        : `handled ${at(v.handledAt)}, before offset ${v.handledBefore.offset} (${printable(v.handledBefore.eventId)}) handled ${at(v.handledBefore.handledAt)}`;
    case 'dead-lettered-twice':
    case 'handled-and-dead-lettered':
      return `dead letters ${(v.deadLetters ?? []).map((d) => `${printable(d.topic)}:${d.partition}:${d.offset}`).join(', ')}${v.handledAt === undefined ? '' : `; handled ${at(v.handledAt)}`}`;
  }
}
