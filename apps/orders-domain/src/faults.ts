// Fault injection for the resilience lab (docs/orders.md): per downstream service, added latency
// (fixed, plus a tail on a share of calls), a transient error rate, and an outage (its
// consumers stopped). Settings live in the store, so that every process on a shared log file
// sees what the admin endpoint set; each process re-reads them every `pollIntervalMs`.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Middleware, Store } from '@herald/core';
import { z } from 'zod';
import { COLLECTIONS, DOWNSTREAM_SERVICES, type DownstreamService } from './topology.ts';

/** The faults of one service. */
export interface FaultSettings {
  /** Added to every call. */
  readonly latencyMs: number;
  /** Added on top for a share (`tailRate`) of calls: the slow tail. */
  readonly tailLatencyMs: number;
  readonly tailRate: number;
  /** Share of calls that fail with a transient error (retried by the runtime). */
  readonly errorRate: number;
  /** The service's consumers are stopped; events wait in the log. */
  readonly outage: boolean;
}

/** A healthy service. */
export const NO_FAULTS: FaultSettings = {
  latencyMs: 0,
  tailLatencyMs: 0,
  tailRate: 0,
  errorRate: 0,
  outage: false,
};

/** A partial update of one service's faults, as the admin endpoint and `HERALD_FAULTS` take it. */
export const faultSettingsSchema = z.strictObject({
  latencyMs: z.int().min(0).max(60_000).optional(),
  tailLatencyMs: z.int().min(0).max(60_000).optional(),
  tailRate: z.number().min(0).max(1).optional(),
  errorRate: z.number().min(0).max(1).optional(),
  outage: z.boolean().optional(),
});

export type FaultUpdate = z.infer<typeof faultSettingsSchema>;

/** `{ "payment": { "errorRate": 0.2 } }`: updates for several services. */
export const faultsConfigSchema = z.partialRecord(z.enum(DOWNSTREAM_SERVICES), faultSettingsSchema);

/** Thrown by an injected transient error; retryable, like a timeout or a refused connection. */
export class TransientFault extends Error {
  override readonly name = 'TransientFault';
}

/**
 * The fault settings of every downstream service, shared through the store.
 *
 * @example
 * const faults = new FaultController(store);
 * await faults.start();
 * router.use(faults.middleware('inventory'));
 */
export class FaultController {
  readonly #store: Store;
  readonly #pollIntervalMs: number;
  readonly #random: () => number;
  readonly #current = new Map<DownstreamService, FaultSettings>();
  readonly #listeners = new Set<(service: DownstreamService, settings: FaultSettings) => void>();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store, options: { pollIntervalMs?: number; random?: () => number } = {}) {
    this.#store = store;
    this.#pollIntervalMs = options.pollIntervalMs ?? 250;
    this.#random = options.random ?? Math.random;
  }

  /** Reads the settings and keeps re-reading them until `stop`. */
  async start(): Promise<void> {
    await this.refresh();
    this.#timer ??= setInterval(() => {
      this.refresh().catch(() => {
        // The store is closing or busy: the next poll tries again.
      });
    }, this.#pollIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  settings(service: DownstreamService): FaultSettings {
    return this.#current.get(service) ?? NO_FAULTS;
  }

  all(): Record<DownstreamService, FaultSettings> {
    return Object.fromEntries(DOWNSTREAM_SERVICES.map((s) => [s, this.settings(s)])) as Record<
      DownstreamService,
      FaultSettings
    >;
  }

  /** Called when a service's settings change (in this process or another). */
  onChange(listener: (service: DownstreamService, settings: FaultSettings) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Merges `update` into a service's settings, for every process on the store. */
  async update(service: DownstreamService, update: FaultUpdate): Promise<FaultSettings> {
    const next = await this.#store.transaction(async (tx) => {
      const stored = (await tx.get<FaultSettings>(COLLECTIONS.faults, service)) ?? NO_FAULTS;
      const merged = { ...stored, ...definedOnly(update) };
      await tx.put(COLLECTIONS.faults, service, merged);
      return merged;
    });
    this.#apply(service, next);
    return next;
  }

  /** Removes every fault. */
  async clear(): Promise<void> {
    await this.#store.transaction(async (tx) => {
      for (const service of DOWNSTREAM_SERVICES) await tx.delete(COLLECTIONS.faults, service);
    });
    for (const service of DOWNSTREAM_SERVICES) this.#apply(service, NO_FAULTS);
  }

  async refresh(): Promise<void> {
    const rows = await this.#store.list<FaultSettings>(COLLECTIONS.faults);
    const stored = new Map(rows.map((r) => [r.id, r.value]));
    for (const service of DOWNSTREAM_SERVICES) this.#apply(service, stored.get(service) ?? NO_FAULTS);
  }

  /**
   * What a faulty service does to one call: waits the added latency, then fails with
   * `TransientFault` for a share of calls. Aborting `signal` cuts the wait short.
   */
  async perturb(service: DownstreamService, signal?: AbortSignal): Promise<void> {
    const settings = this.settings(service);
    const delay =
      settings.latencyMs +
      (settings.tailRate > 0 && this.#random() < settings.tailRate ? settings.tailLatencyMs : 0);
    if (delay > 0) await sleep(delay, undefined, signal === undefined ? {} : { signal });
    if (settings.errorRate > 0 && this.#random() < settings.errorRate) {
      throw new TransientFault(`injected transient error in ${service}`);
    }
  }

  /** Applies `perturb` before each handler call (put it inside `retry`, so injected errors are retried). */
  middleware(service: DownstreamService): Middleware {
    return (next) => async (event, context) => {
      await this.perturb(service, context.signal);
      await next(event, context);
    };
  }

  #apply(service: DownstreamService, settings: FaultSettings): void {
    const previous = this.settings(service);
    this.#current.set(service, settings);
    if (!sameSettings(previous, settings))
      for (const listener of this.#listeners) listener(service, settings);
  }
}

function definedOnly(update: FaultUpdate): Partial<FaultSettings> {
  const defined: Partial<Record<keyof FaultSettings, number | boolean>> = {};
  for (const [key, value] of Object.entries(update) as [
    keyof FaultSettings,
    number | boolean | undefined,
  ][]) {
    if (value !== undefined) defined[key] = value;
  }
  return defined as Partial<FaultSettings>;
}

function sameSettings(a: FaultSettings, b: FaultSettings): boolean {
  return (
    a.latencyMs === b.latencyMs &&
    a.tailLatencyMs === b.tailLatencyMs &&
    a.tailRate === b.tailRate &&
    a.errorRate === b.errorRate &&
    a.outage === b.outage
  );
}
