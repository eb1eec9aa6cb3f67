// `herald dlq redrive` as real processes on a real Kafka broker and a real NATS server, with a
// Postgres HERALD_STORE whose outbox publishes the redriven events (F9): the same dead letter
// redriven twice, one request after the other or two at the same time, is appended once; the
// cap holds; every redrive and refusal is audited; without a store the command refuses unless
// asked for best effort. Needs HERALD_TEST_KAFKA (default 127.0.0.1:19092), HERALD_TEST_NATS
// (127.0.0.1:4222) and HERALD_TEST_POSTGRES (postgres://postgres@127.0.0.1:5432/test); it fails
// when one is missing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { openEventLog, openStore } from '@herald/core';
import type { CloudEvent, EventLog, StoredEvent } from '@herald/core';
import { AUDIT_COLLECTION, REDRIVE_COLLECTION, redrive } from '@herald/core/ops';
import type { RedriveAuditEntry, RedriveRecord, RedriveResult } from '@herald/core/ops';
import { readAll } from '@herald/testing';
import pg from 'pg';
import { spawnHerald } from './spawn-herald.ts';
import { deleteNamespace as deleteKafkaNamespace } from '../../kafka/test/kafka-test-broker.ts';

const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0];
const NATS = (process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222').split(',')[0];
const TEST_POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const DLQ = 'orders.dead-letter';

/** What `deadLetter()` parks: the original event plus dl* failure metadata. */
function parked(id: string, originalOffset: number): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source: '/checkout',
    type: 'dev.herald.orders.order-placed.v1',
    partitionkey: `key-${id}`,
    extensions: {
      dlerror: `tax service rejects ${id}`,
      dlcode: 'Error',
      dlattempts: '5',
      dlgroup: 'billing.invoices',
      dltopic: 'orders',
      dlpartition: '0',
      dloffset: String(originalOffset),
    },
  };
}

interface Env extends AsyncDisposable {
  readonly log: EventLog;
  readonly logUrl: string;
  readonly storeUrl: string;
  /** Runs `herald dlq redrive <args>` with HERALD_STORE, as JSON. */
  redrive(...args: string[]): Promise<{ status: number | null; result: RedriveResult; stderr: string }>;
  /**
   * What the services' relay does after the command: publishes whatever the commands' relays
   * left in the outbox (a relay that stood by while another led, which exited first, leaves its
   * events there), then the events of `id` in `orders`.
   */
  appended(id: string): Promise<StoredEvent[]>;
}

async function setup(logUrl: (id: string) => string): Promise<Env> {
  const id = `dlq${randomBytes(4).toString('hex')}`;
  const url = logUrl(id);
  const storeUrl = `${TEST_POSTGRES}${TEST_POSTGRES.includes('?') ? '&' : '?'}schema=${id}`;
  const log = await openEventLog(url);
  await log.createTopic('orders', { partitions: 1 });
  await log.createTopic(DLQ, { partitions: 1 });
  for (const [n, event] of ['order-1', 'order-2', 'order-3'].entries())
    await log.append(DLQ, parked(event, n));
  return {
    log,
    logUrl: url,
    storeUrl,
    async redrive(...args) {
      const run = await spawnHerald(['dlq', 'redrive', DLQ, ...args, '--json'], url, {
        HERALD_STORE: storeUrl,
      });
      return { status: run.status, result: JSON.parse(run.stdout) as RedriveResult, stderr: run.stderr };
    },
    async appended(eventId) {
      const relay = await openStore(storeUrl, { log });
      await relay.close();
      return (await readAll(log, 'orders')).filter((e) => e.id === eventId);
    },
    async [Symbol.asyncDispose]() {
      await log.close();
      const pool = new pg.Pool({ connectionString: TEST_POSTGRES, max: 1 });
      await pool.query(`DROP SCHEMA IF EXISTS "${id}" CASCADE`);
      await pool.end();
      if (url.startsWith('kafka:')) await deleteKafkaNamespace(`${id}.`);
    },
  };
}

