import type { Pool } from 'pg';
import { HeraldError } from '@herald/core';

/** The schema Herald's tables live in unless told otherwise. */
export const DEFAULT_SCHEMA = 'herald';

// Short enough that `herald_outbox:<schema>` stays within Postgres' 63-byte identifier limit,
// which LISTEN/NOTIFY channel names share.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** Names derived from one schema: tables, the notification channel and the advisory-lock keys. */
export interface SchemaNames {
  readonly schema: string;
  readonly documents: string;
  readonly inbox: string;
  readonly failures: string;
  readonly outbox: string;
  /** LISTEN/NOTIFY channel the store notifies when it commits outbox rows. */
  readonly channel: string;
  /**
   * Text hashed into the transaction-scoped advisory lock every outbox insert takes just before
   * COMMIT: ids are then allocated, and become visible, in commit order (ADR 0007).
   */
  readonly commitLock: string;
  /** Text hashed into the session advisory lock the active relay holds: one relay per outbox. */
  readonly relayLock: string;
  /** Text hashed into the lock that serialises concurrent creation of the tables. */
  readonly ddlLock: string;
}

/** Validates a schema name and derives the names Herald uses in it. */
export function schemaNames(schema: string = DEFAULT_SCHEMA): SchemaNames {
  if (!SCHEMA_NAME.test(schema)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `schema "${schema}" must be 1-48 of lower-case letters, digits and "_", not starting with a digit`,
    );
  }
  const q = `"${schema}"`;
  return {
    schema,
    documents: `${q}.herald_documents`,
    inbox: `${q}.herald_inbox`,
    failures: `${q}.herald_failures`,
    outbox: `${q}.herald_outbox`,
    channel: `herald_outbox:${schema}`,
    commitLock: `herald.outbox.commit:${schema}`,
    relayLock: `herald.outbox.relay:${schema}`,
    ddlLock: `herald.ddl:${schema}`,
  };
}

function ddl(names: SchemaNames): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS "${names.schema}"`,
    // COLLATE "C": ids order and prefix-match bytewise, as on SQLite, whatever the database locale.
    `CREATE TABLE IF NOT EXISTS ${names.documents} (
      collection text COLLATE "C" NOT NULL,
      id text COLLATE "C" NOT NULL,
      value jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (collection, id)
    )`,
    `CREATE TABLE IF NOT EXISTS ${names.inbox} (
      group_name text NOT NULL,
      event_id text NOT NULL,
      fingerprint text NOT NULL,
      handled_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (group_name, event_id)
    )`,
    // What inbox retention deletes by (pruneInbox): oldest first, without scanning the inbox.
    `CREATE INDEX IF NOT EXISTS herald_inbox_handled_at ON ${names.inbox} (handled_at)`,
    `CREATE TABLE IF NOT EXISTS ${names.failures} (
      group_name text NOT NULL,
      topic text NOT NULL,
      partition integer NOT NULL,
      "offset" bigint NOT NULL,
      attempts integer NOT NULL,
      first_failure_at bigint NOT NULL,
      last_failure_at bigint NOT NULL,
      last_error text NOT NULL,
      PRIMARY KEY (group_name, topic, partition, "offset")
    )`,
    `CREATE TABLE IF NOT EXISTS ${names.outbox} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      topic text NOT NULL,
      partition integer,
      attributes jsonb NOT NULL,
      data bytea,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `COMMENT ON TABLE ${names.outbox} IS
      'Events waiting for the outbox relay. Written only by PostgresStore at commit under the advisory lock '
      '${names.commitLock}, so ids follow commit order; the relay deletes a row once the log acknowledged it.'`,
  ];
}

/**
 * Creates Herald's schema and tables when missing. Safe to run from several processes at once:
 * a transaction-scoped advisory lock serialises the DDL (concurrent `CREATE … IF NOT EXISTS`
 * can otherwise fail on the catalog's unique indexes).
 */
export async function createTables(pool: Pool, names: SchemaNames): Promise<void> {
  const client = await pool.connect();
  let broken = false;
  const onConnectionError = () => (broken = true);
  client.on('error', onConnectionError);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [names.ddlLock]);
    for (const statement of ddl(names)) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw error;
  } finally {
    client.removeListener('error', onConnectionError);
    client.release(broken);
  }
}
