// The application's own database. Stage 5: the polling job is gone, and with it its cursor and
// the shadow tables; the mailbox and the points ledger each refuse a second effect of a step.
import { USERS_TABLE, USER_IDS } from '../stage-1-rest/database.ts';
import { type Dialect, type SqlDatabase, openSqlDatabase } from '../stage-1-rest/sql-database.ts';
import { outboxTable } from '../stage-2-outbox/database.ts';

const schema = (dialect: Dialect): string => `
  ${USERS_TABLE}
  -- The mail service: a row here is an e-mail sent. Stage 5: it takes a message id and sends a
  -- message once per id, as transactional mail APIs do with an idempotency key.
  CREATE TABLE IF NOT EXISTS mailbox (
    id ${dialect.serialKey},
    message_id TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS search_index (user_id INTEGER PRIMARY KEY, terms TEXT NOT NULL);
  -- A points ledger: one row per award. Stage 5: one award per user and reason.
  CREATE TABLE IF NOT EXISTS points (
    id ${dialect.serialKey},
    user_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    amount INTEGER NOT NULL,
    UNIQUE (user_id, reason)
  );
  ${outboxTable(dialect)}
`;

/** Opens (and creates) the application's database: a SQLite file or a `postgres://` URL. */
export function openDatabase(location: string): Promise<SqlDatabase> {
  return openSqlDatabase(location, { schema, sequences: [USER_IDS] });
}
