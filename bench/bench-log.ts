import { randomBytes } from 'node:crypto';
import type { EventLog } from '@herald/core';
import { openKafkaLog } from '@herald/kafka';
import { openNatsLog } from '@herald/nats';
import { openSqliteLog } from '@herald/sqlite';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Admin } from '@platformatic/kafka';
import { benchDir } from './lib/bench-dir.ts';
import { PARTITIONS, TOPIC } from './backends-workload.ts';

/** The backends measured side by side. */
export type Backend = 'embedded' | 'kafka' | 'nats';

/** How each backend is named in rows and notes. */
export const BACKEND_NAMES: Readonly<Record<Backend, string>> = {
  embedded: 'embedded',
  kafka: 'Kafka',
  nats: 'NATS',
};

/** The NATS server the `backends` benchmark uses: `HERALD_BENCH_NATS`, default the local one. */
export const BENCH_NATS_SERVERS = (process.env['HERALD_BENCH_NATS'] ?? '127.0.0.1:4222')
  .split(',')
  .map((server) => server.trim())
  .filter((server) => server.length > 0);

/**
 * A Herald log on one backend with {@link TOPIC} freshly created in it: a new SQLite file, or a
 * new namespace on the broker. Disposing it closes the log and deletes everything it made (the
 * file; the namespace's topics, streams, groups and KV keys), so no round sees another's data.
 */
export interface BenchLog extends AsyncDisposable {
  readonly backend: Backend;
  readonly log: EventLog;
  /** The prefix of every topic and group name on the broker (empty for the embedded log). */
  readonly namespace: string;
}

/** Where the brokers are. */
export interface BrokerAddresses {
  readonly kafka: readonly string[];
  readonly nats: readonly string[];
}

/**
 * Opens a log on `backend` with each backend's default durability: the embedded log with
 * `synchronous: 'full'` (an fsync per commit), Kafka with its idempotent `acks=all` producer
 * (one broker, which fsyncs lazily), NATS with file storage (JetStream syncs lazily too).
 */
export async function openBenchLog(backend: Backend, brokers: BrokerAddresses): Promise<BenchLog> {
  const clientId = `herald-bench-${process.pid}`;
  if (backend === 'embedded') {
    const dir = benchDir('backends');
    try {
      const log = await openSqliteLog({ path: dir.file('log.db'), retentionIntervalMs: 0, clientId });
      return await withTopic(backend, log, '', async () => {
        await log.close();
        dir[Symbol.dispose]();
      });
    } catch (error) {
      dir[Symbol.dispose]();
      throw error;
    }
  }
  const id = randomBytes(4).toString('hex');
  if (backend === 'kafka') {
    const namespace = `hb${id}-`;
    const log = await openKafkaLog({ brokers: [...brokers.kafka], clientId, namespace });
    return withTopic(backend, log, namespace, async () => {
      await log.close();
      await deleteKafkaNamespace(brokers.kafka, namespace);
    });
  }
  const namespace = `hb${id}`;
  const log = await openNatsLog({ servers: [...brokers.nats], clientId, namespace });
  return withTopic(backend, log, namespace, async () => {
    await log.close();
    await deleteNatsNamespace(brokers.nats, namespace);
  });
}

async function withTopic(
  backend: Backend,
  log: EventLog,
  namespace: string,
  dispose: () => Promise<void>,
): Promise<BenchLog> {
  try {
    await log.createTopic(TOPIC, { partitions: PARTITIONS });
  } catch (error) {
    await dispose();
    throw error;
  }
  return { backend, log, namespace, [Symbol.asyncDispose]: dispose };
}

/** Deletes every topic and consumer group whose name starts with `namespace`. */
export async function deleteKafkaNamespace(brokers: readonly string[], namespace: string): Promise<void> {
  const admin = new Admin({ clientId: 'herald-bench-cleanup', bootstrapBrokers: [...brokers], retries: 1 });
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(namespace));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = [...(await admin.listGroups()).keys()].filter((group) => group.startsWith(namespace));
    if (groups.length > 0) await admin.deleteGroups({ groups });
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** Deletes every stream of a namespace and its keys in Herald's two KV buckets. */
async function deleteNatsNamespace(servers: readonly string[], namespace: string): Promise<void> {
  const nc = await connect({ servers: [...servers], name: 'herald-bench-cleanup', reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    const streams: string[] = [];
    for await (const name of jsm.streams.names(`herald.${namespace}.>`)) streams.push(name);
    await Promise.all(streams.map((name) => jsm.streams.delete(name)));
    for (const bucket of ['herald_topics', 'herald_groups']) {
      await jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${namespace}.>` });
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** Checks that the NATS server answers with JetStream; throws saying how to start it otherwise. */
export async function assertNatsAvailable(servers: readonly string[]): Promise<void> {
  try {
    const nc = await connect({
      servers: [...servers],
      timeout: 2000,
      reconnect: false,
      name: 'herald-bench-probe',
    });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
    } finally {
      await nc.close().catch(() => undefined);
    }
  } catch (error) {
    throw new Error(
      `no NATS server with JetStream answers at ${servers.join(',')} ` +
        `(${error instanceof Error ? error.message : String(error)}); start one (nats-server -js) or set HERALD_BENCH_NATS`,
      { cause: error },
    );
  }
}
