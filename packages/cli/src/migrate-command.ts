import { HeraldError, isHeraldError, openEventLog, redactUrl } from '@herald/core';
import type { EventLog, StateRecord, Store } from '@herald/core';
import {
  type StateMigrationReport,
  defaultOwnerOf,
  migrateLog,
  migrateState,
  prefixOf,
} from '@herald/core/ops';
import { openStore } from '@herald/core';
import { EXIT_FAILURE, EXIT_OK, UsageError, expectPositionals, parseCommandLine } from './arguments.ts';
import type { CommandContext } from './command-context.ts';
import { formatTable } from './format-table.ts';

/** Help of `herald migrate`. */
export const MIGRATE_HELP = `Usage:
  herald migrate --from <log url> --to <log url> [--topic <name>]... [--json]
                 [--state-to <postgres url> [--owner <prefix>=<service>]...]

Moves a system from one log to another — typically from the embedded log to Kafka or NATS:
  herald migrate --from sqlite:./.herald/herald.db --to kafka://broker:9092

  - every topic (Herald's own included: the schema registry, dead letters, audit) is created on
    the target with its partition count;
  - every event is appended to the partition it has in the source, in offset order, its
    CloudEvent identical (attributes and data bytes);
  - every consumer group's committed positions are set on the target, translated to its offsets;
  - each partition is verified: the same number of events and the same SHA-256 over them.

With --state-to, the services' state moves too: every document and inbox entry of the source's
store (on the embedded log, its own file) goes to the Postgres schema of the service that owns it
— the name up to the first "." of its collection or consumer group (orders.sagas and orders.saga
belong to orders), unless --owner says otherwise (the order system's command is in its docs) — in the schema the service kit gives that
service for the same URL (<schemaPrefix><service>). Each service's records are read back and
verified (SHA-256). Restarted on the new log with that store, every group resumes where it was
and its inbox still knows what it handled: nothing is handled twice, nothing is skipped.

Stop every producer and consumer of both logs first. A run that was killed or failed is run
again with the same arguments: each partition goes on after what the target holds already.

Options:
  --from <log url>  The log to copy (default HERALD_LOG).
  --to <log url>    The log to copy into.
  --topic <name>    Only this topic (repeatable).
  --state-to <url>  Also move the services' state into this Postgres database (HERALD_STORE's form:
                    postgres://user@host/db?schemaPrefix=shop_).
  --owner <name>=<service>
                    Who owns what (repeatable), most specific first: <collection>/<document id>,
                    then a whole collection or group name, then a prefix (the name up to its
                    first "."); default: the prefix itself.
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
    'state-to': { type: 'string' },
    owner: { type: 'string', multiple: true },
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
  const stateTo = values['state-to'];
  if (stateTo !== undefined && !/^postgres(ql)?:\/\//i.test(stateTo)) {
    throw new UsageError(
      COMMAND,
      `--state-to must be a postgres:// URL, not ${JSON.stringify(redactUrl(stateTo))}`,
    );
  }
  if (values.owner !== undefined && stateTo === undefined)
    throw new UsageError(COMMAND, '--owner needs --state-to');
  const owners = parseOwners(values.owner ?? []);
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
      const state =
        stateTo === undefined || !report.verified
          ? undefined
          : await migrateStateTo(from, to, fromUrl, stateTo, owners);
      const verified = report.verified && (state === undefined || state.verified);
      if (values.json === true) {
        await context.out(JSON.stringify(state === undefined ? report : { ...report, state }));
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
        if (state !== undefined) {
          const rows = state.owners.map((o) => [
            o.owner,
            String(o.documents),
            String(o.inboxEntries),
            o.verified ? 'verified' : 'DIFFERENT',
          ]);
          await context.out(formatTable([['SERVICE', 'DOCUMENTS', 'INBOX ENTRIES', 'CHECK'], ...rows]));
          await context.out(
            state.verified
              ? `state migrated and verified: ${state.documents} document(s), ${state.inboxEntries} inbox entries, into ${redactUrl(stateTo!)}`
              : 'STATE NOT VERIFIED: a service schema holds other documents than the source had; see the rows marked DIFFERENT',
          );
        }
      }
      return verified ? EXIT_OK : EXIT_FAILURE;
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}

/** `--owner name=service` rules: a `collection/id`, a whole collection or group name, or a prefix. */
function parseOwners(pairs: readonly string[]): ReadonlyMap<string, string> {
  const owners = new Map<string, string>();
  for (const pair of pairs) {
    const match = /^([A-Za-z0-9._-]+(?:\/[^=]+)?)=([a-z_][a-z0-9_]*)$/.exec(pair);
    if (match === null) {
      throw new UsageError(
        COMMAND,
        `--owner takes <collection>[/<id>], <group> or <prefix>, "=", then a service name in lower case, not ${JSON.stringify(pair)}`,
      );
    }
    owners.set(match[1]!, match[2]!);
  }
  return owners;
}

/** The owner of a record by the `--owner` rules, most specific first, else its prefix. */
function ownerOf(owners: ReadonlyMap<string, string>, record: StateRecord): string {
  const name = record.kind === 'document' ? record.collection : record.group;
  const owner = defaultOwnerOf(record);
  return (
    (record.kind === 'document' ? owners.get(`${name}/${record.id}`) : undefined) ??
    owners.get(name) ??
    owners.get(prefixOf(name)) ??
    owners.get(owner) ??
    owner
  );
}

/**
 * Moves the source store's state (on the embedded log, its own file) into one Postgres schema per
 * owning service, named as the service kit names them for the same URL: `<schemaPrefix><service>`.
 */
async function migrateStateTo(
  from: EventLog,
  to: EventLog,
  fromUrl: string,
  stateTo: string,
  owners: ReadonlyMap<string, string>,
): Promise<StateMigrationReport> {
  const source = await openStore(fromUrl, { log: from, publish: false });
  const targets: Store[] = [];
  try {
    const url = new URL(stateTo);
    const prefix = url.searchParams.get('schemaPrefix') ?? '';
    url.searchParams.delete('schemaPrefix');
    return await migrateState({
      from: source,
      ownerOf: (record) => ownerOf(owners, record),
      to: async (service) => {
        const target = new URL(url);
        target.searchParams.set('schema', `${prefix}${service}`);
        const store = await openStore(target.toString(), { log: to, publish: false });
        targets.push(store);
        return store;
      },
    });
  } finally {
    for (const store of targets) await store.close();
    await source.close();
  }
}