for (const [name, logUrl] of [
  ['Kafka', (id: string) => `kafka://${KAFKA}?namespace=${id}.`],
  ['NATS', (id: string) => `nats://${NATS}?namespace=${id}`],
] as const) {
  describe(`herald dlq redrive on ${name} with a Postgres store`, { timeout: 600_000 }, () => {
    it('appends a dead letter redriven twice, one request after the other, once', async () => {
      await using env = await setup(logUrl);
      const first = await env.redrive('0:0');
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.stderr, '');
      assert.deepEqual(
        first.result.outcomes.map((o) => [o.eventId, o.status, o.count]),
        [['order-1', 'redriven', 1]],
      );
      assert.deepEqual(
        (await readAll(env.log, 'orders')).map((e) => e.id),
        ['order-1'],
        'the command published the redriven event from the outbox before it exited',
      );
      const second = await env.redrive('0:0');
      assert.equal(second.status, 0, second.stderr);
      assert.deepEqual(
        second.result.outcomes.map((o) => [o.eventId, o.status, o.count]),
        [['order-1', 'duplicate', 1]],
      );
      const appended = await env.appended('order-1');
      assert.equal(appended.length, 1, 'appended once');
      assert.equal(appended[0]?.extensions?.['dlredrive'], '1');
      assert.equal(appended[0]?.extensions?.['dltopic'], undefined, 'without the failure metadata');
    });

    it('appends a dead letter redriven by two requests at the same time once', async () => {
      await using env = await setup(logUrl);
      const both = await Promise.all([env.redrive('0:1'), env.redrive('0:1')]);
      for (const run of both) assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(both.map((run) => run.result.outcomes[0]?.status).sort(), ['duplicate', 'redriven']);
      assert.equal((await env.appended('order-2')).length, 1, 'appended once');
      const store = await openStore(env.storeUrl, { log: env.log, publish: false });
      try {
        const record = await store.get<RedriveRecord>(REDRIVE_COLLECTION, `${DLQ}/0/1`);
        assert.equal(record?.count, 1);
      } finally {
        await store.close();
      }
    });

    it('appends a dead letter that five requests over separate connections redrive at the same time once', async () => {
      // The processes above may start one after the other; these transactions surely overlap.
      await using env = await setup(logUrl);
      const stores = await Promise.all(
        Array.from({ length: 5 }, () => openStore(env.storeUrl, { log: env.log })),
      );
      try {
        const results = await Promise.all(
          stores.map((store) =>
            redrive({
              log: env.log,
              store,
              deadLetterTopic: DLQ,
              positions: [{ partition: 0, offset: 1 }],
            }),
          ),
        );
        assert.deepEqual(results.map((r) => r.outcomes[0]?.status).sort(), [
          'duplicate',
          'duplicate',
          'duplicate',
          'duplicate',
          'redriven',
        ]);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
      assert.equal((await env.appended('order-2')).length, 1, 'appended once');
    });

    it('holds the cap and audits every redrive and every refusal', async () => {
      await using env = await setup(logUrl);
      for (let n = 1; n <= 3; n++) {
        const run = await env.redrive('0:2', ...(n === 1 ? [] : ['--again']));
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(
          run.result.outcomes.map((o) => [o.status, o.count]),
          [['redriven', n]],
        );
      }
      const capped = await env.redrive('0:2', '--again');
      assert.equal(capped.status, 1);
      assert.match(capped.stderr, /reached the redrive cap \(3 of 3\)/);
      assert.deepEqual(
        (await env.appended('order-3')).map((e) => e.extensions?.['dlredrive']),
        ['1', '2', '3'],
        'appended three times, never a fourth',
      );

      const store = await openStore(env.storeUrl, { log: env.log, publish: false });
      try {
        const audit = (await store.list<RedriveAuditEntry>(AUDIT_COLLECTION)).map(({ value }) => value);
        assert.deepEqual(
          audit.map((entry) => [entry.action, entry.outcome, entry.eventId, entry.count]),
          [
            ['dlq.redrive', 'redriven', 'order-3', 1],
            ['dlq.redrive', 'redriven', 'order-3', 2],
            ['dlq.redrive', 'redriven', 'order-3', 3],
            ['dlq.redrive', 'refused', 'order-3', 3],
          ],
        );
        assert.ok(audit.every((entry) => entry.actor.length > 0 && entry.deadLetterTopic === DLQ));
      } finally {
        await store.close();
      }
    });

    it('refuses to redrive without a store unless asked for best effort', async () => {
      await using env = await setup(logUrl);
      const refused = await spawnHerald(['dlq', 'redrive', DLQ, '0:0'], env.logUrl);
      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /has no store to count, cap, deduplicate and audit redrives/);
      assert.deepEqual(await readAll(env.log, 'orders'), [], 'nothing appended');

      const bestEffort = await spawnHerald(['dlq', 'redrive', DLQ, '0:0', '--best-effort'], env.logUrl);
      assert.equal(bestEffort.status, 0, bestEffort.stderr);
      assert.match(bestEffort.stderr, /this redrive is best effort/);
      assert.equal((await readAll(env.log, 'orders')).length, 1);
    });
  });
}
