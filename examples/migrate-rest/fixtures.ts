// For the tests: every stage's tests run once on SQLite and once on Postgres, each test on a
// database of its own, and share the few helpers below.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Router, ensureTopic } from '@herald/core';
import { type SqliteLog, type SqliteStore, openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { FastifyInstance } from 'fastify';
import { TEST_POSTGRES, postgresUnavailable } from '../../packages/postgres/test/fixtures/test-postgres.ts';
import { caughtUp } from '../example-log.ts';
import type { User } from './stage-1-rest/database.ts';
import { type ScratchDatabase, type SqlDatabase, scratchDatabase } from './stage-1-rest/sql-database.ts';
import { CONSUMER_GROUPS, type ConsumersOptions } from './stage-2-outbox/consumers.ts';
import { USERS_TOPIC } from './stage-2-outbox/events.ts';
import { type OutboxRelay, createOutboxRelay } from './stage-2-outbox/relay.ts';

export { TEST_POSTGRES };

const postgresMissing = await postgresUnavailable();

/** One of the databases the application runs on, as the tests get it. */
export interface TestDatabase {
  readonly name: 'sqlite' | 'postgres';
  /** The server the Postgres tests use; undefined on SQLite. */
  readonly postgres: string | undefined;
  /** A new database: a file in a temporary folder, or a schema of its own on the server. */
  scratch(): Promise<ScratchDatabase>;
}

const DATABASES: readonly TestDatabase[] = [
  { name: 'sqlite', postgres: undefined, scratch: () => scratchDatabase(undefined, 'migrate-rest-test') },
  {
    name: 'postgres',
    postgres: TEST_POSTGRES,
    scratch: () => scratchDatabase(TEST_POSTGRES, 'migrate_rest_test'),
  },
];

/**
 * Declares `body`'s tests once per database, as `<title>, on sqlite` and `<title>, on postgres`.
 * Without a Postgres at HERALD_TEST_POSTGRES, its half fails in CI (CI=true: a run that quietly
 * skips proves nothing) and is skipped elsewhere, saying why.
 */
export function onEachDatabase(title: string, body: (database: TestDatabase) => void): void {
  for (const database of DATABASES) {
    void describe(`${title}, on ${database.name}`, () => {
      if (database.name === 'postgres' && postgresMissing !== undefined) {
        if (process.env['CI'] === 'true') {
          void it('has a Postgres to run on', () => assert.fail(postgresMissing));
        } else {
          void it('needs a Postgres to run on', { skip: postgresMissing }, () => undefined);
        }
        return;
      }
      body(database);
    });
  }
}

/** The application's database of the test under way, and its app, closed after it. */
export interface AppFixture {
  readonly db: SqlDatabase;
  /** What the database was opened from: for a server or a command to open it too. */
  readonly location: string;
  /** Set by the test; closed after it. */
  app: FastifyInstance | undefined;
  /** Signs a user up through `app` and expects 201; resolves with the answer's body. */
  signUp<T = User>(email: string, name: string): Promise<T>;
}

/** Opens a new database with `open` before each test; closes it and drops it after. */
export function useDatabase(
  database: TestDatabase,
  open: (location: string) => Promise<SqlDatabase>,
): AppFixture {
  let scratch: ScratchDatabase;
  const fixture = {
    app: undefined,
    signUp: (email: string, name: string) => signUp(fixture.app!, email, name),
  } as { -readonly [K in keyof AppFixture]: AppFixture[K] };
  beforeEach(async () => {
    scratch = await database.scratch();
    fixture.location = scratch.location;
    fixture.db = await open(scratch.location);
  });
  afterEach(async () => {
    await fixture.app?.close();
    fixture.app = undefined;
    await fixture.db.close();
    await scratch[Symbol.asyncDispose]();
  });
  return fixture;
}

/** Herald's log and store of the test under way, with the users topic; closed after it. */
export interface HeraldFixture {
  readonly log: SqliteLog;
  readonly store: SqliteStore;
  /** A folder of the test's own, removed after it. */
  readonly folder: string;
  /** Runs `routers` until the groups named (default all three) have handled everything, then stops them. */
  consume(routers: Router[], groups?: string[]): Promise<void>;
  /** A relay from the test's database to its log. */
  relay(): OutboxRelay;
  /** The stage's consumers on the test's log, store and database, with `options` besides. */
  consumers(options?: Partial<ConsumersOptions>): Router[];
}

export function useHerald(
  the: AppFixture,
  createConsumers: (options: ConsumersOptions) => Router[],
): HeraldFixture {
  const fixture = {
    consume: (routers: Router[], groups?: string[]) => consume(fixture.log, routers, groups),
    relay: () => createOutboxRelay({ db: the.db, log: fixture.log }),
    consumers: (options: Partial<ConsumersOptions> = {}) =>
      createConsumers({ log: fixture.log, store: fixture.store, db: the.db, ...options }),
  } as { -readonly [K in keyof HeraldFixture]: HeraldFixture[K] };
  beforeEach(async () => {
    fixture.folder = await mkdtemp(join(tmpdir(), 'migrate-rest-herald-'));
    fixture.log = await openSqliteLog({ path: join(fixture.folder, 'herald.db') });
    fixture.store = await openSqliteStore(fixture.log);
    await ensureTopic(fixture.log, USERS_TOPIC, { partitions: 4 });
  });
  afterEach(async () => {
    await fixture.store.close();
    await fixture.log.close();
    await rm(fixture.folder, { recursive: true, force: true });
  });
  return fixture;
}

/** A promise with its resolve, to hold a step until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Signs a user up through `app` and expects 201; resolves with the answer's body. */
async function signUp<T = User>(app: FastifyInstance, email: string, name: string): Promise<T> {
  const response = await app.inject({ method: 'POST', url: '/users', payload: { email, name } });
  assert.equal(response.statusCode, 201, response.body);
  return response.json<T>();
}

/** Signs a user up at a running server and expects 201; resolves with the answer's body. */
export async function signUpAt<T = User>(url: string, email: string, name: string): Promise<T> {
  const created = await fetch(`${url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, name }),
  });
  assert.equal(created.status, 201);
  return (await created.json()) as T;
}

async function consume(
  log: SqliteLog,
  routers: Router[],
  groups = Object.keys(CONSUMER_GROUPS),
): Promise<void> {
  const running = routers.map((router) => router.run());
  try {
    for (const group of groups) await caughtUp(log, group);
  } finally {
    await Promise.all(routers.map((router) => router.stop()));
    await Promise.all(running);
  }
}
