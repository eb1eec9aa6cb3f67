// Runs the application as its team runs it: the HTTP server, the outbox relay and the consumers
// in one process. Stage 5: the polling job is gone. Stage 3: every consumer traced and measured,
// the metrics at GET /metrics (without an OpenTelemetry SDK registered, the spans cost nothing).
//
// Run: ./node_modules/.bin/node examples/migrate-rest/stage-5-consistent/server.ts
//   PORT (default 3000), APP_DB (a SQLite file or a postgres:// URL; default: a new file in a
//   temporary folder), HERALD_LOG_FILE (default: herald.db next to a SQLite APP_DB, else in a
//   temporary folder)
import { databaseLocation, serve } from '../stage-1-rest/serve.ts';
import { openTracedHerald } from '../stage-3-tracing/herald.ts';
import { buildApp } from './app.ts';
import { createConsumers } from './consumers.ts';
import { openDatabase } from './database.ts';

const db = await openDatabase(await databaseLocation());
const herald = await openTracedHerald(db, createConsumers);
await serve(buildApp({ db, registry: herald.registry }), db, () => herald.close());
