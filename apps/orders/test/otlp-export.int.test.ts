// The order system started as an operator configures OpenTelemetry with the standard variables:
// OTEL_METRICS_EXPORTER=otlp sends what `/metrics` serves to an OTLP/HTTP receiver (a small
// server in this test that decodes the JSON payloads), and OTEL_PROPAGATORS=b3 decides how trace
// context is read from requests and carried by events. The SDK is process-wide: node:test runs
// this file in a process of its own.
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DURATION_BUCKETS } from '@herald/core/metrics';
import { type Telemetry, startTelemetry } from '../src/telemetry.ts';
import type { OrderSystem } from '../src/system.ts';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import {
  type TempFolder,
  apiOf,
  caughtUp,
  openTestSystem,
  postOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';

interface OtlpDataPoint {
  readonly attributes?: readonly {
    key: string;
    value: { stringValue?: string; intValue?: string | number };
  }[];
  readonly asDouble?: number;
  readonly count?: string | number;
  readonly bucketCounts?: readonly (string | number)[];
  readonly explicitBounds?: readonly number[];
}
interface OtlpMetric {
  readonly name: string;
  readonly unit?: string;
  readonly sum?: { dataPoints: OtlpDataPoint[]; isMonotonic?: boolean; aggregationTemporality?: number };
  readonly gauge?: { dataPoints: OtlpDataPoint[] };
  readonly histogram?: { dataPoints: OtlpDataPoint[]; aggregationTemporality?: number };
}
interface OtlpExport {
  readonly resourceMetrics: readonly {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeMetrics: readonly { metrics: readonly OtlpMetric[] }[];
  }[];
}

const attribute = (point: OtlpDataPoint, key: string) => {
  const value = point.attributes?.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : String(value.intValue));
};

void describe('OpenTelemetry configured through OTEL_* variables', { timeout: 60_000 }, () => {
  const received: OtlpExport[] = [];
  let receiver: Server;
  let telemetry: Telemetry | undefined;
  let folder: TempFolder;
  let system: OrderSystem;

  before(async () => {
    // The OTLP receiver: accepts metrics posted as OTLP/HTTP JSON.
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/v1/metrics' && request.headers['content-type'] === 'application/json') {
          received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    process.env['OTEL_METRICS_EXPORTER'] = 'otlp';
    process.env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] = `http://127.0.0.1:${port}/v1/metrics`;
    process.env['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL'] = 'http/json';
    // Exported when the SDK shuts down, not on a timer: what the test checks is what was sent then.
    process.env['OTEL_METRIC_EXPORT_INTERVAL'] = '3600000';
    process.env['OTEL_PROPAGATORS'] = 'b3';
    telemetry = startTelemetry('herald-orders-otlp-test');
    folder = tempFolder();
    system = await openTestSystem(folder);
    telemetry?.exportMetrics(system.registry);
  });
  after(async () => {
    await system.stop();
    await telemetry?.shutdown();
    receiver.close();
    folder[Symbol.dispose]();
  });

  it('continues the B3 trace a request sends (OTEL_PROPAGATORS=b3) into the events it stores, beside their W3C traceparent', async () => {
    assert.ok(telemetry !== undefined, 'OTEL_METRICS_EXPORTER=otlp started the SDK');
    const traceId = '80f198ee56343ba864fe8b2a57d3eff7';
    const response = await postOrder(
      apiOf(system),
      { customerId: 'b3-caller', items: [{ sku: 'WIDGET', quantity: 1 }] },
      { b3: `${traceId}-e457b5a2e4d86bd1-1` },
    );
    assert.equal(response.statusCode, 202, response.body);
    const { orderId } = response.json<{ orderId: string }>();
    const { partitionInfo } = await system.log.describeTopic('orders');
    const events = (
      await Promise.all(
        partitionInfo.map((p) => system.log.read('orders', { partition: p.partition, from: 'earliest' })),
      )
    ).flat();
    const placed = events.find((e) => e.partitionkey === orderId);
    assert.ok(placed, 'OrderPlaced is in the log');
    assert.match(placed.extensions?.['b3'] ?? '', new RegExp(`^${traceId}-[0-9a-f]{16}-1$`));
    assert.match(placed.traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    await settled(apiOf(system), orderId);
    await caughtUp(system.log, Object.values(GROUPS));
  });

  it('exports what /metrics serves over OTLP: request-duration histograms, counters and the runtime metrics, under the service name', async () => {
    assert.equal(telemetry?.exportsMetrics, true);
    await telemetry?.shutdown();
    assert.ok(received.length > 0, 'the receiver got an export');
    const resource = received.at(-1)!.resourceMetrics[0]!;
    assert.equal(
      resource.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
      'herald-orders-otlp-test',
    );
    const metrics = new Map(resource.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.name, m]));

    const duration = metrics.get('http_server_request_duration_seconds');
    assert.ok(duration?.histogram, `a request-duration histogram among ${[...metrics.keys()].join(', ')}`);
    assert.equal(duration.unit, 's');
    assert.equal(duration.histogram.aggregationTemporality, 2, 'cumulative');
    const post = duration.histogram.dataPoints.find(
      (p) => attribute(p, 'http_route') === '/orders' && attribute(p, 'http_request_method') === 'POST',
    );
    assert.ok(post, 'a data point for POST /orders');
    assert.deepEqual(post.explicitBounds, DURATION_BUCKETS);
    const counts = (post.bucketCounts ?? []).map(Number);
    assert.equal(counts.length, DURATION_BUCKETS.length + 1);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      Number(post.count),
    );
    assert.ok(Number(post.count) >= 1);

    const processed = metrics.get('herald_events_processed');
    assert.ok(processed?.sum?.isMonotonic, 'herald_events_processed_total as a monotonic sum');
    assert.ok(processed.sum.dataPoints.some((p) => (p.asDouble ?? 0) > 0));
    const sent = metrics.get('messaging_client_sent_messages');
    assert.ok(
      sent?.sum?.dataPoints.some((p) => attribute(p, 'messaging_system') === 'herald_sqlite'),
      'the producer metrics',
    );
    assert.ok(metrics.get('process_cpu_seconds')?.sum, 'the process metrics');
    assert.ok(metrics.get('herald_consumer_lag')?.gauge, 'lag as a gauge');
  });
});
