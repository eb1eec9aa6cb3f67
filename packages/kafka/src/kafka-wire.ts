import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError } from '@herald/core';
import {
  Base,
  FindCoordinatorKeyTypes,
  kGetApi,
  kGetBootstrapConnection,
  kGetConnection,
} from '@platformatic/kafka';
import type {
  API,
  BaseOptions,
  Broker,
  ClusterMetadata,
  ClusterTopicMetadata,
  Connection,
  RecordsBatch,
  fetchV17,
} from '@platformatic/kafka';
import {
  COORDINATOR_ERRORS,
  hasKafkaError,
  isNetworkError,
  isUnknownTopic,
  kafkaErrorId,
} from './kafka-errors.ts';

type FetchResponse = fetchV17.FetchResponse;
/** One partition of a fetch response. */
export type FetchResponsePartition = fetchV17.FetchResponsePartition;

/** Fetch with READ_COMMITTED: never show records of transactions that are open or aborted. */
export const READ_COMMITTED = 1;
/** ListOffsets' timestamp for the oldest retained offset. */
export const EARLIEST = -2n;
/** ListOffsets' timestamp for the end of a partition (the offset the next record gets). */
export const LATEST = -1n;

const STALE_METADATA = [
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'NOT_CONTROLLER',
];
const TIMESTAMP_TYPE_LOG_APPEND = 1 << 3;
const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;

/** One record of a fetched partition, with its absolute offset and timestamp. */
export interface FetchedRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly (readonly [Buffer | null, Buffer | null])[];
}

/** One partition to fetch, from `offset` on. */
export interface FetchRequestPartition {
  readonly partition: number;
  readonly offset: number;
}

/**
 * Raw Kafka requests over one `@platformatic/kafka` client (its connection pool, metadata cache
 * and API version negotiation), for what the library's high-level clients do not expose the
 * way Herald needs: group membership driven by Herald (so that `onRevoked` runs before a
 * partition is given up, and commits carry the generation that fences stale members),
 * sessionless fetches, offset lookups.
 *
 * Requests are retried on network errors, stale leadership and coordinator moves, up to the
 * client's `retries`; the caller sees the last error.
 */
export class KafkaWire {
  readonly client: Base;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #coordinators = new Map<string, Broker>();
  #closed = false;

  /** Requests over `client` (any of the library's clients), or over a new connection pool. */
  constructor(options: BaseOptions, client: Base = new Base(options)) {
    this.client = client;
    this.#retries = typeof options.retries === 'number' ? options.retries : 3;
    this.#retryDelayMs = typeof options.retryDelay === 'number' ? options.retryDelay : 250;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes every connection at once (in-flight requests fail); sends nothing to the brokers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.close();
  }

