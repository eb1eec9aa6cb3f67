// Graduation from one log to another (the embedded log to Kafka or NATS): topics with their
// partition counts, every event byte for byte in its partition and order, consumer-group
// positions translated, verified at the end. Resumable: a run killed half-way is run again.
import { createHash } from 'node:crypto';
import { attributesOf } from './envelope.ts';
import type { CloudEvent, StoredEvent } from './envelope.ts';
import { HeraldError, isHeraldError } from './errors.ts';
import type { EventLog, PartitionOffset } from './event-log.ts';
import { partitionFor } from './partitioner.ts';
import { readPartition } from './read-partition.ts';

export interface MigrateOptions {
  /** Only these topics (default: every topic of the source, Herald's own included). */
  readonly topics?: readonly string[];
  /** Told after each batch copied, for progress output. */
  readonly onProgress?: (progress: { topic: string; partition: number; copied: number }) => void;
  /** Stops between batches; the next run goes on from there. */
  readonly signal?: AbortSignal;
  /** Events appended per call. Default 500. */
  readonly batchSize?: number;
}

/** What a migration did and found for one partition. */
export interface PartitionMigration {
  readonly topic: string;
  readonly partition: number;
  /** The source offset of the target's offset 0 (the source's earliest when the copy began). */
  readonly sourceStart: number;
  /** Events in the source from `sourceStart`, and in the target. */
  readonly sourceEvents: number;
  readonly targetEvents: number;
  /** Events this run appended. */
  readonly copied: number;
  /** SHA-256 over every event's attributes and data, in offset order, on each side. */
  readonly sourceDigest: string;
  readonly targetDigest: string;
}

/** A group position moved to the target. */
export interface GroupMigration {
  readonly group: string;
  readonly positions: readonly PartitionOffset[];
}

export interface MigrationReport {
  /** Every partition has the same events, in the same order, on both sides. */
  readonly verified: boolean;
  readonly partitions: readonly PartitionMigration[];
  readonly groups: readonly GroupMigration[];
}

/**
 * Copies `from` into `to`: creates each topic on the target with the source's partition count
 * (refusing one that exists with another count), appends every event to the partition it has in
 * the source, in offset order, with its attributes and data bytes unchanged (the same key lands
 * in the same partition on every backend), then commits every consumer group's position
 * translated to the target's offsets (target offset = source offset − the source offset the
 * copy started at), and verifies each partition by count and digest.
 *
 * Resumable: on a run after an interrupted one, each partition goes on after the events the
 * target holds already, once its last event is found to be the source's event at that place
 * (INVALID_ARGUMENT otherwise: the target holds something else). Source events removed by
 * retention between the two runs cannot be copied; the verification then fails.
 *
 * Run it while nothing consumes from either log: group positions are moved as the source had
 * them when the run reached them, with `resetGroup` where the target has it and otherwise by joining
 * the group alone and committing.
 *
 * @example const report = await migrateLog(await openEventLog('sqlite:./.herald/herald.db'), await openEventLog('kafka://broker:9092'));
 */
export async function migrateLog(
  from: EventLog,
  to: EventLog,
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  const batchSize = options.batchSize ?? 500;
  const all = await from.listTopics();
  const wanted =
    options.topics === undefined ? all : all.filter((topic) => options.topics!.includes(topic.name));
  const missing = (options.topics ?? []).filter((name) => !all.some((topic) => topic.name === name));
  if (missing.length > 0)
    throw new HeraldError('UNKNOWN_TOPIC', `the source has no topic ${missing.join(', ')}`);
  const existing = new Map((await to.listTopics()).map((topic) => [topic.name, topic.partitions]));
  for (const topic of wanted) {
    const has = existing.get(topic.name);
    if (has !== undefined && has !== topic.partitions) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `topic ${topic.name} exists on the target with ${has} partitions; the source has ${topic.partitions}`,
      );
    }
  }
  const partitions: PartitionMigration[] = [];
  for (const topic of wanted) {
    if (!existing.has(topic.name)) await to.createTopic(topic.name, { partitions: topic.partitions });
    const description = await from.describeTopic(topic.name);
    for (const info of description.partitionInfo) {
      partitions.push(
        await copyPartition(from, to, topic.name, topic.partitions, info.partition, batchSize, options),
      );
    }
  }
  const starts = new Map(partitions.map((p) => [`${p.topic}/${p.partition}`, p.sourceStart]));
  const groups: GroupMigration[] = [];
  for (const group of await from.listGroups()) {
    const positions: PartitionOffset[] = [];
    for (const state of (await from.describeGroup(group)).partitions) {
      const start = starts.get(`${state.topic}/${state.partition}`);
      if (start === undefined || state.committed === null) continue;
      positions.push({
        topic: state.topic,
        partition: state.partition,
        offset: Math.max(0, state.committed - start),
      });
    }
    if (positions.length === 0) continue;
    await setPositions(to, group, positions);
    groups.push({ group, positions });
  }
  return {
    verified: partitions.every((p) => p.sourceEvents === p.targetEvents && p.sourceDigest === p.targetDigest),
    partitions,
    groups,
  };
}

