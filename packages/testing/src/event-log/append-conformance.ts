import assert from 'node:assert/strict';
import { attributesOf, partitionFor } from '@herald/core';
import type { AppendResult, CloudEvent, StoredEvent } from '@herald/core';
import { describeGroups, heraldError, appendKeyed } from '../conformance-suite.ts';
import { collect, makeEvent, readAll, readPartition, TEST_SOURCE, TEST_TYPE } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

const encoder = new TextEncoder();

/** The append group of the EventLog conformance suite: what is stored, validated and kept as given, alone, in batches and concurrently. */
export const appendConformance: ConformanceGroup = {
  title: 'append',
  define(suite) {
    suite.test(
      'keeps events in append order within a partition, with dense offsets from 0',
      async ({ log }) => {
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

    suite.test('round-trips every CloudEvents attribute and every data byte', async ({ env, log }) => {
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
      const delivered = await collect(subscription, originals.length, suite.deadlineMs);
      delivered.forEach((stored, i) => check(stored, originals[i]!, 'subscribe'));
    });

    suite.test(
      "keeps its own copy of the data: later changes to the caller's or a reader's bytes change nothing",
      async ({ log }) => {
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

    suite.test(
      're-appends a stored event, as a dead-letter move does, under a new position',
      async ({ log }) => {
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

    suite.test('refuses an invalid envelope with INVALID_ENVELOPE and stores nothing', async ({ log }) => {
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

    suite.test('appends a batch atomically: one invalid event stores none of the batch', async ({ log }) => {
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

    suite.test('loses nothing under concurrent appends from several clients', async ({ env, log }) => {
      const clients = [log, await env.open(), await env.open(), await env.open()];
      await clients[0]!.createTopic('orders', { partitions: 4 });
      const producers = 20;
      const perProducer = 50;
      await Promise.all(
        Array.from({ length: producers }, async (_, p) => {
          const client = clients[p % clients.length]!;
          for (let j = 0; j < perProducer; j++) {
            await client.append('orders', makeEvent(p * 1000 + j, `producer-${p}`, { id: `p${p}-${j}` }));
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

    suite.test(
      'refuses a record larger than maxRecordBytes with TOO_LARGE and stores nothing',
      async ({ log, t }) => {
        const max = log.capabilities.maxRecordBytes;
        if (max > 16 * 1024 * 1024) {
          t.skip(`backend accepts records up to ${max} bytes; too large to test here`);
          return;
        }
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
  },
};

/** Registers the append group alone for `target`, as `EventLog conformance: <name>: append`. */
export function describeAppendConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [appendConformance]);
}
