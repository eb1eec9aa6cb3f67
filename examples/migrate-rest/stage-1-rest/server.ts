// Runs the application as its team runs it: the HTTP server and the welcome job in one process.
//
// Run: ./node_modules/.bin/node examples/migrate-rest/stage-1-rest/server.ts
//   PORT (default 3000), APP_DB (default: a new file in a temporary folder), POLL_MS (default 2000)
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from './app.ts';
import { openDatabase } from './database.ts';
import { createPoller } from './poller.ts';

const path = process.env['APP_DB'] ?? join(await mkdtemp(join(tmpdir(), 'migrate-rest-')), 'app.db');
const db = openDatabase(path);
const app = buildApp({ db });
const job = createPoller({ db }).start(Number(process.env['POLL_MS'] ?? 2000));
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env['PORT'] ?? 3000) });
console.log(`listening on ${address} (database ${path})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (async () => {
      await app.close();
      await job.stop();
      db.close();
    })();
  });
}
