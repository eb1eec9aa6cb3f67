// The seam between the application and its database: the same SQL, with `?` placeholders, on
// SQLite (node:sqlite, a file) or on Postgres (pg, a server), chosen by where the database is —
// a file path or a postgres:// URL. Nothing of Herald. The application's own SQL is written
// once, in the part both databases understand (ON CONFLICT, RETURNING, EXISTS); what differs
// stays here: column types, sequences, transactions, how a unique violation is reported.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import pg from 'pg';

/** A value a statement takes or a row holds. */
export type SqlValue = string | number | null | Uint8Array;

/**
 * Runs statements with `?` placeholders (never a `?` inside a string literal): the database
 * itself, each statement its own commit, or one transaction on it. Rows are plain objects.
 */
export interface Sql {
  all<Row extends object>(sql: string, ...params: SqlValue[]): Promise<Row[]>;
  /** The first row, or undefined when there is none. */
  get<Row extends object>(sql: string, ...params: SqlValue[]): Promise<Row | undefined>;
  run(sql: string, ...params: SqlValue[]): Promise<void>;
}

/** What a schema has to say differently on each database. */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** A primary key the database numbers itself. */
  readonly serialKey: string;
  /** A column of bytes. */
  readonly bytes: string;
}

export interface SqlDatabase extends Sql, AsyncDisposable {
  readonly dialect: Dialect;
  /** Where the database is, with no password in it: what a server may print. */
  readonly location: string;
  /**
   * Runs `fn` in one transaction: it commits when `fn` resolves and rolls back when it throws.
   * Inside `fn`, run statements on `tx`: one on the database itself is not part of the
   * transaction, and on SQLite it waits for the transaction to end.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /**
   * The next value of a sequence declared on open, committed at once: it is never handed out
   * again, whatever becomes of the transaction that uses it, which may commit much later.
   */
  nextValue(sequence: string): Promise<number>;
  close(): Promise<void>;
}

export interface SchemaOptions {
  /** The tables, as `CREATE … IF NOT EXISTS` statements; run on every open. */
  readonly schema: (dialect: Dialect) => string;
  readonly sequences?: readonly string[];
}

const SQLITE: Dialect = { name: 'sqlite', serialKey: 'INTEGER PRIMARY KEY AUTOINCREMENT', bytes: 'BLOB' };
const POSTGRES: Dialect = { name: 'postgres', serialKey: 'BIGSERIAL PRIMARY KEY', bytes: 'BYTEA' };

const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//.test(location);

/**
 * Opens (and creates) the database at `location`: a SQLite file, or a `postgres://` URL whose
 * `schema` parameter, if any, names the schema to use (created when missing). `close()` when done.
 *
 * @example const db = await openSqlDatabase('postgres://app@db.internal/shop?schema=users', { schema });
 */
export async function openSqlDatabase(location: string, options: SchemaOptions): Promise<SqlDatabase> {
  return isPostgresUrl(location) ? openPostgres(location, options) : openSqlite(location, options);
}

/** True when `error` is a database's refusal of a duplicate in a unique column. */
export function isUniqueViolation(error: unknown): boolean {
  const { errcode, code } = (error ?? {}) as { errcode?: unknown; code?: unknown };
  return errcode === 2067 /* SQLITE_CONSTRAINT_UNIQUE */ || code === '23505'; /* unique_violation */
}

