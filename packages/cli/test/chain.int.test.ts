import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { readAll, waitFor } from '@herald/testing';
import { createProducer, createRouter, deadLetter, defineEvent, openEventLog, retry } from '@herald/core';
import type { StoredEvent } from '@herald/core';
import { openSqliteLog } from '@herald/sqlite';
import { z } from 'zod';
import { runHerald } from './run-herald.ts';
import { tempDatabase } from './spawn-herald.ts';
import { deleteNamespace as deleteKafkaNamespace } from '../../kafka/test/kafka-test-broker.ts';

// `herald chain` and `herald replay` on a real SQLite file, a real Kafka broker and a real NATS
// server (HERALD_TEST_KAFKA, HERALD_TEST_NATS; the tests fail when one is missing), over chains
// real routers built: orders → (payments.svc) → payments → (emails.svc) → emails, and a dead
// letter. Exports are replayed into a fresh embedded log, as a developer does on a laptop.

const OrderPlaced = defineEvent({
  type: 'dev.herald.test.order-placed.v1',
  schema: z.object({ order: z.string(), note: z.string() }),
});
const Paid = defineEvent({ type: 'dev.herald.test.paid.v1', schema: z.object({ order: z.string() }) });
const Emailed = defineEvent({ type: 'dev.herald.test.emailed.v1', schema: z.object({ order: z.string() }) });

