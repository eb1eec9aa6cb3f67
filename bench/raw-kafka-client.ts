import type { CloudEvent } from '@herald/core';
import { HEADER_ATTRIBUTES } from '@herald/core/backend';
import { encodeCloudEvent } from '@herald/kafka';
import {
  Consumer,
  FetchIsolationLevels,
  ProduceAcks,
  Producer,
  compatibilityPartitioner,
} from '@platformatic/kafka';
import type { CommitOptionsPartition, MessageToProduce } from '@platformatic/kafka';
import { BATCH_SIZE, ConsumedPositions } from './backends-workload.ts';

/**
 * Settings both sides of the Herald-vs-raw comparison share: the values `@herald/kafka` uses by
 * default (see `kafka-log-options.ts` and `kafka-subscription.ts`), so that the raw client is
 * configured like the adapter and only the adapter's own work differs.
 */
export const SHARED_SETTINGS = {
  connectTimeout: 5000,
  requestTimeout: 30_000,
  retries: 3,
  retryDelay: 250,
  sessionTimeout: 10_000,
  heartbeatInterval: 3000,
  rebalanceTimeout: 60_000,
  maxWaitTime: 500,
  fetchMaxBytes: 8 * 1024 * 1024,
  partitionMaxBytes: 1_048_576 + 65_536,
} as const;

type TextAttribute = Exclude<keyof CloudEvent, 'data' | 'extensions'>;

/** The CloudEvents Kafka binding's header name of each standard attribute, as `encodeCloudEvent` writes it. */
const HEADER_NAMES: readonly (readonly [TextAttribute, Buffer])[] = [
  ...HEADER_ATTRIBUTES.map((attribute) => [attribute, Buffer.from(`ce_${attribute}`)] as const),
  ['datacontenttype', Buffer.from('content-type')],
];

/**
 * Raw `@platformatic/kafka`, used directly, as the baseline of Herald's Kafka adapter: its own
 * idempotent `acks=all` Producer sending prepared records, and its own group Consumer
 * committing offsets itself. The records are the adapter's (`encodeCloudEvent`: the same key,
 * value and `ce_*` headers), prepared before timing, and partitioned by the library's
 * Java-compatible murmur2 partitioner, which puts each key where Herald's `partitionFor` does.
 */
export class RawKafkaClient implements AsyncDisposable {
  readonly #brokers: readonly string[];
  readonly #clientId: string;
  readonly #producer: Producer;

