import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredEvent } from '@herald/core';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { MsgHdrs } from '@nats-io/transport-node';
import { JS_ERRORS, jetStreamCode } from './nats-errors.ts';

/** How long one pull waits at the server for new events before the feed asks again. */
const FETCH_EXPIRES_MS = 5000;
/** A crashed feed's consumer is removed by the server after this long without pulls. */
const CONSUMER_INACTIVE_MS = 30_000;
const MAX_BACKOFF_MS = 2000;

/** What a feed needs from the subscription it delivers to. */
export interface FeedHost {
  /** Waits for room in the subscription's buffer and reserves some; 0 when the feed was stopped. */
  reserve(feed: PartitionFeed): Promise<number>;
  /** Gives back reserved room that no event used. */
  unreserve(count: number): void;
  /** Delivers one event, using one reserved slot. */
  deliver(feed: PartitionFeed, event: StoredEvent): void;
  /**
   * The partition holds something that is not a CloudEvent: the subscription throws `error` to
   * its consumer after the events before it, and resolves once it has (or dropped it with the
   * partition); the feed then goes on past it.
   */
  fail(feed: PartitionFeed, error: unknown): Promise<void>;
}

/** What a feed needs from the log. */
export interface FeedLog {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Makes sure the partition's stream exists (it may not, after a crash mid-createTopic). */
  ensureStream(): Promise<unknown>;
  /** The partition's earliest retained offset, to tell retention gaps from lost deliveries. */
  earliest(): Promise<number>;
  toStoredEvent(
    headers: MsgHdrs | undefined,
    data: Uint8Array,
    sequence: number,
    timestamp: number,
  ): StoredEvent;
}

/**
 * Reads one owned partition for a subscription, in offset order, from `next` on: an ephemeral
 * JetStream consumer (no acknowledgements: the group's committed offset is Herald's, in KV)
 * pulled in batches no larger than the room the subscription grants, so events fetched ahead
 * never exceed `maxBufferedEvents`. Any failure (connection lost, consumer removed) makes a
 * new consumer at the next offset; nothing is skipped and nothing is delivered twice.
 */
export class PartitionFeed {
  readonly topic: string;
  readonly partition: number;
  readonly #stream: string;
  readonly #log: FeedLog;
  readonly #host: FeedHost;
  /** The next offset to deliver. */
  #next: number;
  #stopped = false;
  #interrupted = false;
  /** Stopped as a crash would: the server removes the consumer when it has been idle long enough. */
  #crashed = false;
  #consumer: Consumer | undefined;
  #messages: ConsumerMessages | undefined;
  #running: Promise<void> | undefined;
  readonly #stopSignal = Promise.withResolvers<void>();

  constructor(log: FeedLog, host: FeedHost, stream: string, topic: string, partition: number, next: number) {
    this.#log = log;
    this.#host = host;
    this.#stream = stream;
    this.topic = topic;
    this.partition = partition;
    this.#next = next;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The next offset this feed would deliver. */
  get next(): number {
    return this.#next;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /**
   * Ends the pull in progress early, so that the feed asks again with the room it is granted
   * now (another partition's feed started and needs its share). Messages the server sent for
   * the ended pull are detected as a gap and read again through a new consumer.
   */
  interrupt(): void {
    this.#interrupted = true;
    this.#messages?.stop();
  }

  /** Stops delivering at once and sends nothing more to the server, as a crashed process would. */
  crash(): void {
    this.#crashed = true;
    void this.stop();
  }

  /** Stops at once: nothing more is delivered after this call. Resolves once the consumer is gone. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#stopSignal.resolve();
    this.#messages?.stop();
    return this.#running ?? Promise.resolve();
  }

  async #run(): Promise<void> {
    let failures = 0;
    try {
      while (!this.#stopped) {
        this.#interrupted = false;
        const granted = await this.#host.reserve(this);
        let received = 0;
        try {
          if (granted === 0 || this.#stopped) continue;
          this.#consumer ??= await this.#createConsumer();
          const messages = await this.#consumer.fetch({ max_messages: granted, expires: FETCH_EXPIRES_MS });
          this.#messages = messages;
          if (this.#stopped || this.#interrupted) messages.stop();
          for await (const message of messages) {
            if (this.#stopped) break;
            const offset = message.seq - 1;
            if (offset < this.#next) continue;
            if (offset > this.#next && (await this.#log.earliest()) <= this.#next) {
              // A delivery went missing (not retention): start over from where we are.
              await this.#dropConsumer();
              break;
            }
            let event: StoredEvent;
            try {
              event = this.#log.toStoredEvent(
                message.headers,
                message.data,
                message.seq,
                Number(message.timestampNanos / 1_000_000n),
              );
            } catch (error) {
              await Promise.race([this.#host.fail(this, error), this.#stopSignal.promise]);
              this.#next = offset + 1;
              continue;
            }
            received++;
            this.#next = offset + 1;
            this.#host.deliver(this, event);
          }
          failures = 0;
        } catch (error) {
          if (this.#stopped) break;
          failures++;
          await this.#dropConsumer();
          if (jetStreamCode(error) === JS_ERRORS.streamNotFound)
            await this.#log.ensureStream().catch(() => undefined);
          await sleep(Math.min(MAX_BACKOFF_MS, 25 * 2 ** failures));
        } finally {
          this.#messages = undefined;
          this.#host.unreserve(granted - received);
        }
      }
    } finally {
      await this.#dropConsumer();
    }
  }

  async #createConsumer(): Promise<Consumer> {
    const info = await this.#log.jsm.consumers.add(this.#stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#next + 1,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(CONSUMER_INACTIVE_MS),
    });
    return this.#log.js.consumers.getConsumerFromInfo(info);
  }

  async #dropConsumer(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (consumer !== undefined && !this.#crashed) await consumer.delete().catch(() => undefined);
  }
}