const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0];
const NATS = (process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222').split(',')[0];

/** Builds two chains on the log at `url`: order-1 paid and e-mailed, order-2 dead-lettered. */
async function buildChains(url: string): Promise<void> {
  await using log = await openEventLog(url);
  await log.createTopic('orders', { partitions: 2 });
  await log.createTopic('payments', { partitions: 1 });
  await log.createTopic('emails', { partitions: 1 });
  const checkout = createProducer({ log, source: '/checkout' });
  await checkout.publish(
    'orders',
    OrderPlaced,
    { order: 'o-1', note: 'café' },
    { id: 'order-1', key: 'c-1' },
  );
  await checkout.publish(
    'orders',
    OrderPlaced,
    { order: 'o-2', note: 'poison' },
    { id: 'order-2', key: 'c-2' },
  );
  const middleware = [deadLetter(), retry({ maxAttempts: 2, initialDelayMs: 5 })];
  const payments = createRouter({ log, group: 'payments.svc', topics: ['orders'], middleware });
  const payer = createProducer({ log, source: '/payments' });
  payments.on(OrderPlaced, async (data) => {
    if (data.note === 'poison') throw new Error(`the card of ${data.order} was refused`);
    await payer.publish('payments', Paid, { order: data.order }, { id: `paid-${data.order}` });
  });
  const emails = createRouter({ log, group: 'emails.svc', topics: ['payments'], middleware });
  const mailer = createProducer({ log, source: '/emails' });
  emails.on(Paid, async (data) => {
    await mailer.publish('emails', Emailed, { order: data.order }, { id: `emailed-${data.order}` });
  });
  const running = [payments.run(), emails.run()];
  try {
    await waitFor(
      async () => {
        const groups = await Promise.all(['payments.svc', 'emails.svc'].map((g) => log.describeGroup(g)));
        return (
          (await readAll(log, 'emails')).length === 1 &&
          (await log.listTopics()).some((t) => t.name === 'orders.dead-letter') &&
          groups.every((g) => g.partitions.length > 0 && g.partitions.every((p) => p.lag === 0))
        );
      },
      60_000,
      'both chains to be handled',
    );
  } finally {
    await payments.stop();
    await emails.stop();
    await Promise.all(running);
  }
}

/**
 * The log each backend's tests build their chains on: a fresh file, or a fresh namespace (a
 * Kafka namespace's topics and groups are deleted afterwards: a broker that keeps every run's
 * partitions works harder at rest).
 */
function backendLog(backend: 'sqlite' | 'kafka' | 'nats'): { url: string } & (Disposable | AsyncDisposable) {
  const name = `chain${randomBytes(4).toString('hex')}`;
  if (backend === 'kafka')
    return {
      url: `kafka://${KAFKA}?namespace=${name}.`,
      [Symbol.asyncDispose]: () => deleteKafkaNamespace(`${name}.`),
    };
  if (backend === 'nats')
    return { url: `nats://${NATS}?namespace=${name}`, [Symbol.dispose]: () => undefined };
  return tempDatabase();
}

interface NodeJson {
  id: string;
  topic: string;
  handledBy: string[];
  deadLetters: { group: string; error: string; attempts: number; topic: string }[];
  caused: NodeJson[];
}

for (const backend of ['sqlite', 'kafka', 'nats'] as const) {
  void describe(`herald chain and herald replay on ${backend}`, { timeout: 180_000 }, () => {
    void it('prints the chain an event id names as a tree under each cause, with the groups that handled each event', async () => {
      await using db = backendLog(backend);
      await buildChains(db.url);
      const result = await runHerald(['chain', 'order-1'], { log: db.url });
      assert.equal(result.status, 0, result.stderr);
      const lines = result.stdout.trim().split('\n');
      assert.match(lines[0]!, /^chain order-1: 3 event\(s\)$/);
      assert.match(
        lines[1]!,
        /^dev\.herald\.test\.order-placed\.v1 orders\/\d@0 \S+Z id=order-1 key=c-1 · handled by payments\.svc$/,
      );
      assert.match(
        lines[2]!,
        /^└─ dev\.herald\.test\.paid\.v1 payments\/0@0 \+\d+ ms id=paid-o-1 · handled by emails\.svc$/,
      );
      assert.match(
        lines[3]!,
        /^ {3}└─ dev\.herald\.test\.emailed\.v1 emails\/0@0 \+\d+ ms id=emailed-o-1 · handled by no group yet$/,
      );
      assert.equal(lines.length, 4);
    });

    void it('finds a whole chain from an event deep in it, and a chain by key with its dead letter', async () => {
      await using db = backendLog(backend);
      await buildChains(db.url);
      const deep = await runHerald(['chain', 'emailed-o-1', '--json'], { log: db.url });
      assert.equal(deep.status, 0, deep.stderr);
      const [chain] = (
        JSON.parse(deep.stdout) as { chains: { correlationid: string; events: number; tree: NodeJson[] }[] }
      ).chains;
      assert.equal(chain?.correlationid, 'order-1');
      assert.equal(chain?.events, 3);
      assert.deepEqual(
        chain?.tree.map((n) => [n.id, n.caused.map((c) => [c.id, c.caused.map((d) => d.id)])]),
        [['order-1', [['paid-o-1', ['emailed-o-1']]]]],
      );

      const byKey = await runHerald(['chain', 'c-2', '--json'], { log: db.url });
      assert.equal(byKey.status, 0, byKey.stderr);
      const parsed = JSON.parse(byKey.stdout) as { chains: { tree: NodeJson[] }[] };
      assert.equal(parsed.chains.length, 1);
      const [root] = parsed.chains[0]!.tree;
      assert.equal(root?.id, 'order-2');
      assert.deepEqual(root?.caused, [], 'the poison order caused nothing');
      assert.equal(root?.deadLetters.length, 1);
      assert.equal(root?.deadLetters[0]?.group, 'payments.svc');
      assert.equal(root?.deadLetters[0]?.topic, 'orders.dead-letter');
      assert.equal(root?.deadLetters[0]?.attempts, 2);
      assert.match(root?.deadLetters[0]?.error ?? '', /the card of o-2 was refused/);

      const text = await runHerald(['chain', 'order-2'], { log: db.url });
      assert.match(
        text.stdout,
        /✗ dead-lettered by payments\.svc after 2 attempt\(s\): Error the card of o-2 was refused → orders\.dead-letter\/0@0/,
      );
    });

    void it('says so and exits 1 when nothing matches', async () => {
      await using db = backendLog(backend);
      await buildChains(db.url);
      const result = await runHerald(['chain', 'no-such-thing'], { log: db.url });
      assert.equal(result.status, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /no event with id, correlation id or key "no-such-thing" in 4 topic\(s\)/);
    });

    void it('exports a chain and loads it into a fresh log with every attribute, data byte and partition kept', async () => {
      await using db = backendLog(backend);
      using target = tempDatabase();
      await buildChains(db.url);
      const file = join(dirname(target.path), 'chain.jsonl');
      const exported = await runHerald(['chain', 'order-1', '--export', file], { log: db.url });
      assert.equal(exported.status, 0, exported.stderr);
      assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 3);

      const loaded = await runHerald(['replay', file, '--into', target.url], { log: db.url });
      assert.equal(loaded.status, 0, loaded.stderr);
      assert.match(loaded.stdout, /loaded 3 event\(s\) into 3 topic\(s\)/);

      await using source = await openEventLog(db.url);
      await using copy = await openSqliteLog({ path: target.path, retentionIntervalMs: 0 });
      const comparable = (e: StoredEvent) => {
        const { offset: _offset, timestamp: _timestamp, ...rest } = e;
        return { ...rest, data: Buffer.from(e.data ?? new Uint8Array()).toString('hex') };
      };
      assert.deepEqual((await copy.listTopics()).map((t) => [t.name, t.partitions]).sort(), [
        ['emails', 1],
        ['orders', 2],
        ['payments', 1],
      ]);
      const original = (await readAll(source, 'orders')).filter((e) => e.id === 'order-1');
      assert.deepEqual((await readAll(copy, 'orders')).map(comparable), original.map(comparable));
      for (const topic of ['payments', 'emails']) {
        assert.deepEqual(
          (await readAll(copy, topic)).map(comparable),
          (await readAll(source, topic)).map(comparable),
        );
      }
    });
  });
}

void describe('herald replay', () => {
  void it('refuses an export file with a bad line, naming it, and loads nothing', async () => {
    using db = tempDatabase();
    using target = tempDatabase();
    await buildChains(db.url);
    const file = join(dirname(target.path), 'chain.jsonl');
    assert.equal((await runHerald(['chain', 'order-1', '--export', file], { log: db.url })).status, 0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    writeFileSync(
      file,
      `${lines[0]}\n${lines[1]!.replace('"partitions":1', '"partitions":0')}\n${lines[2]}\n`,
    );

    const result = await runHerald(['replay', file, '--into', target.url], { log: db.url });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /line 2 has no "partitions" count/);
    await using copy = await openSqliteLog({ path: target.path, retentionIntervalMs: 0 });
    assert.deepEqual(await copy.listTopics(), []);
  });
});
