// What the console samples while it runs, in memory: each group's lag and each topic's rates
// over time. Nothing of it is kept across restarts; a history starts when the server does.
import type { EventLog } from '@herald/core';
import { groupLag } from './group-lag.ts';

/** A fixed-size buffer keeping the newest `capacity` items. */
export class RingBuffer<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #start = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  push(item: T): void {
    if (this.#items.length < this.#capacity) this.#items.push(item);
    else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.#capacity;
    }
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
  }
}

/** One sample of a group's lag. */
export interface LagSample {
  /** ISO 8601. */
  readonly at: string;
  readonly lag: number;
  readonly lagSeconds: number;
}

interface TopicSample {
  readonly at: number;
  /** Sum of the partitions' high watermarks. */
  readonly appended: number;
  /** Sum over groups of their committed offsets on the topic. */
  readonly consumed: number;
}

export interface SamplerOptions {
  readonly log: EventLog;
  /** Default 10 s. */
  readonly intervalMs?: number;
  /** Samples kept per group and topic. Default 360 (an hour at 10 s). */
  readonly capacity?: number;
  readonly now?: () => number;
  /** Told when a round fails (the backend is down): the next round tries again. */
  readonly onError?: (error: unknown) => void;
}

/** Rates are measured over this window (or the samples there are, when younger). */
const RATE_WINDOW_MS = 60_000;

/**
 * Samples every group's lag and every topic's appended and consumed offsets each `intervalMs`,
 * one round at a time (a slow round delays the next, never overlaps it).
 */
export class Sampler {
  readonly #log: EventLog;
  readonly #intervalMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #lag = new Map<string, RingBuffer<LagSample>>();
  readonly #topics = new Map<string, RingBuffer<TopicSample>>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(options: SamplerOptions) {
    this.#log = options.log;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#capacity = options.capacity ?? 360;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  /** Takes one sample of everything now. */
  async sample(): Promise<void> {
    const at = this.#now();
    const consumed = new Map<string, number>();
    for (const group of await this.#log.listGroups()) {
      const lag = await groupLag(this.#log, group, this.#now);
      this.#buffer(this.#lag, group).push({
        at: new Date(at).toISOString(),
        lag: lag.lag,
        lagSeconds: lag.lagSeconds,
      });
      for (const p of lag.partitions) {
        if (p.committed !== null) consumed.set(p.topic, (consumed.get(p.topic) ?? 0) + p.committed);
      }
    }
    for (const topic of await this.#log.listTopics()) {
      const description = await this.#log.describeTopic(topic.name);
      const appended = description.partitionInfo.reduce((sum, p) => sum + p.latest, 0);
      this.#buffer(this.#topics, topic.name).push({ at, appended, consumed: consumed.get(topic.name) ?? 0 });
    }
  }

  lagHistory(group: string): LagSample[] {
    return this.#lag.get(group)?.toArray() ?? [];
  }

  /** Events per second appended to and consumed from `topic` over the last minute; 0 before two samples. */
  rates(topic: string): { rateIn: number; rateOut: number } {
    const samples = this.#topics.get(topic)?.toArray() ?? [];
    const last = samples.at(-1);
    if (last === undefined) return { rateIn: 0, rateOut: 0 };
    const first = samples.find((s) => s.at >= last.at - RATE_WINDOW_MS) ?? last;
    const seconds = (last.at - first.at) / 1000;
    if (seconds <= 0) return { rateIn: 0, rateOut: 0 };
    return {
      rateIn: round(Math.max(0, last.appended - first.appended) / seconds),
      rateOut: round(Math.max(0, last.consumed - first.consumed) / seconds),
    };
  }

  #buffer<T>(map: Map<string, RingBuffer<T>>, key: string): RingBuffer<T> {
    let buffer = map.get(key);
    if (buffer === undefined) map.set(key, (buffer = new RingBuffer<T>(this.#capacity)));
    return buffer;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#round = this.sample()
        .catch(this.#onError)
        .finally(() => this.#schedule(this.#intervalMs));
    }, delayMs);
    this.#timer.unref();
  }
}

function round(rate: number): number {
  return Math.round(rate * 100) / 100;
}
