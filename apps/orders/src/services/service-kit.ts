// What every service of the flow is made of: routers built with the same middleware stack, run
// and supervised by a ServiceRunner that also stops them during an injected outage.
import {
  type EventLog,
  type Middleware,
  type Router,
  type Store,
  deadLetter,
  idempotency,
  retry,
} from '@herald/core';
import { type MetricsMiddleware, metrics } from '@herald/core/metrics';
import { tracing } from '@herald/core/tracing';
import {
  DOWNSTREAM_SERVICES,
  type DownstreamService,
  type ServiceName,
} from '@herald/orders-domain/topology.ts';
import type { FaultController } from '@herald/orders-domain/faults.ts';

/** Where service output goes; `console` fits, tests pass a silent one. */
export interface Logger {
  info(message: string): void;
  error(message: string, error?: unknown): void;
}

/** What every service is given. */
export interface ServiceContext {
  readonly log: EventLog;
  readonly store: Store;
  readonly faults: FaultController;
  /** The process's Prometheus registry; every router's metrics go there. */
  readonly registry: MetricsMiddleware['registry'];
  readonly logger: Logger;
  /** Consumer-group session timeout; shorter means a killed process's partitions move sooner. */
  readonly sessionTimeoutMs?: number;
}

/**
 * The middleware every consumer of the flow runs, outermost first: failures that outlive their
 * retries are parked in `<topic>.dead-letter` (deadLetter), retried with backoff per key
 * (retry; `CONTENTION` on a hot document, such as one SKU's stock, is retried too), traced (tracing: one span per attempt), measured (metrics), perturbed
 * by injected faults when `injectFaults`, and applied once per event id (idempotency: the inbox
 * entry commits with the handler's transaction).
 */
export function consumerMiddleware(
  context: ServiceContext,
  service: ServiceName,
  options: { readonly injectFaults: boolean },
): Middleware[] {
  const stack: Middleware[] = [
    deadLetter(),
    retry({ maxAttempts: 8, initialDelayMs: 50, maxDelayMs: 2_000 }),
    tracing(),
    metrics({ registry: context.registry }),
  ];
  if (options.injectFaults && isDownstream(service)) stack.push(context.faults.middleware(service));
  stack.push(idempotency({ store: context.store }));
  return stack;
}

/** Options every router of the flow shares. */
export function routerDefaults(context: ServiceContext): { sessionTimeoutMs?: number } {
  return context.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: context.sessionTimeoutMs };
}

/** A service: its name, its consumer groups, and how to build its routers. */
export interface Service {
  readonly name: ServiceName;
  readonly groups: readonly string[];
  /**
   * One factory per router. A router runs once, so after an outage or a crash the runner builds
   * a new one from its factory; the group's committed position carries over.
   */
  readonly routers: readonly (() => Router)[];
  /** Runs once before the routers first start (seeding the service's own state). */
  prepare?(): Promise<void>;
}

/** Whether a service takes injected faults (every one but `orders`). */
export function isDownstream(service: ServiceName): service is DownstreamService {
  return (DOWNSTREAM_SERVICES as readonly string[]).includes(service);
}

const RESTART_DELAY_MS = 1_000;

/**
 * Runs a service's routers and keeps them running: a router that stops with an error (one that
 * escaped every middleware, e.g. the dead-letter topic could not be written) is logged and
 * started again after a second, from its group's committed position. An injected outage stops
 * the routers (events wait in the log, lag grows); lifting it starts new ones.
 */
export class ServiceRunner {
  readonly service: Service;
  readonly #context: ServiceContext;
  readonly #running = new Map<number, { router: Router; done: Promise<void> }>();
  #stopping = false;
  #started = false;
  #outage = false;
  #unsubscribe: (() => void) | undefined;
  #transition: Promise<void> = Promise.resolve();

  constructor(service: Service, context: ServiceContext) {
    this.service = service;
    this.#context = context;
  }

  /** `running`, `outage` (stopped by an injected fault) or `stopped`. */
  get state(): 'running' | 'outage' | 'stopped' {
    if (!this.#started || this.#stopping) return 'stopped';
    return this.#outage ? 'outage' : 'running';
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.service.prepare?.();
    const { name } = this.service;
    if (isDownstream(name)) {
      this.#outage = this.#context.faults.settings(name).outage;
      this.#unsubscribe = this.#context.faults.onChange((service, settings) => {
        if (service !== name || settings.outage === this.#outage) return;
        this.#outage = settings.outage;
        this.#transition = this.#transition.then(() => (settings.outage ? this.#halt() : this.#launchAll()));
      });
    }
    if (!this.#outage) await this.#launchAll();
  }

  /** Stops every router: each finishes its work in flight, commits and leaves its group. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe?.();
    await this.#transition;
    await this.#halt();
  }

  async #launchAll(): Promise<void> {
    if (this.#stopping) return;
    for (let index = 0; index < this.service.routers.length; index++) this.#launch(index);
    this.#context.logger.info(`${this.service.name}: consuming as ${this.service.groups.join(', ')}`);
  }

  #launch(index: number): void {
    if (this.#stopping || this.#outage || this.#running.has(index)) return;
    const router = this.service.routers[index]!();
    const done = router.run().then(
      () => {
        if (this.#running.get(index)?.router === router) this.#running.delete(index);
      },
      (error: unknown) => {
        if (this.#running.get(index)?.router === router) this.#running.delete(index);
        if (this.#stopping || this.#outage) return;
        this.#context.logger.error(`${this.service.name}: ${router.group} stopped; restarting in 1 s`, error);
        setTimeout(() => this.#launch(index), RESTART_DELAY_MS).unref();
      },
    );
    this.#running.set(index, { router, done });
  }

  async #halt(): Promise<void> {
    const running = [...this.#running.values()];
    this.#running.clear();
    await Promise.all(
      running.map(async ({ router, done }) => {
        await router.stop();
        await done;
      }),
    );
    if (running.length > 0 && !this.#stopping)
      this.#context.logger.info(`${this.service.name}: stopped (outage)`);
  }
}
