// What a service is: a name, a consumer group, the topics it reads and writes, its handlers and
// its declared effects, run with a default middleware stack.
import {
  type EventLog,
  HeraldError,
  type Middleware,
  type Router,
  type RouterOptions,
  type StartPosition,
  type Store,
  createRouter,
  deadLetter,
  idempotency,
  retry,
} from '@herald/core';
import { type MetricsMiddleware, metrics } from '@herald/core/metrics';
import { tracing } from '@herald/core/tracing';

/** Where service output goes; `console` fits, tests pass a silent one. */
export interface Logger {
  info(message: string): void;
  error(message: string, error?: unknown): void;
}

/** A logger that drops everything. */
export const SILENT_LOGGER: Logger = { info: () => undefined, error: () => undefined };

/** A Prometheus registry (prom-client's `Registry`), shared by every router of a process. */
export type MetricsRegistry = MetricsMiddleware['registry'];

/** What a running service is given. */
export interface ServiceContext {
  /** The service's name. */
  readonly name: string;
  readonly log: EventLog;
  /** The service's own store: its documents, inbox and (on Postgres) outbox. */
  readonly store: Store;
  /** The process's registry: every router's metrics go there, `/metrics` renders it. */
  readonly registry: MetricsRegistry;
  readonly logger: Logger;
  /** Consumer-group session timeout; shorter means a killed process's partitions move sooner. */
  readonly sessionTimeoutMs?: number;
}

/** A topic a service writes, created with this many partitions when missing. */
export interface ProducedTopic {
  readonly topic: string;
  readonly partitions: number;
}

/**
 * Whether the routers of a service should be paused, and when that changes (an injected outage,
 * a maintenance switch). While paused, the service's routers are stopped: events wait in the log.
 */
export interface PauseSignal {
  readonly paused: boolean;
  /** Calls `listener` on every change; returns the function that unsubscribes. */
  subscribe(listener: (paused: boolean) => void): () => void;
}

/**
 * A service as the supervisor runs it: its routers, each built by a factory. A router runs once,
 * so after a crash or a pause the supervisor builds a new one; the group's committed position
 * carries over.
 */
export interface Service {
  readonly name: string;
  readonly groups: readonly string[];
  readonly routers: readonly (() => Router)[];
  /** Runs once before the routers first start (seeding the service's own state). */
  prepare?(): Promise<void>;
  readonly pause?: PauseSignal;
}

/** What a definition is instantiated into, once per process, with the service's context. */
export interface ServiceDefinition {
  readonly name: string;
  /** Every consumer group the service's routers join. */
  readonly groups: readonly string[];
  /** Topics the service reads; they must exist (another service produces them) or be produced here. */
  readonly consumes: readonly string[];
  /** Topics the service writes: created, when missing, before any service of the process starts. */
  readonly produces: readonly ProducedTopic[];
  create(context: ServiceContext): Service;
}

/** The middleware stack `defaultMiddleware` builds, by name, for overriding one part. */
export interface DefaultMiddlewareOptions {
  /** Options of `retry()`. Default 8 attempts, 50 ms doubling up to 2 s. */
  readonly retry?: Parameters<typeof retry>[0];
  /** Middleware placed just inside `metrics` and outside `idempotency` (fault injection, auth). */
  readonly inner?: readonly Middleware[];
}

/**
 * The middleware every consumer runs by default, outermost first: failures that outlive their
 * retries are parked in `<topic>.dead-letter` (deadLetter), retried with backoff per key
 * (retry; `CONTENTION` included), traced (tracing: one span per attempt), measured in the
 * process's registry (metrics), then `options.inner`, and applied once per event id
 * (idempotency: the inbox entry commits with the handler's transaction).
 */
export function defaultMiddleware(
  context: ServiceContext,
  options: DefaultMiddlewareOptions = {},
): Middleware[] {
  return [
    deadLetter(),
    retry(options.retry ?? { maxAttempts: 8, initialDelayMs: 50, maxDelayMs: 2_000 }),
    tracing(),
    metrics({ registry: context.registry }),
    ...(options.inner ?? []),
    idempotency({ store: context.store }),
  ];
}

