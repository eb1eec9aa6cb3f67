// `/healthz`, `/readyz` and `/metrics` over node:http, for every process that runs services.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderMetrics } from '@herald/core/metrics';
import type { MetricsRegistry } from './service.ts';

/** Whether the process should take traffic, and why (or why not). */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: string;
}

/** What the health server serves. */
export interface HealthServerOptions {
  /** Default 0: a free port (read it from `url`). */
  readonly port?: number;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  readonly registry: MetricsRegistry;
  /** Asked on every `GET /readyz`. */
  readiness(): Promise<Readiness>;
  /**
   * Serves every request the health routes do not (another path, another method): the
   * operations console on the admin listener. Default: 404 (405 for a method other than GET).
   */
  readonly fallback?: (request: IncomingMessage, response: ServerResponse) => void;
}

/** A listening health server. */
export interface HealthServer extends AsyncDisposable {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves, until closed:
 * - `GET /healthz`: 200 `{"status":"ok"}` while the process answers at all (liveness);
 * - `GET /readyz`: 200 `{"status":"ready","detail":…}` when `readiness()` says ready, else 503
 *   `{"status":"unavailable","detail":…}` with `retry-after: 1`;
 * - `GET /metrics`: the registry in Prometheus' text format.
 * Anything else goes to `fallback` when there is one, else is 404. No request body is read.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (options.fallback !== undefined && path !== '/healthz' && path !== '/readyz' && path !== '/metrics') {
      return options.fallback(request, response);
    }
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      response.end(body);
    };
    const json = (status: number, value: unknown, headers?: Record<string, string>) =>
      send(status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return json(405, { status: 'method not allowed' });
    void (async () => {
      try {
        if (path === '/healthz') return json(200, { status: 'ok' });
        if (path === '/readyz') {
          const { ready, detail } = await options.readiness();
          return ready
            ? json(200, { status: 'ready', detail })
            : json(503, { status: 'unavailable', detail }, { 'retry-after': '1' });
        }
        if (path === '/metrics') {
          const { contentType, body } = await renderMetrics(options.registry);
          return send(200, contentType, body);
        }
        return json(404, { status: 'not found' });
      } catch (error) {
        return json(500, { status: 'error', detail: error instanceof Error ? error.message : String(error) });
      }
    })();
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }));
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close,
    [Symbol.asyncDispose]: close,
  };
}
