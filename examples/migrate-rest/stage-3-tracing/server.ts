// Runs the application as its team runs it: the HTTP server, the outbox relay and the consumers
// in one process, and the welcome job still running in shadow (it writes the shadow_ tables;
// compare.ts shows where the two disagree). Stage 3: every consumer traced and measured, the
// metrics at GET /metrics (without an OpenTelemetry SDK registered, the spans cost nothing).
//
// Run: ./node_modules/.bin/node examples/migrate-rest/stage-3-tracing/server.ts
//   PORT (default 3000), APP_DB (a SQLite file or a postgres:// URL; default: a new file in a
//   temporary folder), POLL_MS (default 2000), HERALD_LOG_FILE (default: herald.db next to a
//   SQLite APP_DB, else in a temporary folder)
import { createPoller, databaseSteps } from '../stage-1-rest/poller.ts';
import { databaseLocation, serve } from '../stage-1-rest/serve.ts';
import { SHADOW, openDatabase } from '../stage-2-outbox/database.ts';
import { buildApp } from './app.ts';
import { openTracedHerald } from './herald.ts';

const db = await openDatabase(await databaseLocation());
const herald = await openTracedHerald(db);
const shadow = createPoller({ db, steps: databaseSteps(db, SHADOW) }).start(
  Number(process.env['POLL_MS'] ?? 2000),
);
await serve(buildApp({ db, registry: herald.registry }), db, async () => {
  await shadow.stop();
  await herald.close();
});