/** What `defineService` takes. */
export interface ServiceSpec {
  readonly name: string;
  /** The consumer group, `<service>.<purpose>`: its position in the log (rename on purpose only). */
  readonly group: string;
  /** Topics its handlers read. */
  readonly consumes: readonly string[];
  /** Topics it writes, with the partitions they are created with when missing. */
  readonly produces?: readonly ProducedTopic[];
  /** Registers the handlers on the service's router (`router.on(Definition, handler)`). */
  handlers(router: Router, context: ServiceContext): void;
  /**
   * Declared effects (`ctx.effect`): `auto` (default) suppresses them for history the group
   * reads before it went live; `perform` always runs them; `suppress` never does.
   */
  readonly effects?: RouterOptions['effects'];
  /**
   * The middleware: by default {@link defaultMiddleware}; a list replaces it; a function gets
   * the defaults and returns the stack (extend or reorder them).
   */
  readonly middleware?:
    readonly Middleware[] | ((defaults: Middleware[], context: ServiceContext) => readonly Middleware[]);
  /** Where a new group starts. Default `earliest`. */
  readonly startAt?: StartPosition;
  /** How often the group's progress is committed. Default: the log's `capabilities.commitIntervalMs`. */
  readonly commitIntervalMs?: number;
  readonly maxInFlight?: number;
  readonly decoder?: RouterOptions['decoder'];
  /** Runs once before the router first starts. */
  readonly prepare?: (context: ServiceContext) => Promise<void>;
  /** Pauses the router while it says so. */
  readonly pause?: PauseSignal;
}

/**
 * Defines a service with one consumer group. The definition is inert: `startServices` creates
 * its topics, opens its store and runs (and restarts) its router.
 *
 * @example
 * export const mailer = defineService({
 *   name: 'mailer', group: 'mailer.welcome', consumes: ['users'],
 *   produces: [{ topic: 'mail', partitions: 4 }],
 *   handlers(router, { log }) {
 *     router.on(UserSignedUp, async (user, _event, ctx) => { await ctx.effect('send', (key) => send(user, key)); });
 *   },
 * });
 */
export function defineService(spec: ServiceSpec): ServiceDefinition {
  if (spec.consumes.length === 0) {
    throw new HeraldError('INVALID_ARGUMENT', `service ${spec.name} consumes no topic: give it at least one`);
  }
  return {
    name: spec.name,
    groups: [spec.group],
    consumes: [...spec.consumes],
    produces: [...(spec.produces ?? [])],
    create(context) {
      const build = () => {
        const defaults = defaultMiddleware(context);
        const middleware =
          spec.middleware === undefined
            ? defaults
            : typeof spec.middleware === 'function'
              ? spec.middleware(defaults, context)
              : spec.middleware;
        const router = createRouter({
          log: context.log,
          group: spec.group,
          topics: spec.consumes,
          store: context.store,
          middleware,
          ...(spec.effects === undefined ? {} : { effects: spec.effects }),
          ...(spec.startAt === undefined ? {} : { startAt: spec.startAt }),
          ...(spec.commitIntervalMs === undefined ? {} : { commitIntervalMs: spec.commitIntervalMs }),
          ...(spec.maxInFlight === undefined ? {} : { maxInFlight: spec.maxInFlight }),
          ...(spec.decoder === undefined ? {} : { decoder: spec.decoder }),
          ...(context.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: context.sessionTimeoutMs }),
        });
        spec.handlers(router, context);
        return router;
      };
      const prepare = spec.prepare;
      return {
        name: spec.name,
        groups: [spec.group],
        routers: [build],
        ...(prepare === undefined ? {} : { prepare: () => prepare(context) }),
        ...(spec.pause === undefined ? {} : { pause: spec.pause }),
      };
    },
  };
}

/**
 * Several definitions run as one service (one name, one store, several groups): a service with a
 * saga and a view, say. Their `prepare` steps run in order.
 */
export function combineServices(name: string, parts: readonly ServiceDefinition[]): ServiceDefinition {
  return {
    name,
    groups: parts.flatMap((p) => p.groups),
    consumes: [...new Set(parts.flatMap((p) => p.consumes))],
    produces: parts.flatMap((p) => p.produces),
    create(context) {
      const services = parts.map((p) => p.create(context));
      const pause = services.find((s) => s.pause !== undefined)?.pause;
      return {
        name,
        groups: services.flatMap((s) => s.groups),
        routers: services.flatMap((s) => s.routers),
        prepare: async () => {
          for (const service of services) await service.prepare?.();
        },
        ...(pause === undefined ? {} : { pause }),
      };
    },
  };
}
