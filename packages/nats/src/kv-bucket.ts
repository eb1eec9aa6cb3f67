import { HeraldError } from '@herald/core';
import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { JS_ERRORS, jetStreamCode } from './nats-errors.ts';

/*
 * The few key-value operations Herald needs, on a JetStream KV bucket laid out exactly as the
 * NATS KV API lays one out (stream `KV_<bucket>`, subjects `$KV.<bucket>.<key>`, one value
 * per key), so `nats kv get herald_groups …` reads what Herald writes. Every write is a
 * compare-and-set on the key's revision (its stream sequence), which is what makes the
 * coordination on top of it safe: two writers that read the same revision cannot both win.
 */

/** A key's current value and its revision (the stream sequence of the write that set it). */
export interface KvEntry {
  readonly value: Uint8Array;
  readonly revision: number;
  /** Server time of the write, in milliseconds since the epoch. */
  readonly time: number;
}

export interface KvBucketSettings {
  readonly replicas: number;
  readonly storage: 'file' | 'memory';
}

const OPERATION_HEADER = 'KV-Operation';

/** Passed only by {@link KvBucket.open}: a bucket is never constructed without its stream. */
const opening = Symbol('KvBucket.open');

/** A KV bucket accessed through plain JetStream requests. */
export class KvBucket {
  readonly name: string;
  readonly stream: string;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;

  /** Use {@link KvBucket.open}. */
  constructor(token: typeof opening, js: JetStreamClient, jsm: JetStreamManager, name: string) {
    if (token !== opening)
      throw new HeraldError('INVALID_ARGUMENT', 'a KvBucket is opened with KvBucket.open()');
    this.#js = js;
    this.#jsm = jsm;
    this.name = name;
    this.stream = `KV_${name}`;
  }

  /** Opens the bucket, creating it when it does not exist. */
  static async open(
    js: JetStreamClient,
    jsm: JetStreamManager,
    name: string,
    settings: KvBucketSettings,
  ): Promise<KvBucket> {
    const stream = `KV_${name}`;
    try {
      await jsm.streams.add({
        name: stream,
        subjects: [`$KV.${name}.>`],
        retention: RetentionPolicy.Limits,
        max_msgs_per_subject: 1,
        discard: DiscardPolicy.New,
        allow_rollup_hdrs: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        storage: settings.storage === 'memory' ? StorageType.Memory : StorageType.File,
        num_replicas: settings.replicas,
        duplicate_window: nanos(120_000),
      });
    } catch (error) {
      // Made by someone else with other settings (`nats kv add` with more history): use it as it is.
      if (jetStreamCode(error) !== JS_ERRORS.streamNameInUse) throw error;
    }
    return new KvBucket(opening, js, jsm, name);
  }

  /**
   * The key's current entry, or null when it was never set (or was deleted). Read from the
   * stream's leader, never a replica that may lag: coordination decides on what it reads.
   */
  async get(key: string): Promise<KvEntry | null> {
    let message;
    try {
      message = await this.#jsm.streams.getMessage(this.stream, { last_by_subj: this.#subject(key) });
    } catch (error) {
      if (jetStreamCode(error) === JS_ERRORS.noMessageFound) return null;
      throw error;
    }
    if (message === null) return null;
    const operation = message.header?.get(OPERATION_HEADER) ?? '';
    if (operation === 'DEL' || operation === 'PURGE') return null;
    return { value: message.data, revision: message.seq, time: message.time.getTime() };
  }

  /** Sets the key when it has never been set; returns the new revision, or null when it exists. */
  create(key: string, value: Uint8Array): Promise<number | null> {
    return this.update(key, value, 0);
  }

  /**
   * Sets the key when its revision is still `revision` (0: never set); returns the new revision,
   * or null when another write came first.
   */
  async update(key: string, value: Uint8Array, revision: number): Promise<number | null> {
    try {
      const ack = await this.#js.publish(this.#subject(key), value, {
        expect: { lastSubjectSequence: revision },
      });
      return ack.seq;
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JS_ERRORS.wrongLastSequence) return null;
      throw error;
    }
  }

  /** Keys matching a filter (`*` one token, `>` the rest), from the stream's subject index. */
  async keys(filter: string): Promise<string[]> {
    const prefix = `$KV.${this.name}.`;
    const info = await this.#jsm.streams.info(this.stream, { subjects_filter: prefix + filter });
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  }

  /** Removes every key matching a filter, history and all. */
  async purge(filter: string): Promise<void> {
    await this.#jsm.streams.purge(this.stream, { filter: `$KV.${this.name}.${filter}` });
  }

  /** The subject writes to `key` are published on: subscribe to it to hear of changes. */
  subjectOf(key: string): string {
    return this.#subject(key);
  }

  #subject(key: string): string {
    return `$KV.${this.name}.${key}`;
  }
}
