// The API's request metrics, registered in the process's registry beside the runtime's, so
// `/metrics` renders them once:
//
// - `http_server_request_duration_seconds`: a histogram (OpenTelemetry's
//   `http.server.request.duration`, named as its Prometheus exporter names it) by
//   `http_request_method`, `http_route` and `http_response_status_code`, with the buckets the
//   semantic conventions advise, so a dashboard can compute percentiles (p99) from it;
// - `herald_http_requests_total`: requests answered, by `method`, `route` and `status`.
import { DURATION_BUCKETS } from '@herald/core/metrics';
import { Counter, Histogram, type Registry } from 'prom-client';

type DurationLabel = 'http_request_method' | 'http_route' | 'http_response_status_code';
type CountLabel = 'method' | 'route' | 'status';

/** Request metrics in `registry`; `observe` each answer. Several apps may share a registry. */
export class HttpMetrics {
  readonly #duration: Histogram<DurationLabel>;
  readonly #count: Counter<CountLabel>;

  constructor(registry: Registry) {
    this.#duration =
      existing(registry, 'http_server_request_duration_seconds', Histogram) ??
      new Histogram({
        name: 'http_server_request_duration_seconds',
        help: 'Duration of HTTP server requests.',
        labelNames: ['http_request_method', 'http_route', 'http_response_status_code'],
        buckets: [...DURATION_BUCKETS],
        registers: [registry],
      });
    this.#count =
      existing(registry, 'herald_http_requests_total', Counter) ??
      new Counter({
        name: 'herald_http_requests_total',
        help: 'HTTP requests answered, by method, route and status.',
        labelNames: ['method', 'route', 'status'],
        registers: [registry],
      });
  }

  /** `route` is the route's template (`/orders/:orderId`), never the path a client sent. */
  observe(method: string, route: string, status: number, seconds: number): void {
    this.#duration.observe(
      { http_request_method: method, http_route: route, http_response_status_code: status },
      seconds,
    );
    this.#count.inc({ method, route, status });
  }
}

function existing<M>(
  registry: Registry,
  name: string,
  type: abstract new (...args: never[]) => M,
): M | undefined {
  const metric = registry.getSingleMetric(name);
  return metric instanceof type ? metric : undefined;
}