  constructor(brokers: readonly string[], clientId: string) {
    this.#brokers = brokers;
    this.#clientId = clientId;
    this.#producer = new Producer({
      clientId,
      bootstrapBrokers: [...brokers],
      connectTimeout: SHARED_SETTINGS.connectTimeout,
      requestTimeout: SHARED_SETTINGS.requestTimeout,
      retries: SHARED_SETTINGS.retries,
      retryDelay: SHARED_SETTINGS.retryDelay,
      autocreateTopics: false,
      idempotent: true,
      acks: ProduceAcks.ALL,
      partitioner: compatibilityPartitioner,
    });
  }

  /** The records of `events` as a raw application would hand them to the producer. */
  static messagesOf(events: readonly CloudEvent[], wireTopic: string): MessageToProduce[] {
    return events.map((event) => {
      const { key, value, headers } = encodeCloudEvent(event);
      return {
        topic: wireTopic,
        ...(key === null ? {} : { key }),
        ...(value === null ? {} : { value }),
        headers,
      };
    });
  }

  /**
   * The same records built the way an application using the client directly would build them
   * as it sends: the header names as constants, every value and the key with `Buffer.from`, the
   * data wrapped without a copy; no validation, no size check. Timed, unlike
   * {@link messagesOf}: this is the cost of turning events into records at all.
   */
  static buildMessages(events: readonly CloudEvent[], wireTopic: string): MessageToProduce[] {
    const messages: MessageToProduce[] = new Array<MessageToProduce>(events.length);
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const headers = new Map<Buffer, Buffer>();
      for (const [attribute, name] of HEADER_NAMES) {
        const value = event[attribute];
        if (value !== undefined) headers.set(name, Buffer.from(value));
      }
      for (const [attribute, value] of Object.entries(event.extensions ?? {})) {
        headers.set(Buffer.from(`ce_${attribute}`), Buffer.from(value));
      }
      const message: MessageToProduce = { topic: wireTopic, headers };
      if (event.partitionkey !== undefined) message.key = Buffer.from(event.partitionkey);
      if (event.data !== undefined) {
        message.value = Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength);
      }
      messages[i] = message;
    }
    return messages;
  }

  /** Sends one batch of records and waits for the broker's acknowledgement. */
  async produce(messages: MessageToProduce[]): Promise<void> {
    await this.#producer.send({ messages });
  }

  /**
   * Joins `wireGroup` as a new member, reads `wireTopic` from the earliest offset until `total`
   * records arrived — as the bytes the client delivers (`bytes`), or also turning every header
   * and the key into text as an application reading the events would (`attributes`) —
   * committing every partition's position every {@link BATCH_SIZE} records and at the end, then
   * leaves. Resolves with the milliseconds from the joined consumer's first read to the last
   * commit's acknowledgement, like the Herald side, and the process's CPU time over that span.
   */
  async consumeAll(
    wireGroup: string,
    wireTopic: string,
    total: number,
    read: 'bytes' | 'attributes',
  ): Promise<{ readonly elapsedMs: number; readonly cpuMicros: number }> {
    const consumer = new Consumer({
      groupId: wireGroup,
      clientId: this.#clientId,
      bootstrapBrokers: [...this.#brokers],
      connectTimeout: SHARED_SETTINGS.connectTimeout,
      requestTimeout: SHARED_SETTINGS.requestTimeout,
      retries: SHARED_SETTINGS.retries,
      retryDelay: SHARED_SETTINGS.retryDelay,
      sessionTimeout: SHARED_SETTINGS.sessionTimeout,
      heartbeatInterval: SHARED_SETTINGS.heartbeatInterval,
      rebalanceTimeout: SHARED_SETTINGS.rebalanceTimeout,
    });
    try {
      const stream = await consumer.consume({
        topics: [wireTopic],
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: false,
        maxWaitTime: SHARED_SETTINGS.maxWaitTime,
        maxBytes: SHARED_SETTINGS.fetchMaxBytes,
        maxBytesPerPartition: SHARED_SETTINGS.partitionMaxBytes,
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        highWaterMark: BATCH_SIZE,
      });
      const positions = new ConsumedPositions();
      const epochs = new Map<number, number>();
      const commit = () =>
        consumer.commit({
          offsets: positions.toCommit(wireTopic).map(({ partition, offset }): CommitOptionsPartition => ({
            topic: wireTopic,
            partition,
            offset: BigInt(offset),
            leaderEpoch: epochs.get(partition) ?? -1,
          })),
        });
      const cpu = process.cpuUsage();
      const started = performance.now();
      // Taken when the loop ends, before the stream is closed, as on the Herald side.
      let elapsed = Number.NaN;
      let used: NodeJS.CpuUsage = { user: Number.NaN, system: Number.NaN };
      try {
        for await (const message of stream) {
          if (read === 'attributes') {
            // What an application needs to do anything with the event: its attributes as text.
            const attributes: Record<string, string> = {};
            for (const [name, value] of message.headerEntries) {
              attributes[name.toString('latin1')] = value.toString('utf8');
            }
            attributes['ce_partitionkey'] ??= message.key.toString('utf8');
            if (attributes['ce_id'] === undefined) throw new Error(`record ${message.offset} has no ce_id`);
          }
          positions.consumed(message.partition, Number(message.offset));
          epochs.set(message.partition, message.leaderEpoch);
          if (positions.sinceCommit >= BATCH_SIZE || positions.seen >= total) await commit();
          if (positions.seen >= total) break;
        }
        elapsed = performance.now() - started;
        used = process.cpuUsage(cpu);
      } finally {
        await stream.close().catch(() => undefined);
      }
      if (positions.seen !== total || positions.total !== total) {
        throw new Error(
          `raw consumer read ${positions.seen} records (${positions.total} offsets) of ${total}`,
        );
      }
      return { elapsedMs: elapsed, cpuMicros: used.user + used.system };
    } finally {
      await consumer.close(true);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#producer.close(true);
  }
}
