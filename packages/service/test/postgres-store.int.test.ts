// Needs the test Postgres (HERALD_TEST_POSTGRES, default postgres://postgres@127.0.0.1:5432/test).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type StoredEvent, ensureTopic } from '@herald/core';
import { waitFor } from '@herald/testing';
import pg from 'pg';
import { openLogAndStores, schemaOf, startServices } from '@herald/service';
import { GREETINGS, greeter, signUp } from './fixtures/greeter.ts';
import { tempLog } from './fixtures/temp-log.ts';

const TEST_POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('a service with HERALD_STORE=postgres:// (real Postgres, real SQLite log)', () => {
  const prefix = `kit${randomBytes(4).toString('hex')}_`;
  let pool: pg.Pool;

  before(() => {
    pool = new pg.Pool({ connectionString: TEST_POSTGRES, max: 1 });
  });
  after(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schemaOf(prefix, 'greeter')}" CASCADE`);
    await pool.end();
  });

  it('keeps its state in its own schema and its relay publishes what it emits to the log', async () => {
    using folder = tempLog();
    const storeUrl = `${TEST_POSTGRES}${TEST_POSTGRES.includes('?') ? '&' : '?'}schemaPrefix=${prefix}`;
    const resources = await openLogAndStores({
      logUrl: folder.logUrl,
      storeUrl,
      env: {},
      services: ['greeter'],
    });
    assert.equal(resources.stores.kind, 'postgres');
    assert.match(resources.description, new RegExp(`schemas ${prefix}greeter`));
    await ensureTopic(resources.log, 'users', { partitions: 1 });
    await using host = await startServices({ services: [greeter()], resources, health: false });

    await host.log.append('users', signUp('ada'));
    let greetings: StoredEvent[] = [];
    await waitFor(
      async () => {
        greetings = [
          ...(await host.log.read('greetings', { partition: 0, from: 'earliest' })),
          ...(await host.log.read('greetings', { partition: 1, from: 'earliest' })),
        ];
        return greetings.length > 0;
      },
      15_000,
      'the relay to publish the greeting',
    );
    assert.equal(greetings.length, 1);
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1`,
      [schemaOf(prefix, 'greeter')],
    );
    assert.ok(Number(rows[0]!.n) > 0, 'the service has its own schema');
    assert.deepEqual(await host.stores.storeOf('greeter').get(GREETINGS, 'ada'), { text: 'Welcome, ada!' });
  });
});
