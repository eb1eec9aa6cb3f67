// Request counts and durations per method, route and status, rendered in the Prometheus text
// format next to the runtime's metrics on `/metrics`.

interface Series {
  count: number;
  seconds: number;
}

/** Counts and sums of request durations; `observe` each answer, `render` for `/metrics`. */
export class HttpMetrics {
  readonly #series = new Map<string, Series>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `method="${method}",route="${escape(route)}",status="${status}"`;
    const series = this.#series.get(key) ?? { count: 0, seconds: 0 };
    series.count++;
    series.seconds += seconds;
    this.#series.set(key, series);
  }

  render(): string {
    const lines = [
      '# HELP herald_http_requests_total HTTP requests answered, by method, route and status.',
      '# TYPE herald_http_requests_total counter',
      ...[...this.#series].map(([labels, s]) => `herald_http_requests_total{${labels}} ${s.count}`),
      '# HELP herald_http_request_duration_seconds Time to answer HTTP requests.',
      '# TYPE herald_http_request_duration_seconds summary',
      ...[...this.#series].flatMap(([labels, s]) => [
        `herald_http_request_duration_seconds_sum{${labels}} ${s.seconds}`,
        `herald_http_request_duration_seconds_count{${labels}} ${s.count}`,
      ]),
    ];
    return `${lines.join('\n')}\n`;
  }
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
