// The console mounted in a service built with the service kit: served on its admin listener
// (the health server), beside /healthz, /readyz and /metrics, apart from its public listener.
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify from 'fastify';
import { HeraldError } from '@herald/core';
import type { EventLog, Store } from '@herald/core';
import type { Registry } from 'prom-client';
import { type ConsoleOptions, consolePlugin } from './console-plugin.ts';
import type { UserDirectory } from './users.ts';

/** The console as a request handler, for a server someone else listens with. */
export interface ConsoleHandler {
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** Stops sampling and ends open requests. Closes neither log nor store. */
  close(): Promise<void>;
}

/**
 * The console's routes as a handler of Node's `request` event, on a Fastify instance that does
 * not listen.
 *
 * @example const handler = await consoleHandler({ log, store, users }); createServer(handler.handle);
 */
export async function consoleHandler(options: ConsoleOptions): Promise<ConsoleHandler> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, routerOptions: { maxParamLength: 512 } });
  await app.register(consolePlugin, options);
  await app.ready();
  return {
    handle: (request, response) => app.routing(request, response),
    close: () => app.close(),
  };
}

/** What the service kit gives an admin mount (see `StartServicesOptions.admin` in `@herald/service`). */
export interface ServiceConsoleContext {
  readonly log: EventLog;
  readonly stores: { storeOf(service: string): Store };
  readonly registry: unknown;
  readonly services: readonly string[];
}

export interface ServiceConsoleOptions extends Omit<ConsoleOptions, 'log' | 'store' | 'registry' | 'users'> {
  readonly users: UserDirectory;
  /**
   * Whose store keeps redrive records and discard marks (in its transactions, with the trail's
   * entries). Default: the first service's. On the embedded log every service shares the file.
   */
  readonly storeOf?: string;
}

/**
 * The console for the service kit's `admin` option: served on the admin listener, its login
 * failures counted in the process's registry (`herald_console_login_failures_total`).
 *
 * @example await runServices({ services, admin: serviceConsole({ users: await usersFromEnv() }) });
 */
export function serviceConsole(
  options: ServiceConsoleOptions,
): (context: ServiceConsoleContext) => Promise<ConsoleHandler> {
  return async (context) => {
    const service = options.storeOf ?? context.services[0];
    if (service === undefined)
      throw new HeraldError('INVALID_ARGUMENT', 'the console needs a service for its store');
    const { storeOf: _storeOf, ...rest } = options;
    return consoleHandler({
      ...rest,
      log: context.log,
      store: context.stores.storeOf(service),
      registry: context.registry as Registry,
    });
  };
}
