// Needs the test brokers and Postgres: HERALD_TEST_KAFKA (default 127.0.0.1:19092),
// HERALD_TEST_NATS (127.0.0.1:4222), HERALD_TEST_POSTGRES (postgres://postgres@127.0.0.1:5432/test).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type EventLog, type StoredEvent } from '@herald/core';
import { waitFor } from '@herald/testing';
import pg from 'pg';
import { openLogAndStores, schemaOf, startServices } from '@herald/service';
import { GREETINGS, greeter, signUp } from './fixtures/greeter.ts';
import { deleteNamespace as deleteKafkaNamespace } from '../../kafka/test/kafka-test-broker.ts';

const TEST_POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0];
const NATS = (process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222').split(',')[0];

async function greetingsOf(log: EventLog): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (const partition of [0, 1])
    events.push(...(await log.read('greetings', { partition, from: 'earliest' })));
  return events;
}

describe('a service on a broker log with HERALD_STORE=postgres:// (real Kafka, NATS and Postgres)', () => {
  const prefix = `kit${randomBytes(4).toString('hex')}_`;
  let pool: pg.Pool;

  before(() => {
    pool = new pg.Pool({ connectionString: TEST_POSTGRES, max: 1 });
  });
  after(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schemaOf(prefix, 'greeter')}" CASCADE`);
    await pool.end();
    await deleteKafkaNamespace(`${prefix}kafka.`);
  });

  for (const [backend, logUrl] of [
    ['kafka', `kafka://${KAFKA}?namespace=${prefix}kafka.`],
    ['nats', `nats://${NATS}?namespace=${prefix.replaceAll('_', '-')}nats`],
  ] as const) {
    it(`opens the ${backend} log from its URL, creates its topics there and greets through the outbox relay`, async () => {
      const storeUrl = `${TEST_POSTGRES}${TEST_POSTGRES.includes('?') ? '&' : '?'}schemaPrefix=${prefix}`;
      const resources = await openLogAndStores({ logUrl, storeUrl, env: {}, services: ['greeter'] });
      const { log } = resources;
      await log.createTopic('users', { partitions: 1 });
      await using host = await startServices({ services: [greeter()], resources, health: false });
      assert.equal((await log.describeTopic('greetings')).partitions, 2);

      const userId = `${backend}-ada`;
      await log.append('users', signUp(userId));
      await waitFor(async () => (await greetingsOf(log)).length > 0, 30_000, 'the greeting on the log');
      assert.deepEqual(
        (await greetingsOf(log)).map((e) => e.partitionkey),
        [userId],
      );
      assert.deepEqual(await host.stores.storeOf('greeter').get(GREETINGS, userId), {
        text: `Welcome, ${userId}!`,
      });
    });
  }
});
