// Runs the application as its team runs it: the HTTP server, the outbox relay and the consumers
// in one process, and the welcome job still running in shadow (it writes the shadow_ tables;
// compare.ts shows where the two disagree). Stage 3: every consumer traced and measured, the
// metrics at GET /metrics (without an OpenTelemetry SDK registered, the spans cost nothing).
//
// Run: ./node_modules/.bin/node examples/migrate-rest/stage-2-outbox/server.ts
//   PORT (default 3000), APP_DB (default: a new file in a temporary folder), POLL_MS (default
//   2000), HERALD_LOG_FILE (default: herald.db next to APP_DB)
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureTopic } from '@herald/core';
import { metrics, registerLagMetrics } from '@herald/core/metrics';
import { tracing } from '@herald/core/tracing';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { Registry } from 'prom-client';
import { buildApp } from './app.ts';
import { CONSUMER_GROUPS, createConsumers } from '../stage-2-outbox/consumers.ts';
import { openDatabase } from '../stage-2-outbox/database.ts';
import { USERS_TOPIC } from '../stage-2-outbox/events.ts';
import { createPoller, databaseSteps } from '../stage-2-outbox/poller.ts';
import { createOutboxRelay } from '../stage-2-outbox/relay.ts';

const path = process.env['APP_DB'] ?? join(await mkdtemp(join(tmpdir(), 'migrate-rest-')), 'app.db');
const pollMs = Number(process.env['POLL_MS'] ?? 2000);
const db = openDatabase(path);
const log = await openSqliteLog({ path: process.env['HERALD_LOG_FILE'] ?? join(dirname(path), 'herald.db') });
const store = await openSqliteStore(log);
await ensureTopic(log, USERS_TOPIC, { partitions: 4 });

const registry = new Registry();
registerLagMetrics(log, Object.keys(CONSUMER_GROUPS), registry);
const app = buildApp({ db, registry });
const relay = createOutboxRelay({ db, log }).start(50);
const consumers = createConsumers({ log, store, db, middleware: [tracing({ log }), metrics({ registry })] });
const running = consumers.map((router) => router.run());
const shadow = createPoller({ db, steps: databaseSteps(db, 'shadow_') }).start(pollMs);
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env['PORT'] ?? 3000) });
console.log(`listening on ${address} (database ${path})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (async () => {
      await app.close();
      await relay.stop();
      await shadow.stop();
      await Promise.all(consumers.map((router) => router.stop()));
      await Promise.all(running);
      await store.close();
      await log.close();
      db.close();
    })();
  });
}
