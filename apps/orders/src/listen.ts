// Starting the API's listeners from `main.ts` and `service-main.ts`.
import type { FastifyInstance } from 'fastify';
import { orExit } from './logger.ts';

/**
 * Makes `app` listen on `host:port` and returns its URL (`http://host:port`, the port it got).
 * When it cannot (the port is taken), stops `system` and exits with one line saying why.
 */
export async function listenOrExit(
  app: FastifyInstance,
  where: { readonly port: number; readonly host: string },
  system: { stop(): Promise<void> },
): Promise<string> {
  await orExit(async () => {
    try {
      await app.listen(where);
    } catch (error) {
      await system.stop();
      throw error;
    }
  });
  const { port } = app.server.address() as { port: number };
  return `http://${where.host.includes(':') ? `[${where.host}]` : where.host}:${port}`;
}
