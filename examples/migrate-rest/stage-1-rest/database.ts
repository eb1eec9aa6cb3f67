// The application's own database: plain SQL, nothing of Herald, on SQLite or Postgres
// (sql-database.ts). Every stage keeps these tables; what changes from stage to stage is who
// fills mailbox, search_index and points, and when.
import { type Dialect, type Sql, type SqlDatabase, openSqlDatabase } from './sql-database.ts';

export interface User {
  readonly id: number;
  readonly email: string;
  readonly name: string;
}

/**
 * The users. Their ids come from a sequence, as a Postgres BIGSERIAL does: taking one is its
 * own tiny commit, so ids are unique but rows commit in any order.
 */
export const USERS_TABLE = `
  CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
`;

/** What the workflow writes; `prefix` names a second copy of these tables. */
export const workflowTables = ({ serialKey }: Dialect, prefix = ''): string => `
  -- The mail service: a row here is an e-mail sent. Like a real one, it does not deduplicate.
  CREATE TABLE IF NOT EXISTS ${prefix}mailbox (
    id ${serialKey},
    user_id INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS ${prefix}search_index (user_id INTEGER PRIMARY KEY, terms TEXT NOT NULL);
  -- A points ledger: one row per award, so an award made twice counts twice.
  CREATE TABLE IF NOT EXISTS ${prefix}points (
    id ${serialKey},
    user_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    amount INTEGER NOT NULL
  );
`;

/** The tables of stage 1: the users, the workflow's output and the polling job's cursor. */
export const schema = (dialect: Dialect): string => `
  ${USERS_TABLE}
  ${workflowTables(dialect)}
  CREATE TABLE IF NOT EXISTS job_cursors (job TEXT PRIMARY KEY, last_seen INTEGER NOT NULL);
`;

export const USER_IDS = 'user_ids';

/**
 * Opens (and creates) the application's database: `location` is a SQLite file, or a
 * `postgres://` URL (with `?schema=` to use a schema of its own). `close()` when done.
 */
export function openDatabase(location: string): Promise<SqlDatabase> {
  return openSqlDatabase(location, { schema, sequences: [USER_IDS] });
}

/** Takes the next user id, committed at once: a row that uses it may commit much later. */
export function takeUserId(db: SqlDatabase): Promise<number> {
  return db.nextValue(USER_IDS);
}

/** Inserts a new user; fails with a unique violation when the address is taken. */
export async function insertUser(sql: Sql, user: User): Promise<void> {
  await sql.run(
    'INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)',
    user.id,
    user.email,
    user.name,
    Date.now(),
  );
}

/** What the workflow produced for every user, as plain rows (of the tables with `prefix`). */
export async function workflowOutputs(
  sql: Sql,
  prefix = '',
): Promise<{
  mailbox: { user_id: number; recipient: string; subject: string }[];
  search_index: { user_id: number; terms: string }[];
  points: { user_id: number; reason: string; amount: number }[];
}> {
  return {
    mailbox: await sql.all(`SELECT user_id, recipient, subject FROM ${prefix}mailbox ORDER BY user_id, id`),
    search_index: await sql.all(`SELECT user_id, terms FROM ${prefix}search_index ORDER BY user_id`),
    points: await sql.all(`SELECT user_id, reason, amount FROM ${prefix}points ORDER BY user_id, id`),
  };
}
