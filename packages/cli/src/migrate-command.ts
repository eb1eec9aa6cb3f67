import { HeraldError, isHeraldError, openEventLog, redactUrl } from '@herald/core';
import type { EventLog } from '@herald/core';
import { migrateLog } from '@herald/core/ops';
import { EXIT_FAILURE, EXIT_OK, UsageError, expectPositionals, parseCommandLine } from './arguments.ts';
import type { CommandContext } from './command-context.ts';
import { formatTable } from './format-table.ts';

/** Help of `herald migrate`. */
export const MIGRATE_HELP = `Usage:
  herald migrate --from <log url> --to <log url> [--topic <name>]... [--json]

Moves a system from one log to another — typically from the embedded log to Kafka or NATS:
  herald migrate --from sqlite:./.herald/herald.db --to kafka://broker:9092

  - every topic (Herald's own included: the schema registry, dead letters, audit) is created on
    the target with its partition count;
  - every event is appended to the partition it has in the source, in offset order, its
    CloudEvent identical (attributes and data bytes);
  - every consumer group's committed positions are set on the target, translated to its offsets;
  - each partition is verified: the same number of events and the same SHA-256 over them.

Stop every producer and consumer of both logs first. A run that was killed or failed is run
again with the same arguments: each partition goes on after what the target holds already.

Options:
  --from <log url>  The log to copy (default HERALD_LOG).
  --to <log url>    The log to copy into.
  --topic <name>    Only this topic (repeatable).
  --json            The report as JSON.
  -h, --help        Show this help.

Exit status: 0 migrated and verified, 1 a failure or a partition that does not verify.
`;

const COMMAND = 'herald migrate';

async function open(url: string): Promise<EventLog> {
  try {
    return await openEventLog(url);
  } catch (error) {
    if (isHeraldError(error)) throw error;
    throw new HeraldError('BACKEND_UNAVAILABLE', `cannot open ${redactUrl(url)}`, { cause: error });
  }
}

/** `herald migrate --from … --to …`. */
export async function runMigrateCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    from: { type: 'string' },
    to: { type: 'string' },
    topic: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(MIGRATE_HELP);
    return EXIT_OK;
  }
  expectPositionals(COMMAND, positionals, []);
  const fromUrl = values.from ?? context.logUrl;
  if (values.to === undefined) throw new UsageError(COMMAND, 'missing --to <log url>');
  if (values.to === fromUrl) throw new UsageError(COMMAND, '--from and --to name the same log');
  const from = await open(fromUrl);
  try {
    const to = await open(values.to);
    try {
      let last = 0;
      const report = await migrateLog(from, to, {
        ...(values.topic === undefined ? {} : { topics: values.topic }),
        ...(context.io.signal === undefined ? {} : { signal: context.io.signal }),
        onProgress: ({ topic, partition, copied }) => {
          if (values.json === true || Date.now() - last < 1_000) return;
          last = Date.now();
          void context.io.stderr(`copying ${topic}/${partition}: ${copied} events\n`);
        },
      });
      if (values.json === true) {
        await context.out(JSON.stringify(report));
      } else {
        const rows = report.partitions.map((p) => [
          p.topic,
          String(p.partition),
          String(p.sourceEvents),
          String(p.targetEvents),
          String(p.copied),
          p.sourceEvents === p.targetEvents && p.sourceDigest === p.targetDigest ? 'verified' : 'DIFFERENT',
        ]);
        await context.out(
          formatTable([['TOPIC', 'PARTITION', 'SOURCE', 'TARGET', 'COPIED NOW', 'CHECK'], ...rows]),
        );
        for (const group of report.groups) {
          await context.out(
            `group ${group.group}: ${group.positions.map((p) => `${p.topic}/${p.partition}@${p.offset}`).join(' ')}`,
          );
        }
        await context.out(
          report.verified
            ? `migrated and verified: ${report.partitions.length} partition(s), ${report.groups.length} group(s), from ${redactUrl(fromUrl)} to ${redactUrl(values.to)}`
            : 'NOT VERIFIED: some partitions differ; run the same command again to go on, or see the rows marked DIFFERENT',
        );
      }
      return report.verified ? EXIT_OK : EXIT_FAILURE;
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}