// SQLite: one connection, used by the whole process. A transaction holds it until it ends, and
// statements outside wait for that, as they would for a pool of one: otherwise another request's
// statement, run while the transaction awaits, would become part of it.
function openSqlite(path: string, { schema, sequences = [] }: SchemaOptions): SqlDatabase {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
  // SQLite has no sequences: a table of counters stands in, each value taken in its own commit.
  db.exec('CREATE TABLE IF NOT EXISTS id_sequences (name TEXT PRIMARY KEY, last INTEGER NOT NULL)');
  for (const name of sequences) {
    db.prepare('INSERT INTO id_sequences (name, last) VALUES (?, 0) ON CONFLICT (name) DO NOTHING').run(name);
  }
  db.exec(schema(SQLITE));

  const statements = new Map<string, StatementSync>();
  const statement = (sql: string): StatementSync => {
    let prepared = statements.get(sql);
    if (prepared === undefined) statements.set(sql, (prepared = db.prepare(sql)));
    return prepared;
  };
  const all = <Row>(sql: string, params: SqlValue[]): Row[] =>
    statement(sql)
      .all(...params)
      .map((row) => ({ ...row }) as Row);
  const get = <Row>(sql: string, params: SqlValue[]): Row | undefined => {
    const row = statement(sql).get(...params);
    return row === undefined ? undefined : ({ ...row } as Row);
  };
  const inside: Sql = {
    all: async (sql, ...params) => all(sql, params),
    get: async (sql, ...params) => get(sql, params),
    run: async (sql, ...params) => void statement(sql).run(...params),
  };

  // Set while a transaction holds the connection; resolves when it ends. The wait and the work
  // after it run without a pause between them, so nothing slips in once the wait is over.
  let transactionEnded: Promise<void> | undefined;
  const whenFree = async <T>(work: () => T): Promise<T> => {
    while (transactionEnded !== undefined) await transactionEnded;
    return work();
  };
  return {
    dialect: SQLITE,
    location: path,
    all: (sql, ...params) => whenFree(() => all(sql, params)),
    get: (sql, ...params) => whenFree(() => get(sql, params)),
    run: (sql, ...params) => whenFree(() => void statement(sql).run(...params)),
    async transaction(fn) {
      const end = await whenFree(() => {
        db.exec('BEGIN IMMEDIATE');
        let resolve!: () => void;
        transactionEnded = new Promise((done) => (resolve = done));
        return resolve;
      });
      try {
        const result = await fn(inside);
        db.exec('COMMIT');
        return result;
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      } finally {
        transactionEnded = undefined;
        end();
      }
    },
    nextValue: (sequence) =>
      whenFree(() => {
        const row = statement('UPDATE id_sequences SET last = last + 1 WHERE name = ? RETURNING last').get(
          sequence,
        ) as { last: number } | undefined;
        if (row === undefined)
          throw new Error(`no sequence ${sequence}: declare it when opening the database`);
        return row.last;
      }),
    close: () => whenFree(() => db.close()),
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

/** `?` placeholders as Postgres numbers them: `$1`, `$2`, … */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

// int8 (counts, sums, BIGSERIAL keys) as numbers, as SQLite gives them: this application's
// counts and keys stay far below 2^53.
const types: pg.CustomTypesConfig = {
  getTypeParser: (oid, format) =>
    (oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as unknown,
};

function rowsOf(client: pg.Pool | pg.PoolClient): Sql {
  const all = async <Row>(sql: string, ...params: SqlValue[]): Promise<Row[]> =>
    (await client.query(numbered(sql), params)).rows as Row[];
  return {
    all,
    get: async <Row>(sql: string, ...params: SqlValue[]) => (await all<Row>(sql, ...params))[0],
    run: async (sql, ...params) => void (await client.query(numbered(sql), params)),
  };
}

/** The URL without what must not be printed: its password. */
function printable(url: URL): string {
  const shown = new URL(url);
  shown.password = '';
  shown.searchParams.delete('password');
  return shown.toString();
}

async function openPostgres(
  location: string,
  { schema, sequences = [] }: SchemaOptions,
): Promise<SqlDatabase> {
  const url = new URL(location);
  const schemaName = url.searchParams.get('schema');
  if (schemaName !== null && !/^[a-z_][a-z0-9_]*$/.test(schemaName)) {
    throw new Error(`schema=${schemaName}: a schema name is lower-case letters, digits and _`);
  }
  url.searchParams.delete('schema');
  const pool = new pg.Pool({
    connectionString: url.toString(),
    types,
    ...(schemaName === null ? {} : { options: `-c search_path=${schemaName}` }),
  });
  // An idle connection the server dropped: the pool replaces it; the next query reports the rest.
  pool.on('error', (error) => console.error(`application database: ${error.message}`));
  const shown = printable(new URL(location));
  try {
    const client = await pool.connect();
    try {
      // One opener at a time creates the tables: two processes starting together do not race.
      await client.query('BEGIN');
      await client.query("SELECT pg_advisory_xact_lock(hashtext('migrate-rest schema'))");
      if (schemaName !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schemaName}`);
      for (const name of sequences) await client.query(`CREATE SEQUENCE IF NOT EXISTS ${name}`);
      await client.query(schema(POSTGRES));
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end();
    throw new Error(`cannot open the database at ${shown}: ${(error as Error).message}`, { cause: error });
  }

  return {
    dialect: POSTGRES,
    location: shown,
    ...rowsOf(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        try {
          const result = await fn(rowsOf(client));
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      } finally {
        client.release();
      }
    },
    async nextValue(sequence) {
      const { rows } = await pool.query<{ value: number }>('SELECT nextval($1) AS value', [sequence]);
      return rows[0]!.value;
    },
    close: () => pool.end(),
    async [Symbol.asyncDispose]() {
      await pool.end();
    },
  };
}

/** A new, empty database for one run, and its removal. */
export interface ScratchDatabase extends AsyncDisposable {
  /** What to open: a file in a new temporary folder, or `postgres` with a new schema. */
  readonly location: string;
}

/**
 * A database no one else uses: on Postgres when `postgres` (a server's URL) is given, as a new
 * schema there, else as a SQLite file in a new temporary folder. Disposing drops the schema, or
 * removes the folder; close what opened it first.
 */
export async function scratchDatabase(postgres: string | undefined, name: string): Promise<ScratchDatabase> {
  if (postgres === undefined) {
    const folder = await mkdtemp(join(tmpdir(), `${name}-`));
    return {
      location: join(folder, `${name}.db`),
      [Symbol.asyncDispose]: () => rm(folder, { recursive: true, force: true }),
    };
  }
  const schema = `${name.replaceAll('-', '_')}_${randomBytes(4).toString('hex')}`;
  const url = new URL(postgres);
  url.searchParams.set('schema', schema);
  return {
    location: url.toString(),
    async [Symbol.asyncDispose]() {
      const client = new pg.Client({ connectionString: postgres });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