async function copyPartition(
  from: EventLog,
  to: EventLog,
  topic: string,
  partitionCount: number,
  partition: number,
  batchSize: number,
  options: MigrateOptions,
): Promise<PartitionMigration> {
  const [targetFirst] = await to.read(topic, { partition, from: 'earliest', limit: 1 });
  const targetInfo = (await to.describeTopic(topic)).partitionInfo.find((p) => p.partition === partition)!;
  let sourceStart: number;
  if (targetFirst === undefined) {
    const [sourceFirst] = await from.read(topic, { partition, from: 'earliest', limit: 1 });
    sourceStart = sourceFirst?.offset ?? 0;
  } else {
    sourceStart = await sourceOffsetOf(from, topic, partition, targetFirst);
  }
  // Resuming: the target's last event must be the source's event at the same place.
  let next = sourceStart + targetInfo.latest;
  if (targetInfo.latest > 0) {
    const [last] = await to.read(topic, { partition, from: { offset: targetInfo.latest - 1 }, limit: 1 });
    const [same] = await from.read(topic, { partition, from: { offset: next - 1 }, limit: 1 });
    if (
      last === undefined ||
      same === undefined ||
      same.offset !== next - 1 ||
      digestOf(same) !== digestOf(last)
    ) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `${topic}/${partition} on the target does not continue the source's events (offset ${targetInfo.latest - 1}); ` +
          'migrate into an empty topic',
      );
    }
  }
  let copied = 0;
  let batch: StoredEvent[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await appendInPlace(to, topic, partitionCount, partition, batch);
    copied += batch.length;
    batch = [];
    options.onProgress?.({ topic, partition, copied });
  };
  for await (const event of readPartition(from, topic, partition, {
    from: { offset: next },
    pageSize: batchSize,
  })) {
    if (event.offset !== next) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `${topic}/${partition} of the source skips from offset ${next} to ${event.offset} (removed by retention or compaction); the copy would not be dense`,
      );
    }
    next++;
    batch.push(event);
    if (batch.length >= batchSize) {
      await flush();
      if (options.signal?.aborted === true) break;
    }
  }
  await flush();
  const source = await digestFrom(from, topic, partition, sourceStart);
  const target = await digestFrom(to, topic, partition, 0);
  return {
    topic,
    partition,
    sourceStart,
    sourceEvents: source.count,
    targetEvents: target.count,
    copied,
    sourceDigest: source.digest,
    targetDigest: target.digest,
  };
}

/** How long joining a group on the target to commit its positions may take. */
const JOIN_TIMEOUT_MS = 60_000;

/**
 * Sets `group`'s committed positions on `log`: with `resetGroup` where the log has it, otherwise
 * as a member of the group that joins alone, waits to own every partition named, commits and
 * leaves (the group must have no other member).
 */
async function setPositions(
  log: EventLog,
  group: string,
  positions: readonly PartitionOffset[],
): Promise<void> {
  const topics = [...new Set(positions.map((p) => p.topic))];
  if (log.resetGroup !== undefined) {
    await log.resetGroup(group, { to: { offsets: positions }, topics });
    return;
  }
  const subscription = await log.subscribe({ group, topics, startAt: 'earliest' });
  try {
    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    const owns = () => {
      const owned = new Set(subscription.assignment().map((p) => `${p.topic}/${p.partition}`));
      return positions.every((p) => owned.has(`${p.topic}/${p.partition}`));
    };
    while (!owns()) {
      if (Date.now() > deadline) {
        throw new HeraldError(
          'TIMEOUT',
          `could not own every partition of group ${group} on the target to set its positions (is a member running?)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await subscription.commit(positions);
  } finally {
    await subscription.close();
  }
}

/** Appends `events` to `partition`: in one atomic batch when their keys choose it anyway. */
async function appendInPlace(
  log: EventLog,
  topic: string,
  partitions: number,
  partition: number,
  events: readonly StoredEvent[],
): Promise<void> {
  const plain = events.map(eventOf);
  if (
    plain.every(
      (event) =>
        event.partitionkey !== undefined && partitionFor(event.partitionkey, partitions) === partition,
    )
  ) {
    await log.appendBatch(topic, plain);
    return;
  }
  for (const event of plain) await log.append(topic, event, { partition });
}

/** The CloudEvent of a stored event: what was appended, without where it landed. */
function eventOf(stored: StoredEvent): CloudEvent {
  const { topic: _topic, partition: _partition, offset: _offset, timestamp: _timestamp, ...event } = stored;
  return event;
}

/** The source offset of the event the target holds at its offset 0. */
async function sourceOffsetOf(
  from: EventLog,
  topic: string,
  partition: number,
  first: StoredEvent,
): Promise<number> {
  const wanted = digestOf(first);
  for await (const event of readPartition(from, topic, partition)) {
    if (event.id === first.id && digestOf(event) === wanted) return event.offset;
  }
  throw new HeraldError(
    'INVALID_ARGUMENT',
    `${topic}/${partition} on the target starts with event ${first.id}, which the source does not hold; migrate into an empty topic`,
  );
}

function digestOf(event: StoredEvent): string {
  return createHash('sha256').update(canonical(event)).digest('base64url');
}

/** Attributes (sorted) and data of one event, as bytes: what the digest covers. */
function canonical(event: StoredEvent): Buffer {
  const attributes = attributesOf(event);
  const sorted = Object.fromEntries(
    Object.keys(attributes)
      .sort()
      .map((name) => [name, attributes[name]]),
  );
  const head = Buffer.from(`${JSON.stringify(sorted)}\0`);
  return event.data === undefined ? head : Buffer.concat([head, event.data]);
}

async function digestFrom(
  log: EventLog,
  topic: string,
  partition: number,
  start: number,
): Promise<{ count: number; digest: string }> {
  const hash = createHash('sha256');
  let count = 0;
  try {
    for await (const event of readPartition(log, topic, partition, { from: { offset: start } })) {
      hash.update(canonical(event));
      count++;
    }
  } catch (error) {
    if (!isHeraldError(error, 'UNKNOWN_TOPIC')) throw error;
  }
  return { count, digest: hash.digest('base64url') };
}
