// prom-client's registries as an OpenTelemetry MetricProducer: what `/metrics` serves is also
// what goes out over OTLP, read from the same metrics at each export (ADR 0026). One source of
// truth: no metric is recorded twice, and the two views never disagree.
//
// Mapping: a counter is a cumulative monotonic sum named without its `_total` suffix; a gauge a
// gauge; a histogram a cumulative explicit-bucket histogram (Prometheus' cumulative bucket counts
// turned into per-bucket counts). Units come from the name's suffix (`_seconds` → `s`, `_bytes`
// → `By`). Summaries have no OTLP equivalent without losing their quantiles and are left out
// (Herald registers none).
import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';

/** The instrumentation scope the bridged metrics are exported under. */
const SCOPE = { name: '@herald/orders-app/prometheus' };

interface PromValue {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  readonly metricName?: string;
}

interface PromMetric {
  readonly name: string;
  readonly help: string;
  readonly type: unknown;
  readonly values: readonly PromValue[];
}

/** Reads prom-client registries for an OpenTelemetry metric reader. */
export class PrometheusMetricProducer implements MetricProducer {
  readonly #registries = new Set<Registry>();
  /** Cumulative series start when the process started exporting them. */
  readonly #startTime: HrTime = hrTime(Date.now());

  /** Adds `registry` to what every collection reads. */
  add(registry: Registry): void {
    this.#registries.add(registry);
  }

  async collect(): Promise<CollectionResult> {
    const endTime = hrTime(Date.now());
    const metrics: MetricData[] = [];
    const errors: unknown[] = [];
    for (const registry of this.#registries) {
      try {
        for (const metric of (await registry.getMetricsAsJSON()) as unknown as PromMetric[]) {
          const data = toMetricData(metric, this.#startTime, endTime);
          if (data !== undefined) metrics.push(data);
        }
      } catch (error) {
        errors.push(error);
      }
    }
    return {
      // The reader's own resource (service name, OTEL_RESOURCE_ATTRIBUTES) is what is exported;
      // a producer contributes scope metrics only.
      resourceMetrics: { resource: undefined as never, scopeMetrics: [{ scope: SCOPE, metrics }] },
      errors,
    };
  }
}

function toMetricData(metric: PromMetric, startTime: HrTime, endTime: HrTime): MetricData | undefined {
  const type = String(metric.type);
  const unit = metric.name.endsWith('_seconds') ? 's' : metric.name.endsWith('_bytes') ? 'By' : '';
  const descriptor = (name: string) => ({
    name,
    description: metric.help,
    unit,
    valueType: ValueType.DOUBLE,
  });
  const point = <T>(attributes: Attributes, value: T) => ({ startTime, endTime, attributes, value });
  switch (type) {
    case 'counter':
      return {
        descriptor: descriptor(metric.name.replace(/_total$/, '')),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: metric.values.map((v) => point(attributesOf(v.labels), v.value)),
      };
    case 'gauge':
      return {
        descriptor: descriptor(metric.name),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: metric.values.map((v) => point(attributesOf(v.labels), v.value)),
      };
    case 'histogram':
      return {
        descriptor: descriptor(metric.name),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: histogramPoints(metric).map(({ attributes, value }) => point(attributes, value)),
      };
    default:
      return undefined;
  }
}

interface HistogramSeries {
  readonly attributes: Attributes;
  /** Upper bound → cumulative count, `+Inf` included. */
  readonly buckets: Map<number, number>;
  sum: number;
  count: number;
}

function histogramPoints(metric: PromMetric) {
  const series = new Map<string, HistogramSeries>();
  for (const v of metric.values) {
    const { le, ...labels } = v.labels;
    const attributes = attributesOf(labels);
    const key = JSON.stringify(Object.entries(attributes).sort());
    let s = series.get(key);
    if (s === undefined) series.set(key, (s = { attributes, buckets: new Map(), sum: 0, count: 0 }));
    if (v.metricName === `${metric.name}_bucket`)
      s.buckets.set(le === '+Inf' ? Infinity : Number(le), v.value);
    else if (v.metricName === `${metric.name}_sum`) s.sum = v.value;
    else if (v.metricName === `${metric.name}_count`) s.count = v.value;
  }
  return [...series.values()].map((s) => {
    const bounds = [...s.buckets.keys()].sort((a, b) => a - b);
    const boundaries = bounds.filter((b) => b !== Infinity);
    const counts: number[] = [];
    let below = 0;
    for (const bound of boundaries) {
      const cumulative = s.buckets.get(bound) ?? below;
      counts.push(cumulative - below);
      below = cumulative;
    }
    counts.push(s.count - below);
    return {
      attributes: s.attributes,
      value: { buckets: { boundaries, counts }, sum: s.sum, count: s.count },
    };
  });
}

function attributesOf(labels: Readonly<Record<string, string | number | undefined>>): Attributes {
  const attributes: Attributes = {};
  for (const [name, value] of Object.entries(labels)) if (value !== undefined) attributes[name] = value;
  return attributes;
}

function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
}
