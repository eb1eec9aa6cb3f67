// The guides under docs/guides run as written: every shell block, in order, from the repository
// root (see guide-runner.ts), against a real Kafka broker (HERALD_TEST_KAFKA) and a real Postgres
// (HERALD_TEST_POSTGRES) where a guide needs them. Each run gets its own log file, Kafka
// namespace, database and port. Without a broker or a database the test fails in CI (CI=true)
// and is skipped elsewhere.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, describe, it } from 'node:test';
import { openEventLog } from '@herald/core';
import pg from 'pg';
import { REPOSITORY } from '../build/build-packages.ts';
import { runGuide } from './guide-runner.ts';
import { deleteNamespace as deleteKafkaNamespace } from '../../packages/kafka/test/kafka-test-broker.ts';

const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0]!;
const POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';

function missing(t: { skip(message: string): void }, what: string): void {
  if (process.env['CI'] === 'true') throw new Error(`${what}: the guides' tests need it in CI`);
  t.skip(what);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A database of its own on the test server, dropped by `dispose`. */
interface FreshDatabase extends AsyncDisposable {
  readonly url: string;
}

async function freshDatabase(): Promise<FreshDatabase> {
  const name = `guide_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES);
  url.pathname = `/${name}`;
  url.search = '';
  return {
    url: url.toString(),
    async [Symbol.asyncDispose]() {
      const client = new pg.Client({ connectionString: POSTGRES });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** A fresh database, or undefined when there is no Postgres (a failure in CI, else a skip). */
async function databaseOrMissing(t: TestContext): Promise<FreshDatabase | undefined> {
  try {
    return await freshDatabase();
  } catch (error) {
    missing(t, `no Postgres at HERALD_TEST_POSTGRES (${(error as Error).message})`);
    return undefined;
  }
}

/** A folder for the guide's files, removed after the test. */
function guideDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-guide-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('the guides', { timeout: 600_000 }, () => {
  it('debug-by-replay.md: a dead-lettered payment is found, replayed on a laptop, fixed and redriven', async (t) => {
    const dir = guideDir(t);
    await runGuide(join(REPOSITORY, 'docs', 'guides', 'debug-by-replay.md'), {
      cwd: REPOSITORY,
      env: {
        ...process.env,
        HERALD_LOG: `sqlite:${join(dir, 'herald.db')}`,
        PORT: String(await freePort()),
        GUIDE_DIR: dir,
        HERALD_ADMIN_TOKEN: randomBytes(16).toString('hex'),
        HERALD_CONSOLE_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
      },
      onStep: (step) => t.diagnostic(step),
    });
  });

  it('migrate-one-workflow.md: a REST application moves its sign-up workflow to events stage by stage, on SQLite and on Postgres', async (t) => {
    await using database = await databaseOrMissing(t);
    if (database === undefined) return;
    const dir = guideDir(t);
    await runGuide(join(REPOSITORY, 'docs', 'guides', 'migrate-one-workflow.md'), {
      cwd: REPOSITORY,
      env: { ...process.env, PORT: String(await freePort()), GUIDE_DIR: dir, POSTGRES_URL: database.url },
      onStep: (step) => t.diagnostic(step),
    });
  });

  it('graduate-to-kafka.md: the order system moves from the embedded log to Kafka and Postgres, and resumes', async (t) => {
    const namespace = `guide${randomBytes(4).toString('hex')}.`;
    const kafkaUrl = `kafka://${KAFKA}?namespace=${namespace}`;
    // The broker keeps no partitions of the run: a broker holding many works harder at rest.
    t.after(() => deleteKafkaNamespace(namespace));
    try {
      await using probe = await openEventLog(kafkaUrl);
      await probe.listTopics();
    } catch (error) {
      return missing(t, `no Kafka at HERALD_TEST_KAFKA (${(error as Error).message})`);
    }
    await using database = await databaseOrMissing(t);
    if (database === undefined) return;
    const dir = guideDir(t);
    await runGuide(join(REPOSITORY, 'docs', 'guides', 'graduate-to-kafka.md'), {
      cwd: REPOSITORY,
      env: {
        ...process.env,
        HERALD_LOG: `sqlite:${join(dir, 'herald.db')}`,
        KAFKA_URL: kafkaUrl,
        STATE_URL: database.url,
        PORT: String(await freePort()),
        GUIDE_DIR: dir,
        // Chosen here, so that npm start writes no token or password file into the repository.
        HERALD_ADMIN_TOKEN: randomBytes(16).toString('hex'),
        HERALD_CONSOLE_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
        HERALD_SESSION_TIMEOUT_MS: '6000',
      },
      onStep: (step) => t.diagnostic(step),
    });
  });
});
