// A console on a listener of its own: `herald console`, a service's admin listener.
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { type ConsoleOptions, consolePlugin } from './console-plugin.ts';

/** Where the console listens. */
export interface ConsoleListen {
  /** Default `127.0.0.1`: only this machine. Anything else exposes the console to the network. */
  readonly host?: string;
  /** Default 0: a free port (read it from `url`). */
  readonly port?: number;
}

export interface StartConsoleOptions extends ConsoleOptions {
  readonly listen?: ConsoleListen;
  /** Told about failed requests (never bodies, cookies or tokens). Default: nothing is logged. */
  readonly logger?: {
    error(object: unknown, message: string): void;
    warn(object: unknown, message: string): void;
  };
}

/** A listening console. */
export interface ConsoleServer extends AsyncDisposable {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening (after open requests) and stops sampling. Closes neither log nor store. */
  close(): Promise<void>;
}

/**
 * Serves the console API (and UI) on `listen` until closed.
 *
 * @example
 * const server = await startConsole({ log, store, users: await usersFromEnv(), listen: { port: 8081 } });
 * console.log(`console on ${server.url}`);
 */
export async function startConsole(options: StartConsoleOptions): Promise<ConsoleServer> {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 512 },
    return503OnClosing: true,
    requestTimeout: 30_000,
  });
  if (options.logger !== undefined) {
    const logger = options.logger;
    app.addHook('onError', async (request, _reply, error) => {
      logger.warn(
        { method: request.method, route: request.routeOptions.url, message: error.message },
        'console request failed',
      );
    });
  }
  await app.register(consolePlugin, options);
  const host = options.listen?.host ?? '127.0.0.1';
  try {
    await app.listen({ host, port: options.listen?.port ?? 0 });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= app.close().then(() => undefined));
  return {
    url: `http://${shown}:${address.port}`,
    port: address.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}
