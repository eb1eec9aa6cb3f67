// What the OTEL_* variables start, decided before anything is started: nothing without them, and
// a sentence naming the variable for a setting the order system cannot honour.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTelemetry } from '../src/telemetry.ts';

void describe('startTelemetry', () => {
  void it('starts nothing when no OTEL_* variable asks for traces or metrics', () => {
    assert.equal(startTelemetry('test', {}), undefined);
    assert.equal(
      startTelemetry('test', { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' }),
      undefined,
    );
    assert.equal(
      startTelemetry('test', {
        OTEL_SDK_DISABLED: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      }),
      undefined,
    );
  });

  void it('refuses a metrics exporter or protocol it cannot honour, naming the variable', () => {
    assert.throws(
      () => startTelemetry('test', { OTEL_METRICS_EXPORTER: 'prometheus' }),
      /OTEL_METRICS_EXPORTER=prometheus is not supported: use otlp \(Prometheus is served on \/metrics\)/,
    );
    assert.throws(
      () =>
        startTelemetry('test', {
          OTEL_METRICS_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc',
        }),
      /OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc is not supported for metrics: use http\/json or http\/protobuf/,
    );
    assert.throws(
      () => startTelemetry('test', { OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: 'soon' }),
      /OTEL_METRIC_EXPORT_INTERVAL must be a positive integer \(ms\), not soon/,
    );
  });
});
