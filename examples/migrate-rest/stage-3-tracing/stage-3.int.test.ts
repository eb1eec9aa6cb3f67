// Stage 3: one trace from the HTTP request through the outbox to every consumer, and the
// consumers' lag, failures and retries as Prometheus metrics. Spans go to OpenTelemetry's
// in-memory exporter; the application's database is a real SQLite file, then a real Postgres
// schema, and Herald's log a SQLite file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, it } from 'node:test';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { metrics, registerLagMetrics } from '@herald/core/metrics';
import { tracing } from '@herald/core/tracing';
import { Registry } from 'prom-client';
import { onEachDatabase, signUpAt, useDatabase, useHerald } from '../fixtures.ts';
import { eventually, runServer } from '../run-server.ts';
import { type WorkflowSteps, databaseSteps } from '../stage-1-rest/poller.ts';
import { CONSUMER_GROUPS, createConsumers } from '../stage-2-outbox/consumers.ts';
import { openDatabase } from '../stage-2-outbox/database.ts';
import { buildApp } from './app.ts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
before(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
after(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

onEachDatabase('stage 3: tracing and metrics', (database) => {
  const the = useDatabase(database, openDatabase);
  const herald = useHerald(the, createConsumers);
  beforeEach(() => exporter.reset());

  it("traces a sign-up from the caller's request through every consumer in one trace", async () => {
    the.app = buildApp({ db: the.db });
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await the.app.inject({
      method: 'POST',
      url: '/users',
      headers: { traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` },
      payload: { email: 'ada@example.com', name: 'Ada' },
    });
    assert.equal(response.statusCode, 201);
    await herald.relay().relayOnce();
    await herald.consume(herald.consumers({ middleware: [tracing({ log: herald.log })] }));

    const spans = exporter.getFinishedSpans();
    const server = spans.find((span) => span.kind === SpanKind.SERVER);
    assert.ok(server, 'the request has a SERVER span');
    assert.equal(server.name, 'POST /users');
    assert.equal(server.spanContext().traceId, callerTrace, "it continues the caller's trace");
    const processed = spans.filter((span) => span.kind === SpanKind.CONSUMER);
    assert.equal(processed.length, 3, 'one span per consumer group');
    for (const span of processed) {
      assert.equal(span.spanContext().traceId, callerTrace);
      assert.equal(
        span.parentSpanContext?.spanId,
        server.spanContext().spanId,
        `${span.name} is a child of the request`,
      );
    }
  });

  it("counts failed attempts and retries per consumer group, and serves each group's lag at GET /metrics", async () => {
    const registry = new Registry();
    registerLagMetrics(herald.log, Object.keys(CONSUMER_GROUPS), registry);
    the.app = buildApp({ db: the.db, registry });
    const ada = await the.signUp('ada@example.com', 'Ada');
    await herald.relay().relayOnce();

    const steps = databaseSteps(the.db);
    let attempts = 0;
    const flaky: WorkflowSteps = {
      ...steps,
      async awardPoints(user) {
        if (user.id === ada.id && ++attempts <= 2) throw new Error('rewards service unavailable (503)');
        await steps.awardPoints(user);
      },
    };
    await herald.consume(
      herald.consumers({ steps: flaky, retryDelayMs: 5, middleware: [metrics({ registry })] }),
    );
    const after = (await the.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(after, /herald_events_retried_total\{group="rewards.points",topic="users",type="[^"]+"\} 2/);
    assert.match(after, /herald_events_failed_total\{group="rewards.points",topic="users",type="[^"]+"\} 2/);
    assert.match(after, /herald_events_processed_total\{group="welcome.mail",topic="users",type="[^"]+"\} 1/);
    assert.match(after, /herald_consumer_lag\{group="rewards.points",topic="users",partition="\d"\} 0/);
    assert.doesNotMatch(after, /herald_consumer_lag\{[^}]*\} [1-9]/, 'every group caught up');
  });

  it('runs as a server that serves the metrics of its consumers', async () => {
    await using server = await runServer(join(import.meta.dirname, 'server.ts'), {
      APP_DB: the.location,
      HERALD_LOG_FILE: join(herald.folder, 'server-herald.db'),
      POLL_MS: '50',
    });
    await signUpAt(server.url, 'ada@example.com', 'Ada');
    const scraped = await eventually(
      async () => (await fetch(`${server.url}/metrics`)).text(),
      (text) => /herald_events_processed_total\{group="rewards.points"[^}]*\} 1/.test(text),
    );
    assert.match(scraped, /herald_consumer_group_members\{group="search.index"\} 1/);
  });
});
