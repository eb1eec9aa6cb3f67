// The console as a Fastify plugin: security headers, sessions, the API routes and the UI.
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import type { EventLog, Store } from '@herald/core';
import { type SchemaRegistry, SCHEMA_REGISTRY_TOPIC, openSchemaRegistry } from '@herald/schemas';
import { Counter, type Registry } from 'prom-client';
import { registerAuthentication, registerSessionRoutes } from './auth.ts';
import type { ConsoleContext, LoginFailureCounter } from './context.ts';
import { type Discards, storeDiscards } from './dead-letters.ts';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.ts';
import { registerMutationRoutes } from './mutation-routes.ts';
import { problem, sendProblem } from './problems.ts';
import { registerReadRoutes } from './read-routes.ts';
import { Sampler } from './sampler.ts';
import { SessionStore } from './sessions.ts';
import { PLACEHOLDER_PAGE, findUiBuild } from './ui.ts';
import type { UserDirectory } from './users.ts';

/** What the console serves, and from what. */
export interface ConsoleOptions {
  readonly log: EventLog;
  /**
   * Where redrives are counted and deduplicated and discard marks are kept, in the transaction
   * that records the trail's entry. Without one, redrives are best effort and discarding is
   * refused (UNSUPPORTED).
   */
  readonly store?: Store;
  /** The schema registry; default: the one kept in the log (`herald.schemas`), when there is one. */
  readonly schemas?: SchemaRegistry;
  readonly users: UserDirectory;
  /** How entries are discarded; default: marks in `store` ({@link storeDiscards}). */
  readonly discards?: Discards;
  /** Sessions end after this long without a request. Default 30 minutes. */
  readonly sessionIdleMs?: number;
  readonly loginThrottle?: LoginThrottleOptions;
  /** Mark the session cookie `Secure` (the console is served over HTTPS). Default false. */
  readonly secureCookie?: boolean;
  /** Registry of `herald_console_login_failures_total`. Default: a registry of its own. */
  readonly registry?: Registry;
  /** Folder of the UI's static build; default `@herald/console-ui`'s when installed; false: none. */
  readonly ui?: string | false | undefined;
  /** Events one search reads at most. Default 10 000. */
  readonly scanCap?: number;
  /** How often lag and rates are sampled. Default 10 s. */
  readonly sampleIntervalMs?: number;
}

/** The Content-Security-Policy of every answer: nothing inline, nothing from elsewhere. */
export const CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    fontSrc: ["'self'"],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
};

/**
 * The console's routes, with their own security headers, cookie parsing, error answers and
 * sampler (stopped when the instance closes). Register it on an instance of its own (see
 * `startConsole`), so its CSP and 404 answers apply to the whole listener.
 *
 * @example await app.register(consolePlugin, { log, store, users: await usersFromEnv() });
 */
export const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { log } = options;
  const sampler = new Sampler({
    log,
    ...(options.sampleIntervalMs === undefined ? {} : { intervalMs: options.sampleIntervalMs }),
    onError: (error) => app.log.warn({ err: error }, 'console sampling failed'),
  });
  let registry: SchemaRegistry | undefined = options.schemas;
  const context: ConsoleContext = {
    log,
    store: options.store,
    users: options.users,
    sessions: new SessionStore({ idleMs: options.sessionIdleMs ?? 30 * 60_000 }),
    throttle: new LoginThrottle(options.loginThrottle),
    sampler,
    discards:
      options.discards ?? (options.store === undefined ? undefined : storeDiscards(log, options.store)),
    async schemas() {
      if (registry === undefined) {
        // Reading never creates the registry's topic.
        if (!(await log.listTopics()).some((t) => t.name === SCHEMA_REGISTRY_TOPIC)) return undefined;
        registry = await openSchemaRegistry({ log });
      } else {
        await registry.refresh();
      }
      return registry;
    },
    scanCap: options.scanCap ?? 10_000,
    loginFailures: loginFailureCounter(options.registry),
    secureCookie: options.secureCookie ?? false,
    cookieName: options.secureCookie === true ? '__Host-herald-console' : 'herald-console',
  };

  await app.register(helmet, {
    contentSecurityPolicy: CONTENT_SECURITY_POLICY,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
    hsts: options.secureCookie === true,
  });
  await app.register(cookie);
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });
  registerAuthentication(app, context);
  registerSessionRoutes(app, context);
  registerReadRoutes(app, context);
  registerMutationRoutes(app, context);

  const ui = options.ui === false ? undefined : (options.ui ?? findUiBuild());
  if (ui !== undefined) {
    await app.register(fastifyStatic, { root: ui, prefix: '/', wildcard: false, index: ['index.html'] });
  } else if (options.ui !== false) {
    app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PLACEHOLDER_PAGE));
  }

  app.setErrorHandler((error, request, reply) => sendProblem(request, reply, error));
  app.setNotFoundHandler((request, reply) => {
    // The UI routes in the browser: a page path that is no file gets its index.html.
    if (
      ui !== undefined &&
      request.method === 'GET' &&
      !request.url.startsWith('/api/') &&
      accepts(request.headers.accept)
    ) {
      return reply.sendFile('index.html');
    }
    return reply
      .code(404)
      .type('application/problem+json')
      .send({ ...problem(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`) });
  });

  sampler.start();
  app.addHook('onClose', async () => {
    await sampler.stop();
  });
};

function accepts(accept: string | undefined): boolean {
  return accept?.includes('text/html') === true;
}

function loginFailureCounter(registry: Registry | undefined): LoginFailureCounter {
  const name = 'herald_console_login_failures_total';
  const existing = registry?.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({
    name,
    help: 'Failed console logins: wrong user name or password, or refused while throttled.',
    labelNames: ['reason'],
    registers: registry === undefined ? [] : [registry],
  });
}
