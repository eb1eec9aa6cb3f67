// Herald's side of the application from stage 2 on: the log (the embedded log, a SQLite file of
// its own) and the store beside it, the users topic, the outbox relay and the consumers. The
// servers open it beside the API; the measurement of stage 4 opens it in one process or two.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Router, ensureTopic } from '@herald/core';
import { type SqliteLog, type SqliteStore, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { SqlDatabase } from '../stage-1-rest/sql-database.ts';
import { USERS_TOPIC } from './events.ts';
import { createOutboxRelay } from './relay.ts';

export interface HeraldOptions {
  /** The application's database, whose outbox the relay publishes. */
  readonly db: SqlDatabase;
  /** Herald's log file, shared by every process of the application. */
  readonly logFile: string;
  /** How often the relay publishes the outbox; without it, this process does not relay. */
  readonly relayEveryMs?: number;
  /** The consumers this process runs; without it, none. */
  readonly consumers?: (log: SqliteLog, store: SqliteStore) => Router[];
}

/** The log and store, and the relay and consumers running; close() stops and closes them. */
export interface Herald extends AsyncDisposable {
  readonly log: SqliteLog;
  readonly store: SqliteStore;
  close(): Promise<void>;
}

/** Opens the log and the store, makes sure of the users topic, starts the relay and the consumers. */
export async function openHerald({ db, logFile, relayEveryMs, consumers }: HeraldOptions): Promise<Herald> {
  const log = await openSqliteLog({ path: logFile });
  const store = await openSqliteStore(log);
  await ensureTopic(log, USERS_TOPIC, { partitions: 4 });
  const relay = relayEveryMs === undefined ? undefined : createOutboxRelay({ db, log }).start(relayEveryMs);
  const routers = consumers?.(log, store) ?? [];
  const running = routers.map((router) => router.run());
  const close = async (): Promise<void> => {
    await relay?.stop();
    await Promise.all(routers.map((router) => router.stop()));
    await Promise.all(running);
    await store.close();
    await log.close();
  };
  return { log, store, close, [Symbol.asyncDispose]: close };
}

/**
 * HERALD_LOG_FILE; by default herald.db beside a SQLite application database, or in a new
 * temporary folder beside a Postgres one.
 */
export async function heraldLogFile(db: SqlDatabase): Promise<string> {
  const chosen = process.env['HERALD_LOG_FILE'];
  if (chosen !== undefined) return chosen;
  const folder =
    db.dialect.name === 'sqlite' ? dirname(db.location) : await mkdtemp(join(tmpdir(), 'migrate-rest-'));
  return join(folder, 'herald.db');
}
