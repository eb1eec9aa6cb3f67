// OpenTelemetry, started only when the environment asks for it (OTEL_TRACES_EXPORTER or an
// OTLP endpoint): traces only — metrics are on /metrics — exported over OTLP/HTTP by default.
// Without it every span is a no-op and costs nothing.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

/** The started OpenTelemetry SDK. */
export interface Telemetry {
  /** Where traces go, for the start-up banner. */
  readonly description: string;
  /** Flushes spans not yet exported. */
  shutdown(): Promise<void>;
}

/** Starts the NodeSDK when asked to; undefined when tracing stays off. */
export function startTelemetry(
  serviceName: string,
  env: NodeJS.ProcessEnv = process.env,
): Telemetry | undefined {
  const exporter = env['OTEL_TRACES_EXPORTER']?.trim();
  const endpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if (env['OTEL_SDK_DISABLED'] === 'true' || exporter === 'none') return undefined;
  if ((exporter === undefined || exporter === '') && endpoint === undefined) return undefined;
  // Only traces: unless asked for, no OTLP metrics or logs (they would go to an endpoint nobody runs).
  env['OTEL_METRICS_EXPORTER'] ??= 'none';
  env['OTEL_LOGS_EXPORTER'] ??= 'none';
  const protocol = env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'];
  const otlpHttpJson =
    (exporter === undefined || exporter === '' || exporter === 'otlp') &&
    (protocol === undefined || protocol === 'http/json');
  const sdk = new NodeSDK({
    serviceName: env['OTEL_SERVICE_NAME'] ?? serviceName,
    ...(otlpHttpJson ? { traceExporter: new OTLPTraceExporter() } : {}),
  });
  sdk.start();
  const target = otlpHttpJson
    ? `OTLP/HTTP ${endpoint ?? 'http://localhost:4318'}`
    : `${exporter ?? 'otlp'}${protocol === undefined ? '' : ` (${protocol})`}${endpoint === undefined ? '' : ` ${endpoint}`}`;
  return { description: `traces → ${target}`, shutdown: () => sdk.shutdown() };
}
