// Stage 3: one trace from the HTTP request through the outbox to every consumer, and the
// consumers' lag, failures and retries as Prometheus metrics. Spans go to OpenTelemetry's
// in-memory exporter; the application and Herald's log are real SQLite files.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { type Router, ensureTopic } from '@herald/core';
import { metrics, registerLagMetrics } from '@herald/core/metrics';
import { tracing } from '@herald/core/tracing';
import { type SqliteLog, type SqliteStore, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { caughtUp } from '../../example-log.ts';
import { eventually, runServer } from '../run-server.ts';
import { buildApp } from './app.ts';
import { CONSUMER_GROUPS, createConsumers } from '../stage-2-outbox/consumers.ts';
import { type User, openDatabase } from '../stage-2-outbox/database.ts';
import { USERS_TOPIC } from '../stage-2-outbox/events.ts';
import { type WorkflowSteps, databaseSteps } from '../stage-2-outbox/poller.ts';
import { createOutboxRelay } from '../stage-2-outbox/relay.ts';

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

let folder: string;
let db: DatabaseSync;
let log: SqliteLog;
let store: SqliteStore;
let app: FastifyInstance | undefined;

beforeEach(async () => {
  exporter.reset();
  folder = await mkdtemp(join(tmpdir(), 'migrate-rest-3-'));
  db = openDatabase(join(folder, 'app.db'));
  log = await openSqliteLog({ path: join(folder, 'herald.db') });
  store = await openSqliteStore(log);
  await ensureTopic(log, USERS_TOPIC, { partitions: 4 });
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await store.close();
  await log.close();
  db.close();
  await rm(folder, { recursive: true, force: true });
});

/** Runs `routers` until every consumer group handled everything in the log, then stops them. */
async function consume(routers: Router[]): Promise<void> {
  const running = routers.map((router) => router.run());
  try {
    for (const group of Object.keys(CONSUMER_GROUPS)) await caughtUp(log, group);
  } finally {
    await Promise.all(routers.map((router) => router.stop()));
    await Promise.all(running);
  }
}

describe('stage 3: tracing and metrics', () => {
  it("traces a sign-up from the caller's request through every consumer in one trace", async () => {
    app = buildApp({ db });
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await app.inject({
      method: 'POST',
      url: '/users',
      headers: { traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` },
      payload: { email: 'ada@example.com', name: 'Ada' },
    });
    assert.equal(response.statusCode, 201);
    await createOutboxRelay({ db, log }).relayOnce();
    await consume(createConsumers({ log, store, db, middleware: [tracing({ log })] }));

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
    registerLagMetrics(log, Object.keys(CONSUMER_GROUPS), registry);
    app = buildApp({ db, registry });
    const created = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { email: 'ada@example.com', name: 'Ada' },
    });
    const ada = created.json<User>();
    await createOutboxRelay({ db, log }).relayOnce();

    const steps = databaseSteps(db);
    let attempts = 0;
    const flaky: WorkflowSteps = {
      ...steps,
      async awardPoints(user) {
        if (user.id === ada.id && ++attempts <= 2) throw new Error('rewards service unavailable (503)');
        await steps.awardPoints(user);
      },
    };
    await consume(
      createConsumers({ log, store, db, steps: flaky, retryDelayMs: 5, middleware: [metrics({ registry })] }),
    );
    const after = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(after, /herald_events_retried_total\{group="rewards.points",topic="users",type="[^"]+"\} 2/);
    assert.match(after, /herald_events_failed_total\{group="rewards.points",topic="users",type="[^"]+"\} 2/);
    assert.match(after, /herald_events_processed_total\{group="welcome.mail",topic="users",type="[^"]+"\} 1/);
    assert.match(after, /herald_consumer_lag\{group="rewards.points",topic="users",partition="\d"\} 0/);
    assert.doesNotMatch(after, /herald_consumer_lag\{[^}]*\} [1-9]/, 'every group caught up');
  });

  it('runs as a server that serves the metrics of its consumers', async () => {
    await using server = await runServer(join(import.meta.dirname, 'server.ts'), {
      APP_DB: join(folder, 'server.db'),
      HERALD_LOG_FILE: join(folder, 'server-herald.db'),
      POLL_MS: '50',
    });
    const created = await fetch(`${server.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', name: 'Ada' }),
    });
    assert.equal(created.status, 201);
    const scraped = await eventually(
      async () => (await fetch(`${server.url}/metrics`)).text(),
      (text) => /herald_events_processed_total\{group="rewards.points"[^}]*\} 1/.test(text),
    );
    assert.match(scraped, /herald_consumer_group_members\{group="search.index"\} 1/);
  });
});