  /**
   * Cluster metadata for `topics`. A topic that does not exist throws `UNKNOWN_TOPIC` at once
   * (the library would retry it for seconds, as if it were about to appear).
   */
  async metadata(topics: readonly string[], force = false): Promise<ClusterMetadata> {
    return this.#retry(async (attempt) => {
      try {
        return await this.client.metadata({
          topics: [...topics],
          forceUpdate: force || attempt > 0,
          retries: 0,
        });
      } catch (error) {
        if (isUnknownTopic(error)) {
          throw new HeraldError('UNKNOWN_TOPIC', `topic "${topics.join('", "')}" does not exist`, {
            cause: error,
            details: { topics },
          });
        }
        throw error;
      }
    });
  }

  /** One topic's metadata; `UNKNOWN_TOPIC` when it does not exist. */
  async topic(name: string, force = false): Promise<ClusterTopicMetadata> {
    const metadata = await this.metadata([name], force);
    const topic = metadata.topics.get(name);
    if (topic === undefined) {
      throw new HeraldError('UNKNOWN_TOPIC', `topic "${name}" does not exist`, { details: { topic: name } });
    }
    return topic;
  }

  /** The broker leading one partition. */
  async leader(topic: string, partition: number): Promise<{ broker: Broker; nodeId: number }> {
    const metadata = await this.metadata([topic]);
    const nodeId = metadata.topics.get(topic)?.partitions[partition]?.leader;
    const broker = nodeId === undefined ? undefined : metadata.brokers.get(nodeId);
    if (nodeId === undefined || broker === undefined) {
      this.client.clearMetadata();
      throw new HeraldError('BACKEND_UNAVAILABLE', `no leader known for ${topic}/${partition}`);
    }
    return { broker, nodeId };
  }

  /** Sends one request to one broker, using the highest API version both sides speak. */
  async request<R>(broker: Broker, api: string, ...args: unknown[]): Promise<R> {
    return this.#retry(() => this.#send<R>(broker, api, args));
  }

  /** Sends one request to the group's coordinator, finding it (again) as needed. */
  async coordinatorRequest<R>(group: string, api: string, ...args: unknown[]): Promise<R> {
    return this.#retry(async () => {
      const coordinator = await this.coordinator(group);
      try {
        return await this.#send<R>(coordinator, api, args);
      } catch (error) {
        if (isNetworkError(error) || hasKafkaError(error, ...COORDINATOR_ERRORS))
          this.#coordinators.delete(group);
        throw error;
      }
    });
  }

  /** The broker coordinating `group`. */
  async coordinator(group: string): Promise<Broker> {
    const known = this.#coordinators.get(group);
    if (known !== undefined) return known;
    const connection = await new Promise<Connection>((resolve, reject) => {
      this.client[kGetBootstrapConnection]((error, result) => (error ? reject(error) : resolve(result!)));
    });
    const api = await this.#api('FindCoordinator');
    const response = (await api.async(connection, FindCoordinatorKeyTypes.GROUP, [group])) as {
      coordinators: { key: string; nodeId: number; host: string; port: number }[];
    };
    const found = response.coordinators.find((c) => c.key === group) ?? response.coordinators[0];
    if (found === undefined)
      throw new HeraldError('BACKEND_UNAVAILABLE', `no coordinator for group "${group}"`);
    const broker = { host: found.host, port: found.port };
    this.#coordinators.set(group, broker);
    return broker;
  }

  /**
   * Offsets of partitions of one topic at `timestamp` (EARLIEST, LATEST or epoch ms): for a time,
   * the first offset whose timestamp is at or after it, or the end of the partition when none is.
   */
  async listOffsets(
    topic: string,
    partitions: readonly number[],
    timestamp: bigint,
  ): Promise<Map<number, number>> {
    const byLeader = new Map<string, { broker: Broker; partitions: number[] }>();
    for (const partition of partitions) {
      const { broker, nodeId } = await this.leader(topic, partition);
      const entry = byLeader.get(String(nodeId)) ?? { broker, partitions: [] };
      entry.partitions.push(partition);
      byLeader.set(String(nodeId), entry);
    }
    const result = new Map<number, number>();
    await Promise.all(
      [...byLeader.values()].map(async ({ broker, partitions: ofLeader }) => {
        const response = await this.request<{
          topics: { name: string; partitions: { partitionIndex: number; offset: bigint }[] }[];
        }>(broker, 'ListOffsets', -1, READ_COMMITTED, [
          {
            name: topic,
            partitions: ofLeader.map((partitionIndex) => ({
              partitionIndex,
              currentLeaderEpoch: -1,
              timestamp,
            })),
          },
        ]);
        for (const entry of response.topics) {
          for (const p of entry.partitions) result.set(p.partitionIndex, Number(p.offset));
        }
      }),
    );
    if (timestamp >= 0n) {
      const ends = [...result].filter(([, offset]) => offset < 0).map(([partition]) => partition);
      if (ends.length > 0) {
        for (const [partition, offset] of await this.listOffsets(topic, ends, LATEST))
          result.set(partition, offset);
      }
    }
    return result;
  }

  /**
   * A sessionless fetch (every partition named in full) of one topic's partitions from their
   * leaders. Per-partition errors are returned, not thrown, so the caller can act on each.
   */
  async fetch(
    topic: string,
    partitions: readonly FetchRequestPartition[],
    options: { readonly maxWaitMs: number; readonly maxBytes: number; readonly partitionMaxBytes: number },
  ): Promise<Map<number, FetchResponsePartition>> {
    const metadata = await this.metadata([topic]);
    const topicMetadata = metadata.topics.get(topic);
    if (topicMetadata === undefined || partitions.length === 0) return new Map();
    const byLeader = new Map<number, { broker: Broker; partitions: FetchRequestPartition[] }>();
    for (const request of partitions) {
      const { broker, nodeId } = await this.leader(topic, request.partition);
      const entry = byLeader.get(nodeId) ?? { broker, partitions: [] };
      entry.partitions.push(request);
      byLeader.set(nodeId, entry);
    }
    const api = await this.#api('Fetch');
    const byName = api.version <= 12;
    const result = new Map<number, FetchResponsePartition>();
    await Promise.all(
      [...byLeader.values()].map(async ({ broker, partitions: ofLeader }) => {
        const request = [
          {
            topicId: byName ? topic : topicMetadata.id,
            partitions: ofLeader.map((p) => ({
              partition: p.partition,
              currentLeaderEpoch: -1,
              fetchOffset: BigInt(p.offset),
              lastFetchedEpoch: -1,
              partitionMaxBytes: options.partitionMaxBytes,
            })),
          },
        ];
        let response: FetchResponse;
        try {
          response = await this.#send<FetchResponse>(broker, 'Fetch', [
            options.maxWaitMs,
            1,
            options.maxBytes,
            READ_COMMITTED,
            0,
            -1,
            request,
            [],
            '',
          ]);
        } catch (error) {
          const partial = (error as { response?: FetchResponse }).response;
          if (partial === undefined || partial.errorCode !== 0) {
            if (isNetworkError(error) || hasKafkaError(error, ...STALE_METADATA)) this.client.clearMetadata();
            throw error;
          }
          response = partial;
        }
        for (const entry of response.responses) {
          for (const partition of entry.partitions) result.set(partition.partitionIndex, partition);
        }
      }),
    );
    if ([...result.values()].some((p) => p.errorCode !== 0 && p.errorCode !== 1)) this.client.clearMetadata();
    return result;
  }

  async #send<R>(broker: Broker, name: string, args: readonly unknown[]): Promise<R> {
    if (this.#closed) throw new HeraldError('CLOSED', 'the Kafka client is closed');
    const [connection, api] = await Promise.all([
      new Promise<Connection>((resolve, reject) => {
        this.client[kGetConnection](broker, (error, result) => (error ? reject(error) : resolve(result!)));
      }),
      this.#api(name),
    ]);
    return (await api.async(connection, ...args)) as R;
  }

  #api(name: string): Promise<API<unknown[], unknown>> {
    return new Promise((resolve, reject) => {
      this.client[kGetApi]<unknown[], unknown>(name, (error, api) => (error ? reject(error) : resolve(api!)));
    });
  }

  async #retry<R>(operation: (attempt: number) => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await operation(attempt);
      } catch (error) {
        const retriable =
          isNetworkError(error) ||
          hasKafkaError(error, ...STALE_METADATA, ...COORDINATOR_ERRORS) ||
          kafkaErrorId(error) === 'REQUEST_TIMED_OUT';
        if (!retriable || attempt >= this.#retries || this.#closed) throw error;
        if (hasKafkaError(error, ...STALE_METADATA)) this.client.clearMetadata();
        await sleep(this.#retryDelayMs * (attempt + 1));
        if (this.#closed) throw error;
      }
    }
  }
}

