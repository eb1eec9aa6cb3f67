// What every stage's server.ts shares: where the application's database is, listening, and
// stopping cleanly on Ctrl-C (SIGINT) or SIGTERM.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { SqlDatabase } from './sql-database.ts';

/**
 * APP_DB: a SQLite file, or a `postgres://` URL (`?schema=` for a schema of its own); by
 * default a new SQLite file in a temporary folder.
 */
export async function databaseLocation(): Promise<string> {
  return process.env['APP_DB'] ?? join(await mkdtemp(join(tmpdir(), 'migrate-rest-')), 'app.db');
}

/**
 * Listens on PORT (default 3000) and prints the address and the database (never a password).
 * On SIGINT or SIGTERM it stops taking requests, runs `stop` (what the stage runs besides the
 * API: the job, the relay, the consumers), then closes the database.
 */
export async function serve(app: FastifyInstance, db: SqlDatabase, stop: () => Promise<void>): Promise<void> {
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env['PORT'] ?? 3000) });
  console.log(`listening on ${address} (database ${db.location})`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void (async () => {
        await app.close();
        await stop();
        await db.close();
      })();
    });
  }
}
