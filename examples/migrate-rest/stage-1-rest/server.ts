// Runs the application as its team runs it: the HTTP server and the welcome job in one process.
//
// Run: ./node_modules/.bin/node examples/migrate-rest/stage-1-rest/server.ts
//   PORT (default 3000), APP_DB (a SQLite file or a postgres:// URL; default: a new file in a
//   temporary folder), POLL_MS (default 2000)
import { buildApp } from './app.ts';
import { openDatabase } from './database.ts';
import { createPoller } from './poller.ts';
import { databaseLocation, serve } from './serve.ts';

const db = await openDatabase(await databaseLocation());
const job = createPoller({ db }).start(Number(process.env['POLL_MS'] ?? 2000));
await serve(buildApp({ db }), db, () => job.stop());
