import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { attributesOf, faultInjection, isHeraldError, partitionFor } from '@herald/core';
import type {
  AppendResult,
  CloudEvent,
  EventLog,
  FaultInjectable,
  HeraldErrorCode,
  StoredEvent,
  Subscription,
  TopicPartition,
} from '@herald/core';
import {
  collect,
  collectFor,
  makeEvent,
  readAll,
  readPartition,
  sleep,
  TEST_SOURCE,
  TEST_TYPE,
  waitFor,
  within,
} from './fixtures.ts';

/** One log shared by the clients a test opens. */
export interface ConformanceEnvironment extends AsyncDisposable {
  /** Opens a client on this environment's log; several calls give clients sharing one log, as separate processes would. */
  open(): Promise<EventLog>;
}

/** A backend under test. */
export interface ConformanceTarget {
  readonly name: string;
  /** A fresh, empty log for one test; disposing it closes clients still open and removes what it made. */
  setup(): Promise<ConformanceEnvironment>;
  /**
   * Longest topic name the target's logs accept. Default 249 (Kafka's limit); a target whose
   * logs add a namespace prefix to every name on the cluster accepts that many fewer.
   */
  readonly maxTopicNameLength?: number;
  /**
   * Deadline for anything involving a rebalance or a delivery, default 10 000 ms; and the
   * timeout of each test, default 30 000 ms. A broker whose group coordinator enforces a
   * minimum session timeout (Kafka: 6 s) needs longer ones; tests poll, so a fast backend
   * never waits for them.
   */
  readonly deadlineMs?: number;
  readonly testTimeoutMs?: number;
}

/**
 * Deadline for anything that involves a rebalance or a delivery. Generous because a durable
 * backend's rebalance goes through its storage and the machine may be loaded; tests poll, so a
 * fast backend finishes long before it.
 */
const DEFAULT_DEADLINE_MS = 10_000;
/** Session timeout for members a test lets die; deaths are noticed within a few of these. */
const SHORT_SESSION_MS = 1_000;
/** Long enough that a takeover seen before it cannot be a session expiry. */
const LONG_SESSION_MS = 30_000;
/** How long a test watches to be sure that nothing more arrives. */
const QUIET_MS = 250;
const DEFAULT_TEST_TIMEOUT_MS = 30_000;
const KAFKA_MAX_TOPIC_NAME = 249;

const encoder = new TextEncoder();

