// The application's own database, as stage 1 has it, with two kinds of tables more: the outbox,
// and the shadow copies of the workflow's tables that the polling job, kept running beside the
// consumers, writes instead of the live ones.
import * as stage1 from '../stage-1-rest/database.ts';
import { type Dialect, type SqlDatabase, openSqlDatabase } from '../stage-1-rest/sql-database.ts';

/**
 * The events a transaction emits, written in that same transaction (no dual write). The relay
 * publishes every row still here and then deletes it: no cursor, so a row that commits late is
 * published late, never skipped.
 */
export const outboxTable = ({ serialKey, bytes }: Dialect): string => `
  CREATE TABLE IF NOT EXISTS outbox (
    seq ${serialKey},
    topic TEXT NOT NULL,
    attributes TEXT NOT NULL,
    data ${bytes}
  );
`;

/** The prefix of the tables the polling job writes while it runs in shadow. */
export const SHADOW = 'shadow_';

const schema = (dialect: Dialect): string => `
  ${stage1.schema(dialect)}
  ${outboxTable(dialect)}
  ${stage1.workflowTables(dialect, SHADOW)}
`;

/** Opens (and creates) the application's database: a SQLite file or a `postgres://` URL. */
export function openDatabase(location: string): Promise<SqlDatabase> {
  return openSqlDatabase(location, { schema, sequences: [stage1.USER_IDS] });
}