/**
 * The records of a fetched partition at or after `fromOffset`, in offset order: control
 * records (transaction markers) and records of aborted transactions are left out; timestamps
 * are the broker's append time when the topic uses LogAppendTime, else the producer's.
 */
export function fetchedRecords(partition: FetchResponsePartition, fromOffset: number): FetchedRecord[] {
  const batches: RecordsBatch[] = partition.records ?? [];
  const aborted = [...(partition.abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const abortedProducers = new Set<bigint>();
  const records: FetchedRecord[] = [];
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    const transactional = (batch.attributes & IS_TRANSACTIONAL) !== 0;
    if (transactional) {
      while (aborted.length > 0 && aborted[0]!.firstOffset <= lastOffset) {
        abortedProducers.add(aborted.shift()!.producerId);
      }
    }
    if ((batch.attributes & IS_CONTROL) !== 0) {
      // A control batch holds one marker; an ABORT marker (type 0) ends the producer's aborted range.
      const marker = batch.records[0]?.key;
      if (marker !== null && marker !== undefined && marker.length >= 4 && marker.readInt16BE(2) === 0) {
        abortedProducers.delete(batch.producerId);
      }
      continue;
    }
    if (transactional && abortedProducers.has(batch.producerId)) continue;
    // Converted from bigint once per batch, not once per record.
    const firstOffset = Number(batch.firstOffset);
    const appendTime =
      (batch.attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0 ? Number(batch.maxTimestamp) : undefined;
    const firstTimestamp = Number(batch.firstTimestamp);
    for (const record of batch.records) {
      const offset = firstOffset + record.offsetDelta;
      if (offset < fromOffset) continue;
      records.push({
        offset,
        timestamp: appendTime ?? firstTimestamp + Number(record.timestampDelta),
        key: record.key,
        value: record.value,
        headers: record.headers,
      });
    }
  }
  return records;
}
