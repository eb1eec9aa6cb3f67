import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { waitFor } from '@herald/testing';
import { type EventLog, createProducer, createRouter, openEventLog, openStore } from '@herald/core';
import { runHerald } from './run-herald.ts';
import { tempDatabase } from './spawn-herald.ts';
import { deleteNamespace as deleteKafkaNamespace } from '../../kafka/test/kafka-test-broker.ts';
import { OrderPlaced, runningFee, shipping } from './fixtures/shipping-shadow.ts';

// `herald shadow` on a real SQLite file, and on a real Kafka broker with a real Postgres store
// (HERALD_TEST_KAFKA, HERALD_TEST_POSTGRES; in CI they must be there): the shipping group ran with
// its current fee rule over four orders; the module's new rule (free from 50) is shadowed over
// that history, and nothing is appended, committed or written.

const MODULE = fileURLToPath(new URL('./fixtures/shipping-shadow.ts', import.meta.url));
const TOTALS = { 'o-1': 20, 'o-2': 60, 'o-3': 80, 'o-4': 150 };

/** Where the history is: a log and the store the group keeps its state in. */
interface Place {
  readonly log: string;
  /** HERALD_STORE; undefined: the sqlite log's own file. */
  readonly store: string | undefined;
}

const storeUrl = (place: Place) => place.store ?? place.log;

/** The orders, handled by the running version until the group has no lag. */
async function history(place: Place): Promise<void> {
  await using log = await openEventLog(place.log);
  await log.createTopic('orders', { partitions: 2 });
  await log.createTopic('shipments', { partitions: 1 });
  const checkout = createProducer({ log, source: '/checkout' });
  for (const [order, total] of Object.entries(TOTALS)) {
    await checkout.publish('orders', OrderPlaced, { order, total }, { key: order, id: `placed-${order}` });
  }
  await using store = await openStore(storeUrl(place), { log });
  const router = createRouter({ log, group: 'shipping.fees', topics: ['orders'], store });
  shipping(router, runningFee);
  const running = router.run();
  await waitFor(async () => {
    const { partitions } = await log.describeGroup('shipping.fees');
    return partitions.length === 2 && partitions.every((p) => p.lag === 0);
  });
  await router.stop();
  await running;
}

async function ends(log: EventLog): Promise<string> {
  const lines: string[] = [];
  for (const topic of await log.listTopics()) {
    for (const p of (await log.describeTopic(topic.name)).partitionInfo)
      lines.push(`${topic.name}/${p.partition} ${p.earliest}-${p.latest}`);
  }
  const { partitions } = await log.describeGroup('shipping.fees');
  for (const p of partitions) lines.push(`committed ${p.topic}/${p.partition} ${String(p.committed)}`);
  return lines.sort().join('\n');
}

const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0]!;
const POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The shadowed history on `backend`, or the reason it cannot be had here (outside CI only). */
async function placeOn(backend: 'sqlite' | 'kafka'): Promise<(Place & AsyncDisposable) | string> {
  if (backend === 'sqlite') {
    const db = tempDatabase();
    return { log: db.url, store: undefined, [Symbol.asyncDispose]: async () => db[Symbol.dispose]() };
  }
  const name = `shadow${randomBytes(4).toString('hex')}`;
  const place = {
    log: `kafka://${KAFKA}?namespace=${name}.`,
    store: `${POSTGRES}${POSTGRES.includes('?') ? '&' : '?'}schema=${name}`,
    async [Symbol.asyncDispose]() {
      const client = new pg.Client({ connectionString: POSTGRES });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await client.end();
      await deleteKafkaNamespace(`${name}.`);
    },
  };
  try {
    await using log = await openEventLog(place.log);
    await log.listTopics();
    await using store = await openStore(place.store, { log, publish: false });
    await store.list('probe');
  } catch (error) {
    if (process.env['CI'] === 'true') throw error;
    return `no Kafka or Postgres here: ${(error as Error).message}`;
  }
  return place;
}

describe('herald shadow', () => {
  for (const backend of ['sqlite', 'kafka'] as const) {
    it(`prints the diff of a new version against the running one and writes nothing (${backend})`, async (t) => {
      const found = await placeOn(backend);
      if (typeof found === 'string') return t.skip(found);
      await using place = found;
      await history(place);
      const before = await (async () => {
        await using log = await openEventLog(place.log);
        await using store = await openStore(storeUrl(place), { log, publish: false });
        return {
          ends: await ends(log),
          shipments: await store.list('shipments'),
          orders: (await log.describeTopic('orders')).partitionInfo,
        };
      })();

      const env = { log: place.log, ...(place.store === undefined ? {} : { store: place.store }) };
      const text = await runHerald(['shadow', MODULE, '--group', 'shipping.fees'], env);
      assert.equal(text.status, 0, text.stderr);
      const row = (name: string) =>
        text.stdout
          .split('\n')
          .find((line) => line.startsWith(name))
          ?.split(/\s+/);
      // o-2 (60) and o-3 (80) ship free under the new rule; o-1 and o-4 keep their fee.
      assert.deepEqual(
        row('dev.herald.test.shipped.v1'),
        ['dev.herald.test.shipped.v1', '2', '2', '0', '0'],
        text.stdout,
      );
      assert.deepEqual(row('shipments'), ['shipments', '2', '2', '0', '0'], text.stdout);
      assert.match(text.stdout, /running \{"order":"o-2","fee":5\}\n {4}shadow {2}\{"order":"o-2","fee":0\}/);

      const json = await runHerald(
        ['shadow', MODULE, '--group', 'shipping.fees', '--json', '--from', '1'],
        env,
      );
      assert.equal(json.status, 0, json.stderr);
      const report = JSON.parse(json.stdout) as {
        window: { partition: number; from: number; events: number }[];
        events: { type: string; same: number; different: number }[];
      };
      // From offset 1 in every partition: each partition's first order is left out.
      assert.deepEqual(
        report.window.map((w) => [w.partition, w.events]),
        before.orders.map((p) => [p.partition, Math.max(0, p.latest - 1)]),
      );
      const handled = report.window.reduce((sum, w) => sum + w.events, 0);
      assert.equal(
        (report.events[0]?.same ?? 0) + (report.events[0]?.different ?? 0),
        handled,
        'every handled order compared',
      );

      await using log = await openEventLog(place.log);
      await using store = await openStore(storeUrl(place), { log, publish: false });
      assert.equal(await ends(log), before.ends, 'no event appended, no group moved');
      assert.deepEqual(await store.list('shipments'), before.shipments, 'no document changed');
    });
  }

  it('asks for a group when the module exports several, and names what it cannot load', async () => {
    using db = tempDatabase();
    await history({ log: db.url, store: undefined });
    const several = await runHerald(['shadow', MODULE], { log: db.url });
    assert.equal(several.status, 1);
    assert.match(
      several.stderr,
      /exports several groups \(shipping\.fees, shipping\.audit\): choose one with --group/,
    );
    const missing = await runHerald(['shadow', './no-such-module.ts'], { log: db.url });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot load the shadow module \.\/no-such-module\.ts/);
    const usage = await runHerald(['shadow', MODULE, '--samples', 'many'], { log: db.url });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--samples must be a whole number/);
  });
});