/** An assert.rejects validator: a HeraldError with this code. */
function heraldError(code: HeraldErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      isHeraldError(error, code),
      `expected HeraldError ${code}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
    return true;
  };
}

function faultsOf(log: EventLog): FaultInjectable[typeof faultInjection] | undefined {
  return faultInjection in log ? (log as EventLog & FaultInjectable)[faultInjection] : undefined;
}

const tpKey = (tp: TopicPartition): string => `${tp.topic}/${tp.partition}`;

function keysOf(partitions: readonly TopicPartition[]): string[] {
  return partitions.map(tpKey).sort();
}

/** True when no partition appears in two of the given assignments. */
function disjoint(assignments: readonly (readonly TopicPartition[])[]): boolean {
  const seen = new Set<string>();
  for (const assignment of assignments) {
    for (const tp of assignment) {
      if (seen.has(tpKey(tp))) return false;
      seen.add(tpKey(tp));
    }
  }
  return true;
}

/** True once every member owns at least one partition and together they own exactly `total`. */
function split(members: readonly Subscription[], total: number): boolean {
  return (
    members.every((m) => m.assignment().length > 0) &&
    members.reduce((n, m) => n + m.assignment().length, 0) === total
  );
}

function ownedBy(subscription: Subscription, event: StoredEvent): boolean {
  return subscription.assignment().some((tp) => tp.topic === event.topic && tp.partition === event.partition);
}

function idsOf(events: readonly CloudEvent[]): string[] {
  return events.map((event) => event.id).sort();
}

/** Appends `count` keyed events (keys `key-0`…`key-<keys-1>` in turn) and returns what was stored. */
async function appendKeyed(log: EventLog, topic: string, count: number, keys = 8, first = 0) {
  const results: { event: CloudEvent; result: AppendResult }[] = [];
  for (let i = first; i < first + count; i++) {
    const event = makeEvent(i, `key-${i % keys}`);
    results.push({ event, result: await log.append(topic, event) });
  }
  return results;
}

async function committedOf(
  log: EventLog,
  group: string,
  topic: string,
  partition: number,
): Promise<number | null> {
  const description = await log.describeGroup(group);
  return (
    description.partitions.find((p) => p.topic === topic && p.partition === partition)?.committed ?? null
  );
}

function skipUnless(t: TestContext, condition: boolean, reason: string): boolean {
  if (!condition) t.skip(reason);
  return !condition;
}

/**
 * Registers the EventLog conformance suite for one backend, with node:test. Every backend
 * (memory, SQLite, Kafka, NATS) runs the same tests; a behaviour the backend declares it
 * lacks in `capabilities` is skipped with the reason.
 *
 * @example
 * describeEventLogConformance({
 *   name: 'memory',
 *   async setup() {
 *     const broker = createMemoryBroker();
 *     const clients: EventLog[] = [];
 *     return {
 *       open: async () => { const log = await openMemoryLog({ broker }); clients.push(log); return log; },
 *       [Symbol.asyncDispose]: async () => { await Promise.all(clients.map((c) => c.close())); },
 *     };
 *   },
 * });
 */
export function describeEventLogConformance(target: ConformanceTarget): void {
  const options = { timeout: target.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS };
  const DEADLINE_MS = target.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const maxName = target.maxTopicNameLength ?? KAFKA_MAX_TOPIC_NAME;

  void describe(`EventLog conformance: ${target.name}`, () => {
    void describe('topics', () => {
      void it(
        'creates topics, lists them and describes every partition to every client',
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          const info = await log.createTopic('orders', { partitions: 3, retention: { ms: 86_400_000 } });
          assert.equal(info.name, 'orders');
          assert.equal(info.partitions, 3);
          await log.createTopic('payments', { partitions: 1 });

          const other = await env.open();
          const listed = await other.listTopics();
          assert.deepEqual(listed.map((t) => [t.name, t.partitions]).sort(), [
            ['orders', 3],
            ['payments', 1],
          ]);
          const description = await other.describeTopic('orders');
          assert.equal(description.retention.ms, 86_400_000);
          assert.deepEqual(
            description.partitionInfo.map((p) => [p.partition, p.earliest, p.latest]),
            [
              [0, 0, 0],
              [1, 0, 0],
              [2, 0, 0],
            ],
          );

          await log.append('orders', makeEvent(1), { partition: 1 });
          await log.append('orders', makeEvent(2), { partition: 1 });
          const after = await other.describeTopic('orders');
          assert.deepEqual(
            after.partitionInfo.map((p) => [p.partition, p.earliest, p.latest]),
            [
              [0, 0, 0],
              [1, 0, 2],
              [2, 0, 0],
            ],
          );
        },
      );

      void it('refuses to create a topic that exists with TOPIC_EXISTS', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('orders', { partitions: 2 });
        await assert.rejects(log.createTopic('orders', { partitions: 2 }), heraldError('TOPIC_EXISTS'));
        const other = await env.open();
        await assert.rejects(other.createTopic('orders', { partitions: 4 }), heraldError('TOPIC_EXISTS'));
        assert.equal((await log.describeTopic('orders')).partitions, 2);
      });

      void it('refuses invalid topic names and partition counts with INVALID_ARGUMENT', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        for (const name of ['', 'has space', 'slash/name', 'x'.repeat(maxName + 1), 'ümlaut']) {
          await assert.rejects(
            log.createTopic(name, { partitions: 1 }),
            heraldError('INVALID_ARGUMENT'),
            name,
          );
        }
        for (const partitions of [0, -1, 1.5, 10_001, Number.NaN]) {
          await assert.rejects(
            log.createTopic('orders', { partitions }),
            heraldError('INVALID_ARGUMENT'),
            String(partitions),
          );
        }
        assert.deepEqual(await log.listTopics(), []);
        await log.createTopic('Orders.v1_dead-letter', { partitions: 1 });
        await log.createTopic('y'.repeat(maxName), { partitions: 1 });
      });

      void it('reports UNKNOWN_TOPIC for a topic that does not exist', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        const unknown = heraldError('UNKNOWN_TOPIC');
        await assert.rejects(log.describeTopic('nowhere'), unknown);
        await assert.rejects(log.append('nowhere', makeEvent(1)), unknown);
        await assert.rejects(log.appendBatch('nowhere', [makeEvent(1)]), unknown);
        await assert.rejects(log.read('nowhere', { partition: 0, from: 'earliest' }), unknown);
        await assert.rejects(log.subscribe({ group: 'g', topics: ['nowhere'] }), unknown);
      });
    });

    void describe('append', () => {
      void it(
        'keeps events in append order within a partition, with dense offsets from 0',
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('orders', { partitions: 3 });
          const appended = await appendKeyed(log, 'orders', 60, 6);

          const all: StoredEvent[] = [];
          for (let partition = 0; partition < 3; partition++) {
            const events = await readPartition(log, 'orders', partition);
            assert.deepEqual(
              events.map((e) => e.offset),
              events.map((_, i) => i),
              `offsets of partition ${partition}`,
            );
            const expected = appended.filter((a) => a.result.partition === partition).map((a) => a.event.id);
            assert.deepEqual(
              events.map((e) => e.id),
              expected,
              `order of partition ${partition}`,
            );
            all.push(...events);
          }
          assert.equal(all.length, 60);
          for (const { event, result } of appended) {
            const stored = all.find((e) => e.id === event.id);
            assert.ok(stored, `${event.id} stored`);
            assert.equal(stored.partition, result.partition);
            assert.equal(stored.offset, result.offset);
            assert.equal(stored.topic, 'orders');
          }
        },
      );

      void it(
        'places the same key in the same partition, the one partitionFor(key, n) picks',
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('orders', { partitions: 8 });
          const keys = Array.from({ length: 40 }, (_, i) => `order-${i * 7919}`).concat([
            '',
            'ключ',
            '🔑',
            'a'.repeat(300),
          ]);
          for (const [i, key] of keys.entries()) {
            const first = await log.append('orders', makeEvent(i, key));
            const second = await log.append('orders', makeEvent(i + 1000, key));
            assert.equal(first.partition, partitionFor(key, 8), `partition of key ${JSON.stringify(key)}`);
            assert.equal(second.partition, first.partition);
            const [stored] = await log.read('orders', {
              partition: first.partition,
              from: { offset: first.offset },
              limit: 1,
            });
            assert.equal(stored?.partitionkey, key);
          }
        },
      );

      void it('spreads events without a key over all partitions', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('audit', { partitions: 4 });
        const results: AppendResult[] = [];
        for (let i = 0; i < 40; i++) results.push(await log.append('audit', makeEvent(i)));
        assert.deepEqual([...new Set(results.map((r) => r.partition))].sort(), [0, 1, 2, 3]);
      });

      void it(
        'appends to the partition named in the options, and refuses one that does not exist',
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('orders', { partitions: 3 });
          const key = 'order-1';
          const chosen = (partitionFor(key, 3) + 1) % 3;
          const result = await log.append('orders', makeEvent(1, key), { partition: chosen });
          assert.equal(result.partition, chosen);
          assert.equal((await log.read('orders', { partition: chosen, from: 'earliest' }))[0]?.id, 'event-1');
          for (const partition of [3, -1, 0.5]) {
            await assert.rejects(
              log.append('orders', makeEvent(2), { partition }),
              heraldError('INVALID_ARGUMENT'),
              String(partition),
            );
          }
          assert.equal((await readAll(log, 'orders')).length, 1);
        },
      );

      void it('round-trips every CloudEvents attribute and every data byte', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('things', { partitions: 2 });
        const binary = new Uint8Array([
          ...Array.from({ length: 256 }, (_, i) => i),
          // Not UTF-8: lone continuation bytes, an encoded surrogate, an overlong form, a truncated sequence.
          0x80,
          0xbf,
          0xed,
          0xa0,
          0x80,
          0xc0,
          0xaf,
          0xff,
          0xfe,
          0xe2,
          0x82,
        ]);
        const full: CloudEvent = {
          specversion: '1.0',
          id: 'full-ü-1',
          source: 'urn:herald:conformance/ünïcødé',
          type: 'dev.herald.conformance.everything-set.v1',
          time: '2024-02-29T23:59:59.123456+01:00',
          subject: 'orders/42 ✓ "quoted" \\ back',
          datacontenttype: 'application/octet-stream',
          dataschema: 'https://schemas.example.com/thing/v1.json',
          partitionkey: 'key-∑',
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
          tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
          extensions: { tenant: 'acme', priority: '7', comment: 'line1\nline2 — ✓', sequence: '00042' },
          data: binary,
        };
        const emptyData: CloudEvent = {
          specversion: '1.0',
          id: 'empty',
          source: TEST_SOURCE,
          type: TEST_TYPE,
          data: new Uint8Array(0),
        };
        const noData: CloudEvent = { specversion: '1.0', id: 'none', source: TEST_SOURCE, type: TEST_TYPE };
        const json = makeEvent(7, 'key-7');
        const originals = [full, emptyData, noData, json];
        const results: AppendResult[] = [];
        for (const event of originals) results.push(await log.append('things', event, { partition: 1 }));

        const check = (stored: StoredEvent, original: CloudEvent, via: string): void => {
          assert.deepEqual(
            attributesOf(stored),
            attributesOf(original),
            `${via}: attributes of ${original.id}`,
          );
          assert.deepEqual(
            stored.extensions ?? {},
            original.extensions ?? {},
            `${via}: extensions of ${original.id}`,
          );
          if (original.data === undefined) {
            assert.equal(stored.data, undefined, `${via}: ${original.id} has no data`);
          } else {
            assert.ok(stored.data instanceof Uint8Array, `${via}: data of ${original.id} is a Uint8Array`);
            assert.deepEqual([...stored.data], [...original.data], `${via}: data bytes of ${original.id}`);
          }
        };
        const read = await log.read('things', { partition: 1, from: 'earliest' });
        assert.equal(read.length, originals.length);
        read.forEach((stored, i) => {
          check(stored, originals[i]!, 'read');
          assert.equal(stored.offset, results[i]!.offset);
          assert.equal(stored.timestamp, results[i]!.timestamp);
        });

        const consumer = await env.open();
        await using subscription = await consumer.subscribe({ group: 'round-trip', topics: ['things'] });
        const delivered = await collect(subscription, originals.length, DEADLINE_MS);
        delivered.forEach((stored, i) => check(stored, originals[i]!, 'subscribe'));
      });

      void it(
        "keeps its own copy of the data: later changes to the caller's or a reader's bytes change nothing",
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('things', { partitions: 1 });
          const data = encoder.encode('original');
          await log.append('things', makeEvent(1, undefined, { data }));
          data.fill(0x21);
          const [first] = await log.read('things', { partition: 0, from: 'earliest' });
          assert.equal(new TextDecoder().decode(first?.data), 'original');
          first?.data?.fill(0x3f);
          const [again] = await log.read('things', { partition: 0, from: 'earliest' });
          assert.equal(new TextDecoder().decode(again?.data), 'original');
        },
      );

      void it(
        're-appends a stored event, as a dead-letter move does, under a new position',
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('orders', { partitions: 2 });
          await log.createTopic('orders.dead-letter', { partitions: 1 });
          const original = makeEvent(1, 'order-1', { subject: 'orders/1', extensions: { tenant: 'acme' } });
          const first = await log.append('orders', original);
          await log.append('orders', makeEvent(2, 'order-1'));
          const [stored] = await log.read('orders', {
            partition: first.partition,
            from: { offset: first.offset },
          });

          const moved = await log.append('orders.dead-letter', stored!);
          assert.deepEqual([moved.topic, moved.partition, moved.offset], ['orders.dead-letter', 0, 0]);
          const [again] = await log.read('orders.dead-letter', { partition: 0, from: 'earliest' });
          assert.deepEqual([again?.topic, again?.partition, again?.offset], ['orders.dead-letter', 0, 0]);
          assert.deepEqual(attributesOf(again!), attributesOf(original));
          assert.deepEqual([...again!.data!], [...original.data!]);
        },
      );

      void it('refuses an invalid envelope with INVALID_ENVELOPE and stores nothing', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('orders', { partitions: 2 });
        const invalid = [
          { ...makeEvent(1), id: '' },
          { ...makeEvent(2), specversion: '0.3' },
          { ...makeEvent(3), time: 'yesterday' },
          { ...makeEvent(4), traceparent: 'not-a-traceparent' },
          { ...makeEvent(5), extensions: { 'Bad-Name': 'x' } },
          { ...makeEvent(6), data: 'not bytes' },
        ] as unknown as CloudEvent[];
        for (const event of invalid) {
          await assert.rejects(
            log.append('orders', event),
            heraldError('INVALID_ENVELOPE'),
            JSON.stringify(event),
          );
        }
        const description = await log.describeTopic('orders');
        assert.deepEqual(
          description.partitionInfo.map((p) => p.latest),
          [0, 0],
        );
      });

      void it('appends a batch atomically: one invalid event stores none of the batch', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('orders', { partitions: 3 });
        const bad = [makeEvent(1, 'a'), makeEvent(2, 'b'), { ...makeEvent(3, 'c'), source: '' }];
        await assert.rejects(log.appendBatch('orders', bad), heraldError('INVALID_ENVELOPE'));
        assert.equal((await readAll(log, 'orders')).length, 0);

        const good = Array.from({ length: 12 }, (_, i) => makeEvent(i, `key-${i % 4}`));
        const results = await log.appendBatch('orders', good);
        assert.equal(results.length, good.length);
        for (const [i, result] of results.entries()) {
          assert.equal(result.partition, partitionFor(`key-${i % 4}`, 3));
          const [stored] = await log.read('orders', {
            partition: result.partition,
            from: { offset: result.offset },
            limit: 1,
          });
          assert.equal(stored?.id, good[i]!.id, `result ${i} names where event ${i} is`);
        }
        for (let partition = 0; partition < 3; partition++) {
          const inPartition = results.filter((r) => r.partition === partition).map((r) => r.offset);
          assert.deepEqual(
            inPartition,
            [...inPartition].sort((a, b) => a - b),
            `input order kept in partition ${partition}`,
          );
        }
        assert.deepEqual(await log.appendBatch('orders', []), []);
      });

      void it('loses nothing under concurrent appends from several clients', options, async () => {
        await using env = await target.setup();
        const clients = [await env.open(), await env.open(), await env.open(), await env.open()];
        await clients[0]!.createTopic('orders', { partitions: 4 });
        const producers = 20;
        const perProducer = 50;
        await Promise.all(
          Array.from({ length: producers }, async (_, p) => {
            const log = clients[p % clients.length]!;
            for (let j = 0; j < perProducer; j++) {
              await log.append('orders', makeEvent(p * 1000 + j, `producer-${p}`, { id: `p${p}-${j}` }));
            }
          }),
        );
        const all = await readAll(clients[1]!, 'orders');
        assert.equal(all.length, producers * perProducer);
        assert.equal(new Set(all.map((e) => e.id)).size, producers * perProducer);
        for (let partition = 0; partition < 4; partition++) {
          const offsets = all.filter((e) => e.partition === partition).map((e) => e.offset);
          assert.deepEqual(
            offsets,
            offsets.map((_, i) => i),
            `dense offsets in partition ${partition}`,
          );
        }
        for (let p = 0; p < producers; p++) {
          const sequence = all
            .filter((e) => e.partitionkey === `producer-${p}`)
            .map((e) => Number(e.id.split('-')[1]));
          assert.deepEqual(
            sequence,
            Array.from({ length: perProducer }, (_, j) => j),
            `order of producer ${p}`,
          );
        }
      });

      void it(
        'refuses a record larger than maxRecordBytes with TOO_LARGE and stores nothing',
        options,
        async (t) => {
          await using env = await target.setup();
          const log = await env.open();
          const max = log.capabilities.maxRecordBytes;
          if (
            skipUnless(
              t,
              max <= 16 * 1024 * 1024,
              `backend accepts records up to ${max} bytes; too large to test here`,
            )
          )
            return;
          await log.createTopic('blobs', { partitions: 1 });
          await assert.rejects(
            log.append('blobs', makeEvent(1, undefined, { data: new Uint8Array(max + 1) })),
            heraldError('TOO_LARGE'),
          );
          await assert.rejects(
            log.appendBatch('blobs', [
              makeEvent(2),
              makeEvent(3, undefined, { data: new Uint8Array(max + 1) }),
            ]),
            heraldError('TOO_LARGE'),
          );
          assert.equal((await readAll(log, 'blobs')).length, 0);
          const fits = new Uint8Array(Math.min(Math.floor(max / 2), 256 * 1024)).fill(7);
          await log.append('blobs', makeEvent(4, undefined, { data: fits }));
          const [stored] = await log.read('blobs', { partition: 0, from: 'earliest' });
          assert.equal(stored?.data?.byteLength, fits.byteLength);
        },
      );
    });

    void describe('read', () => {
      void it('reads from earliest, latest and an exact offset, at most limit events', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('orders', { partitions: 2 });
        for (let i = 0; i < 10; i++) await log.append('orders', makeEvent(i), { partition: 1 });
        const offsets = (events: readonly StoredEvent[]) => events.map((e) => e.offset);

        assert.deepEqual(
          offsets(await log.read('orders', { partition: 1, from: 'earliest', limit: 3 })),
          [0, 1, 2],
        );
        assert.deepEqual(offsets(await log.read('orders', { partition: 1, from: { offset: 7 } })), [7, 8, 9]);
        assert.deepEqual(
          offsets(await log.read('orders', { partition: 1, from: { offset: 4 }, limit: 2 })),
          [4, 5],
        );
        assert.deepEqual(await log.read('orders', { partition: 1, from: 'latest' }), []);
        assert.deepEqual(await log.read('orders', { partition: 1, from: { offset: 10 } }), []);
        assert.deepEqual(await log.read('orders', { partition: 0, from: 'earliest' }), []);
        const all = await log.read('orders', { partition: 1, from: 'earliest' });
        assert.deepEqual(offsets(all), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert.deepEqual(
          all.map((e) => e.id),
          Array.from({ length: 10 }, (_, i) => `event-${i}`),
        );

        await assert.rejects(
          log.read('orders', { partition: 2, from: 'earliest' }),
          heraldError('INVALID_ARGUMENT'),
        );
        await assert.rejects(
          log.read('orders', { partition: 1, from: { offset: -1 } }),
          heraldError('INVALID_ARGUMENT'),
        );
      });

      void it('reads from a timestamp: the first event appended at or after it', options, async (t) => {
        await using env = await target.setup();
        const log = await env.open();
        if (skipUnless(t, log.capabilities.timestampSeek, 'backend declares timestampSeek: false')) return;
        await log.createTopic('orders', { partitions: 1 });
        const before = await log.appendBatch('orders', [makeEvent(1), makeEvent(2), makeEvent(3)]);
        await sleep(100);
        const after = await log.appendBatch('orders', [makeEvent(4), makeEvent(5)]);
        const from = after[0]!.timestamp;
        assert.ok(from > before.at(-1)!.timestamp, 'the later batch got a later timestamp');

        const read = await log.read('orders', { partition: 0, from: { timestamp: from } });
        assert.deepEqual(
          read.map((e) => e.id),
          ['event-4', 'event-5'],
        );
        assert.equal((await log.read('orders', { partition: 0, from: { timestamp: 0 } })).length, 5);
        assert.deepEqual(
          await log.read('orders', { partition: 0, from: { timestamp: from + 3_600_000 } }),
          [],
        );

        await using subscription = await log.subscribe({
          group: 'since',
          topics: ['orders'],
          startAt: { timestamp: from },
        });
        assert.deepEqual(
          (await collect(subscription, 2, DEADLINE_MS)).map((e) => e.id),
          ['event-4', 'event-5'],
        );
      });
    });

    void describe('consumer groups', () => {
      void it(
        'delivers events in offset order per partition, and new events reach a waiting subscriber',
        options,
        async () => {
          await using env = await target.setup();
          const producer = await env.open();
          await producer.createTopic('orders', { partitions: 3 });
          await appendKeyed(producer, 'orders', 30);
          const consumer = await env.open();
          await using subscription = await consumer.subscribe({ group: 'billing', topics: ['orders'] });
          const first = await collect(subscription, 30, DEADLINE_MS);

          const waiting = collect(subscription, 30, DEADLINE_MS);
          await sleep(20);
          await appendKeyed(producer, 'orders', 30, 8, 30);
          const second = await waiting;

          const delivered = [...first, ...second];
          assert.equal(new Set(delivered.map((e) => e.id)).size, 60);
          for (let partition = 0; partition < 3; partition++) {
            const offsets = delivered.filter((e) => e.partition === partition).map((e) => e.offset);
            assert.deepEqual(
              offsets,
              offsets.map((_, i) => i),
              `partition ${partition} in offset order`,
            );
          }
          assert.deepEqual(await collectFor(subscription, QUIET_MS), []);
        },
      );

      void it(
        'delivers in batches via batches(), never more than maxBufferedEvents at once',
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('orders', { partitions: 1 });
          await log.appendBatch(
            'orders',
            Array.from({ length: 30 }, (_, i) => makeEvent(i)),
          );
          await using subscription = await log.subscribe({
            group: 'batch',
            topics: ['orders'],
            maxBufferedEvents: 7,
          });
          const offsets: number[] = [];
          for await (const batch of subscription.batches()) {
            assert.ok(batch.length >= 1 && batch.length <= 7, `batch of ${batch.length}`);
            offsets.push(...batch.map((e) => e.offset));
            if (offsets.length >= 30) break;
          }
          assert.deepEqual(
            offsets,
            Array.from({ length: 30 }, (_, i) => i),
          );
        },
      );

      void it('redelivers uncommitted events after a restart', options, async () => {
        await using env = await target.setup();
        const first = await env.open();
        await first.createTopic('orders', { partitions: 1 });
        await first.appendBatch(
          'orders',
          Array.from({ length: 10 }, (_, i) => makeEvent(i)),
        );
        const subscription = await first.subscribe({ group: 'billing', topics: ['orders'] });
        const events = await collect(subscription, 10, DEADLINE_MS);
        await subscription.commit(events[3]!);
        await first.close();

        const second = await env.open();
        assert.equal(await committedOf(second, 'billing', 'orders', 0), 4);
        await using again = await second.subscribe({ group: 'billing', topics: ['orders'] });
        const redelivered = await collect(again, 6, DEADLINE_MS);
        assert.deepEqual(
          redelivered.map((e) => e.offset),
          [4, 5, 6, 7, 8, 9],
        );
        assert.deepEqual(await collectFor(again, QUIET_MS), []);
      });

      void it('keeps independent positions for different groups', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('orders', { partitions: 1 });
        await log.appendBatch(
          'orders',
          Array.from({ length: 10 }, (_, i) => makeEvent(i)),
        );
        await using billing = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const billed = await collect(billing, 10, DEADLINE_MS);
        await billing.commit(billed.at(-1)!);

        await using shipping = await log.subscribe({ group: 'shipping', topics: ['orders'] });
        assert.deepEqual(
          (await collect(shipping, 10, DEADLINE_MS)).map((e) => e.offset),
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        );
        assert.equal(await committedOf(log, 'billing', 'orders', 0), 10);
        assert.equal(await committedOf(log, 'shipping', 'orders', 0), null);
        assert.deepEqual((await log.listGroups()).filter((g) => g === 'billing' || g === 'shipping').sort(), [
          'billing',
          'shipping',
        ]);
      });

      void it(
        "starts a new group with startAt 'latest' at the end: it sees only events appended after it joined",
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('orders', { partitions: 2 });
          await appendKeyed(log, 'orders', 10);
          await using subscription = await log.subscribe({
            group: 'late',
            topics: ['orders'],
            startAt: 'latest',
          });
          await waitFor(
            () => subscription.assignment().length === 2,
            DEADLINE_MS,
            'the member to own both partitions',
          );
          await sleep(50);
          const fresh = await appendKeyed(log, 'orders', 5, 8, 100);
          const delivered = await collect(subscription, 5, DEADLINE_MS);
          assert.deepEqual(idsOf(delivered), idsOf(fresh.map((f) => f.event)));
          assert.deepEqual(await collectFor(subscription, QUIET_MS), []);
        },
      );

      void it('splits partitions among members with no overlap, together covering all', options, async () => {
        await using env = await target.setup();
        const producer = await env.open();
        await producer.createTopic('orders', { partitions: 6 });
        const members: Subscription[] = [];
        let overlapSeen = false;
        const sampler = setInterval(() => {
          if (!disjoint(members.map((m) => m.assignment()))) overlapSeen = true;
        }, 2);
        try {
          for (let i = 0; i < 3; i++) {
            const client = await env.open();
            members.push(await client.subscribe({ group: 'billing', topics: ['orders'] }));
          }
          await waitFor(() => split(members, 6), DEADLINE_MS, 'three members to split six partitions');
        } finally {
          clearInterval(sampler);
        }
        assert.equal(overlapSeen, false, 'no partition was ever assigned to two members at once');
        const assignments = members.map((m) => m.assignment());
        assert.ok(disjoint(assignments));
        assert.deepEqual(
          keysOf(assignments.flat()),
          keysOf(Array.from({ length: 6 }, (_, partition) => ({ topic: 'orders', partition }))),
        );

        const description = await producer.describeGroup('billing');
        assert.deepEqual(
          description.members.map((m) => m.memberId).sort(),
          members.map((m) => m.memberId).sort(),
        );
        for (const member of members) {
          const described = description.members.find((m) => m.memberId === member.memberId);
          assert.deepEqual(keysOf(described?.partitions ?? []), keysOf(member.assignment()));
        }

        const appended = await appendKeyed(producer, 'orders', 60, 12);
        const received = await Promise.all(
          members.map((member) => {
            const expected = appended.filter((a) =>
              member.assignment().some((tp) => tp.partition === a.result.partition),
            );
            return collect(member, expected.length, DEADLINE_MS);
          }),
        );
        for (const [i, events] of received.entries()) {
          assert.ok(
            events.every((e) => ownedBy(members[i]!, e)),
            `member ${i} got only its own partitions`,
          );
        }
        assert.deepEqual(idsOf(received.flat()), idsOf(appended.map((a) => a.event)));
        for (const member of members) assert.deepEqual(await collectFor(member, QUIET_MS / 2), []);
        await Promise.all(members.map((m) => m.close()));
      });

      void it('hands the partitions of a closed member to the others at once', options, async () => {
        await using env = await target.setup();
        const a = await env.open();
        const b = await env.open();
        await a.createTopic('orders', { partitions: 4 });
        const settings = { group: 'billing', topics: ['orders'], sessionTimeoutMs: LONG_SESSION_MS };
        const first = await a.subscribe(settings);
        await using second = await b.subscribe(settings);
        await waitFor(() => split([first, second], 4), DEADLINE_MS, 'two members to split the partitions');
        await first.close();
        // Well before the session timeout: closing must not wait for an expiry.
        await waitFor(
          () => second.assignment().length === 4,
          DEADLINE_MS,
          'the remaining member to own every partition',
        );
        assert.deepEqual(
          (await b.describeGroup('billing')).members.map((m) => m.memberId),
          [second.memberId],
        );
      });

      void it(
        'calls onRevoked before partitions move, and lets it commit the work in flight',
        options,
        async () => {
          await using env = await target.setup();
          const a = await env.open();
          const b = await env.open();
          await a.createTopic('orders', { partitions: 4 });
          await appendKeyed(a, 'orders', 20);

          let handled: StoredEvent[] = [];
          let watching = true;
          const problems: string[] = [];
          const revokedCalls: TopicPartition[][] = [];
          // onRevoked needs its own subscription, which exists only once subscribe() resolves.
          const self: { subscription?: Subscription } = {};
          const checkNobodyElseOwns = async (
            revoked: readonly TopicPartition[],
            when: string,
          ): Promise<void> => {
            const description = await a.describeGroup('billing');
            for (const member of description.members) {
              if (member.memberId === self.subscription?.memberId) continue;
              const taken = member.partitions.filter((tp) => revoked.some((r) => tpKey(r) === tpKey(tp)));
              if (taken.length > 0)
                problems.push(`${when}: ${keysOf(taken).join(', ')} already owned by another member`);
            }
          };
          const first = await a.subscribe({
            group: 'billing',
            topics: ['orders'],
            sessionTimeoutMs: LONG_SESSION_MS,
            onRevoked: async (revoked) => {
              if (!watching) return;
              revokedCalls.push([...revoked]);
              try {
                await checkNobodyElseOwns(revoked, 'when onRevoked was called');
                const inFlight = handled.filter((e) =>
                  revoked.some((tp) => tp.topic === e.topic && tp.partition === e.partition),
                );
                for (const event of inFlight) await self.subscription!.commit(event);
                handled = handled.filter((e) => !inFlight.includes(e));
                await sleep(150);
                await checkNobodyElseOwns(revoked, 'while onRevoked was running');
              } catch (error) {
                problems.push(`onRevoked failed: ${String(error)}`);
              }
            },
          });
          self.subscription = first;
          await waitFor(
            () => first.assignment().length === 4,
            DEADLINE_MS,
            'the first member to own every partition',
          );
          handled = await collect(first, 20, DEADLINE_MS);

          await using second = await b.subscribe({
            group: 'billing',
            topics: ['orders'],
            sessionTimeoutMs: LONG_SESSION_MS,
          });
          await waitFor(() => split([first, second], 4), DEADLINE_MS, 'the partitions to be split');
          watching = false;
          assert.deepEqual(problems, []);
          assert.ok(revokedCalls.length > 0, 'onRevoked was called');
          const revokedKeys = new Set(revokedCalls.flat().map(tpKey));
          for (const tp of second.assignment())
            assert.ok(revokedKeys.has(tpKey(tp)), `${tpKey(tp)} was revoked before it moved`);
          assert.ok(disjoint([first.assignment(), second.assignment()]));
          // What onRevoked committed is not delivered again to the new owner.
          assert.deepEqual(await collectFor(second, QUIET_MS), []);
        },
      );

      void it(
        'hands the partitions of a member that died to the survivors after its session timeout',
        options,
        async (t) => {
          await using env = await target.setup();
          const a = await env.open();
          const faults = faultsOf(a);
          if (skipUnless(t, faults !== undefined, 'backend offers no fault injection')) return;
          const b = await env.open();
          await b.createTopic('orders', { partitions: 4 });
          const settings = { group: 'billing', topics: ['orders'], sessionTimeoutMs: SHORT_SESSION_MS };
          const doomed = await a.subscribe(settings);
          await using survivor = await b.subscribe(settings);
          await waitFor(
            () => split([doomed, survivor], 4),
            DEADLINE_MS,
            'two members to split the partitions',
          );
          const appended = await appendKeyed(b, 'orders', 40, 16);
          const ofDoomed = appended.filter((x) =>
            doomed.assignment().some((tp) => tp.partition === x.result.partition),
          );
          const ofSurvivor = appended.filter((x) => !ofDoomed.includes(x));
          const doomedGot = await collect(doomed, ofDoomed.length, DEADLINE_MS);
          const survivorGot = await collect(survivor, ofSurvivor.length, DEADLINE_MS);
          for (const event of survivorGot) await survivor.commit(event);

          faults!.crash();
          await waitFor(
            () => survivor.assignment().length === 4,
            DEADLINE_MS,
            'the survivor to take over every partition',
          );
          const redelivered = await collect(survivor, ofDoomed.length, DEADLINE_MS);
          assert.deepEqual(
            idsOf(redelivered),
            idsOf(doomedGot),
            'what the dead member never committed is delivered again',
          );
          assert.deepEqual(await collectFor(survivor, QUIET_MS), []);
          assert.deepEqual(
            (await b.describeGroup('billing')).members.map((m) => m.memberId),
            [survivor.memberId],
          );
        },
      );

      void it(
        'fences a member paused past its session timeout: its commits throw FENCED and do not move the group',
        options,
        async (t) => {
          await using env = await target.setup();
          const a = await env.open();
          const faults = faultsOf(a);
          if (skipUnless(t, faults !== undefined, 'backend offers no fault injection')) return;
          const b = await env.open();
          await b.createTopic('orders', { partitions: 4 });
          const settings = { group: 'billing', topics: ['orders'], sessionTimeoutMs: SHORT_SESSION_MS };
          const stale = await a.subscribe(settings);
          await using live = await b.subscribe(settings);
          await waitFor(() => split([stale, live], 4), DEADLINE_MS, 'two members to split the partitions');
          const staleOwned = stale.assignment();
          const appended = await appendKeyed(b, 'orders', 40, 16);
          const ofStale = appended.filter((x) =>
            staleOwned.some((tp) => tp.partition === x.result.partition),
          );
          const staleGot = await collect(stale, ofStale.length, DEADLINE_MS);
          const liveGot = await collect(live, appended.length - ofStale.length, DEADLINE_MS);
          for (const event of liveGot) await live.commit(event);
          const lastOfStale = staleGot.at(-1)!;

          faults!.freeze();
          let redelivered: StoredEvent[];
          try {
            await waitFor(
              () => live.assignment().length === 4,
              DEADLINE_MS,
              'the live member to take over every partition',
            );
            redelivered = await collect(live, ofStale.length, DEADLINE_MS);
          } finally {
            faults!.thaw();
          }
          assert.deepEqual(
            idsOf(redelivered),
            idsOf(staleGot),
            'the live member gets what the stale one never committed',
          );
          // Right after waking, before or after it rejoins: the events it got under its lost ownership stay uncommittable.
          await assert.rejects(stale.commit(lastOfStale), heraldError('FENCED'));
          assert.equal(
            await committedOf(b, 'billing', lastOfStale.topic, lastOfStale.partition),
            null,
            'the stale commit did not move the group',
          );
        },
      );

      void it(
        'refuses the commit of an event delivered before its partition was lost and claimed again, and accepts the same offset delivered again',
        options,
        async (t) => {
          await using env = await target.setup();
          const a = await env.open();
          const faults = faultsOf(a);
          if (skipUnless(t, faults !== undefined, 'backend offers no fault injection')) return;
          const b = await env.open();
          await b.createTopic('orders', { partitions: 1 });
          await b.appendBatch('orders', [makeEvent(0, 'k'), makeEvent(1, 'k'), makeEvent(2, 'k')]);
          const settings = { group: 'billing', topics: ['orders'], sessionTimeoutMs: SHORT_SESSION_MS };
          const stale = await a.subscribe(settings);
          const before = await collect(stale, 3, DEADLINE_MS);
          await stale.commit(before[0]!);

          // Stalled past its session: the other member takes the partition over, then leaves
          // without committing, and the stalled one, awake again, claims it anew and gets
          // offsets 1 and 2 a second time.
          faults!.freeze();
          const live = await b.subscribe(settings);
          try {
            assert.deepEqual(
              (await collect(live, 2, DEADLINE_MS)).map((e) => e.offset),
              [1, 2],
            );
          } finally {
            faults!.thaw();
          }
          await live.close();
          const again = await collect(stale, 2, DEADLINE_MS);
          assert.deepEqual(
            again.map((e) => [e.id, e.offset]),
            [
              ['event-1', 1],
              ['event-2', 2],
            ],
          );

          await assert.rejects(
            stale.commit(before[2]!),
            heraldError('FENCED'),
            'an event of the lost claim cannot be committed, though its offset is owned again',
          );
          await stale.commit(again[1]!);
          assert.equal(await committedOf(b, 'billing', 'orders', 0), 3);
          await stale.close();
        },
      );

      void it(
        'on close, calls onRevoked before leaving and lets it commit the work in flight',
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('orders', { partitions: 1 });
          await log.appendBatch(
            'orders',
            Array.from({ length: 5 }, (_, i) => makeEvent(i)),
          );
          let commitError: unknown;
          const holder: { subscription?: Subscription; inFlight?: StoredEvent } = {};
          holder.subscription = await log.subscribe({
            group: 'billing',
            topics: ['orders'],
            onRevoked: async () => {
              try {
                if (holder.inFlight !== undefined) await holder.subscription!.commit(holder.inFlight);
              } catch (error) {
                commitError = error;
              }
            },
          });
          const events = await collect(holder.subscription, 5, DEADLINE_MS);
          holder.inFlight = events[3]!;
          await holder.subscription.close();
          assert.equal(commitError, undefined, 'the commit made in onRevoked during close succeeded');
          assert.equal(await committedOf(log, 'billing', 'orders', 0), 4);
        },
      );

      void it('never moves a committed offset back', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('orders', { partitions: 1 });
        await log.appendBatch(
          'orders',
          Array.from({ length: 10 }, (_, i) => makeEvent(i)),
        );
        const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const events = await collect(subscription, 10, DEADLINE_MS);
        await subscription.commit(events[7]!);
        await subscription.commit(events[2]!);
        assert.equal(await committedOf(log, 'billing', 'orders', 0), 8);
        await subscription.commit([{ topic: 'orders', partition: 0, offset: 5 }]);
        assert.equal(await committedOf(log, 'billing', 'orders', 0), 8);
        await subscription.commit([{ topic: 'orders', partition: 0, offset: 9 }]);
        assert.equal(await committedOf(log, 'billing', 'orders', 0), 9);
        await subscription.close();

        const other = await env.open();
        await using again = await other.subscribe({ group: 'billing', topics: ['orders'] });
        assert.deepEqual(
          (await collect(again, 1, DEADLINE_MS)).map((e) => e.offset),
          [9],
        );
      });

      void it('describes groups: members, their partitions, committed offsets and lag', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('orders', { partitions: 1 });
        await log.appendBatch(
          'orders',
          Array.from({ length: 10 }, (_, i) => makeEvent(i)),
        );
        await using subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const events = await collect(subscription, 10, DEADLINE_MS);
        await subscription.commit(events[3]!);

        const description = await log.describeGroup('billing');
        assert.equal(description.group, 'billing');
        assert.equal(description.members.length, 1);
        assert.equal(description.members[0]!.memberId, subscription.memberId);
        assert.deepEqual(keysOf(description.members[0]!.partitions), ['orders/0']);
        assert.ok(description.members[0]!.lastHeartbeat > 0);
        assert.deepEqual(
          description.partitions.map(({ topic, partition, committed, latest, lag }) => ({
            topic,
            partition,
            committed,
            latest,
            lag,
          })),
          [{ topic: 'orders', partition: 0, committed: 4, latest: 10, lag: 6 }],
        );
        assert.ok((await log.listGroups()).includes('billing'));

        await log.appendBatch(
          'orders',
          Array.from({ length: 5 }, (_, i) => makeEvent(10 + i)),
        );
        const [state] = (await log.describeGroup('billing')).partitions;
        assert.deepEqual([state?.committed, state?.latest, state?.lag], [4, 15, 11]);
      });

      void it(
        'closes the subscription and leaves the group when its AbortSignal aborts',
        options,
        async () => {
          await using env = await target.setup();
          const log = await env.open();
          await log.createTopic('orders', { partitions: 2 });
          const controller = new AbortController();
          const subscription = await log.subscribe({
            group: 'billing',
            topics: ['orders'],
            signal: controller.signal,
          });
          let delivered = 0;
          const loop = (async () => {
            for await (const _ of subscription) delivered++;
          })();
          await log.append('orders', makeEvent(1));
          await waitFor(() => delivered === 1, DEADLINE_MS, 'the first event');
          controller.abort();
          await within(loop, DEADLINE_MS, 'the iteration to end after abort');
          await waitFor(
            async () => (await log.describeGroup('billing')).members.length === 0,
            DEADLINE_MS,
            'the member to leave the group',
          );
          await assert.rejects(
            subscription.commit([{ topic: 'orders', partition: 0, offset: 0 }]),
            heraldError('CLOSED'),
          );
        },
      );

      void it('refuses use after close with CLOSED, and ends iterations in progress', options, async () => {
        await using env = await target.setup();
        const log = await env.open();
        await log.createTopic('orders', { partitions: 1 });
        const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const iteration = subscription[Symbol.asyncIterator]().next();
        await log.close();
        const result = await within(
          iteration,
          DEADLINE_MS,
          'closing the log to end the iteration in progress',
        );
        assert.equal(result.done, true, 'closing the log ends iterations in progress');

        const closed = heraldError('CLOSED');
        await assert.rejects(log.append('orders', makeEvent(1)), closed);
        await assert.rejects(log.appendBatch('orders', [makeEvent(1)]), closed);
        await assert.rejects(log.read('orders', { partition: 0, from: 'earliest' }), closed);
        await assert.rejects(log.createTopic('more', { partitions: 1 }), closed);
        await assert.rejects(log.describeTopic('orders'), closed);
        await assert.rejects(log.listTopics(), closed);
        await assert.rejects(log.subscribe({ group: 'billing', topics: ['orders'] }), closed);
        await assert.rejects(log.describeGroup('billing'), closed);
        await assert.rejects(subscription.commit([{ topic: 'orders', partition: 0, offset: 0 }]), closed);
        await log.close();
        await subscription.close();

        const other = await env.open();
        assert.deepEqual(
          (await other.listTopics()).map((t) => t.name),
          ['orders'],
        );
        assert.equal((await other.describeGroup('billing')).members.length, 0, 'closing left the group');
      });
    });

    void describe('durability', () => {
      void it('keeps topics, events and committed offsets across close and reopen', options, async (t) => {
        await using env = await target.setup();
        const log = await env.open();
        if (skipUnless(t, log.capabilities.durable, 'backend declares durable: false')) return;
        await log.createTopic('orders', { partitions: 2 });
        const appended = await appendKeyed(log, 'orders', 20);
        const subscription = await log.subscribe({ group: 'billing', topics: ['orders'] });
        const events = await collect(subscription, 20, DEADLINE_MS);
        const committed = events.find((e) => e.partition === 0)!;
        await subscription.commit(committed);
        await log.close();

        const reopened = await env.open();
        assert.deepEqual(
          (await reopened.listTopics()).map((x) => [x.name, x.partitions]),
          [['orders', 2]],
        );
        const stored = await readAll(reopened, 'orders');
        assert.deepEqual(idsOf(stored), idsOf(appended.map((a) => a.event)));
        for (const { event, result } of appended) {
          const found = stored.find((e) => e.id === event.id)!;
          assert.deepEqual([found.partition, found.offset], [result.partition, result.offset]);
          assert.deepEqual([...found.data!], [...event.data!]);
        }
        assert.equal(await committedOf(reopened, 'billing', 'orders', 0), committed.offset + 1);
      });
    });
  });
}
