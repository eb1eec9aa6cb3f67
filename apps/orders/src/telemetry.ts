// OpenTelemetry, started only when the environment asks for it, through the standard OTEL_*
// variables:
//
// - traces: OTEL_TRACES_EXPORTER, or an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT,
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); OTLP/HTTP with JSON unless a protocol is named;
// - metrics: OTEL_METRICS_EXPORTER=otlp, or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT; every
//   OTEL_METRIC_EXPORT_INTERVAL ms (default 60 000), the process's Prometheus registry read
//   through a bridge (prometheus-metric-producer.ts, ADR 0026), so OTLP carries exactly what
//   `/metrics` serves. OTEL_EXPORTER_OTLP_ENDPOINT alone exports traces only, as before: set
//   OTEL_METRICS_EXPORTER=otlp to send metrics there too;
// - propagation: OTEL_PROPAGATORS (default `tracecontext,baggage`), used for HTTP headers and
//   for what events carry beside their W3C `traceparent`.
//
// Logs stay on stdout (JSON lines with trace ids). Without any of it every span is a no-op and
// costs nothing.
import { OTLPMetricExporter as OTLPJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { Registry } from 'prom-client';
import { PrometheusMetricProducer } from './prometheus-metric-producer.ts';

/** The started OpenTelemetry SDK. */
export interface Telemetry {
  /** Where traces and metrics go, for the start-up banner. */
  readonly description: string;
  /** Whether metrics are exported over OTLP. */
  readonly exportsMetrics: boolean;
  /** Exports `registry`'s metrics at every interval too (when metrics are exported). */
  exportMetrics(registry: Registry): void;
  /** Exports what is pending (spans not yet sent, the metrics as they are now) and stops. */
  shutdown(): Promise<void>;
}

/** Starts the NodeSDK when asked to; undefined when tracing and OTLP metrics both stay off. */
export function startTelemetry(
  serviceName: string,
  env: NodeJS.ProcessEnv = process.env,
): Telemetry | undefined {
  if (env['OTEL_SDK_DISABLED'] === 'true') return undefined;
  const traces = tracesWanted(env);
  const metrics = metricsWanted(env);
  if (!traces && !metrics) return undefined;
  // What is not asked for stays off: the SDK would otherwise default to exporting every signal
  // to an endpoint nobody runs.
  // (Set in the environment, so the engine thread, which inherits it, decides the same.)
  if (!traces) env['OTEL_TRACES_EXPORTER'] = 'none';
  if (!metrics) env['OTEL_METRICS_EXPORTER'] = 'none';
  env['OTEL_LOGS_EXPORTER'] ??= 'none';

  const traceProtocol = env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'];
  const traceExporter = env['OTEL_TRACES_EXPORTER']?.trim();
  const tracesOverJson =
    traces &&
    (traceExporter === undefined || traceExporter === '' || traceExporter === 'otlp') &&
    (traceProtocol === undefined || traceProtocol === 'http/json');
  const producer = new PrometheusMetricProducer();
  const metricsProtocol =
    env['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'] ?? 'http/json';
  const reader = metrics
    ? new PeriodicExportingMetricReader({
        exporter: metricExporter(metricsProtocol),
        exportIntervalMillis: positiveInteger(env, 'OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000,
        metricProducers: [producer],
      })
    : undefined;
  const sdk = new NodeSDK({
    serviceName: env['OTEL_SERVICE_NAME'] ?? serviceName,
    ...(tracesOverJson ? { traceExporter: new OTLPTraceExporter() } : {}),
    ...(reader === undefined ? {} : { metricReaders: [reader] }),
  });
  sdk.start();

  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const tracesTo = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? endpoint;
  const metricsTo = env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] ?? endpoint ?? 'http://localhost:4318';
  const parts = [
    ...(traces
      ? [
          `traces → ${
            tracesOverJson
              ? `OTLP/HTTP ${tracesTo ?? 'http://localhost:4318'}`
              : `${traceExporter ?? 'otlp'}${traceProtocol === undefined ? '' : ` (${traceProtocol})`}${tracesTo === undefined ? '' : ` ${tracesTo}`}`
          }`,
        ]
      : []),
    ...(metrics ? [`metrics → OTLP (${metricsProtocol}) ${metricsTo}`] : []),
  ];
  return {
    description: parts.join('; '),
    exportsMetrics: metrics,
    exportMetrics: (registry) => producer.add(registry),
    shutdown: () => sdk.shutdown(),
  };
}

function tracesWanted(env: NodeJS.ProcessEnv): boolean {
  const exporter = env['OTEL_TRACES_EXPORTER']?.trim();
  if (exporter === 'none') return false;
  if (exporter !== undefined && exporter !== '') return true;
  return (env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT']) !== undefined;
}

function metricsWanted(env: NodeJS.ProcessEnv): boolean {
  const exporters = (env['OTEL_METRICS_EXPORTER'] ?? '').split(',').map((e) => e.trim());
  if (exporters.includes('none')) return false;
  if (exporters.includes('otlp')) return true;
  const other = exporters.find((e) => e !== '');
  if (other !== undefined) {
    throw new Error(
      `OTEL_METRICS_EXPORTER=${other} is not supported: use otlp (Prometheus is served on /metrics)`,
    );
  }
  return env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] !== undefined;
}

function metricExporter(protocol: string): OTLPJsonMetricExporter | OTLPProtobufMetricExporter {
  if (protocol === 'http/json') return new OTLPJsonMetricExporter();
  if (protocol === 'http/protobuf') return new OTLPProtobufMetricExporter();
  throw new Error(
    `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=${protocol} is not supported for metrics: use http/json or http/protobuf`,
  );
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer (ms), not ${raw}`);
  return value;
}
