// The application's own database: plain SQL on node:sqlite, nothing of Herald. Every stage
// keeps these tables; what changes from stage to stage is who fills mailbox, search_index and
// points, and when.
import { DatabaseSync } from 'node:sqlite';

const SCHEMA = `
  -- Ids are handed out before the row commits, as a Postgres sequence (BIGSERIAL) does:
  -- taking one is its own tiny commit, so ids are unique but rows commit in any order.
  CREATE TABLE IF NOT EXISTS id_sequences (name TEXT PRIMARY KEY, last INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  -- The mail service: a row here is an e-mail sent. Like a real one, it does not deduplicate.
  CREATE TABLE IF NOT EXISTS mailbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS search_index (user_id INTEGER PRIMARY KEY, terms TEXT NOT NULL);
  -- A points ledger: one row per award, so an award made twice counts twice.
  CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    amount INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS job_cursors (job TEXT PRIMARY KEY, last_seen INTEGER NOT NULL);
  -- Stage 2: the events a transaction emits, written in that same transaction (no dual write).
  -- The relay publishes every row still here and then deletes it: no cursor, so a row that
  -- commits late is published late, never skipped.
  CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    attributes TEXT NOT NULL,
    data BLOB
  );
  -- Stage 2: where the polling job, kept running in shadow, writes what it would have done.
  CREATE TABLE IF NOT EXISTS shadow_mailbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS shadow_search_index (user_id INTEGER PRIMARY KEY, terms TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS shadow_points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    amount INTEGER NOT NULL
  );
`;

/** Which copy of the workflow's tables: the live one, or the one the shadow job writes. */
export type Tables = '' | 'shadow_';

export interface User {
  readonly id: number;
  readonly email: string;
  readonly name: string;
}

/** Opens (and creates) the application's database file. `close()` when done. */
export function openDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
  db.exec(SCHEMA);
  return db;
}

/** Takes the next user id, committed at once: a row that uses it may commit much later. */
export function takeUserId(db: DatabaseSync): number {
  const row = db
    .prepare(
      `INSERT INTO id_sequences (name, last) VALUES ('users', 1)
       ON CONFLICT (name) DO UPDATE SET last = last + 1 RETURNING last`,
    )
    .get() as { last: number };
  return row.last;
}

/** Runs `fn` in one SQL transaction: everything it writes commits together or not at all. */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

/** What the workflow produced for every user, as plain rows: what tests and comparisons read. */
export function workflowOutputs(
  db: DatabaseSync,
  tables: Tables = '',
): {
  mailbox: { user_id: number; recipient: string; subject: string }[];
  search_index: { user_id: number; terms: string }[];
  points: { user_id: number; reason: string; amount: number }[];
} {
  const rows = (sql: string): never[] =>
    db
      .prepare(sql)
      .all()
      .map((row) => ({ ...row }) as never);
  return {
    mailbox: rows(`SELECT user_id, recipient, subject FROM ${tables}mailbox ORDER BY user_id, id`),
    search_index: rows(`SELECT user_id, terms FROM ${tables}search_index ORDER BY user_id`),
    points: rows(`SELECT user_id, reason, amount FROM ${tables}points ORDER BY user_id, id`),
  };
}
