import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineEvent } from '@herald/core';
import type { CloudEvent, EventLog, ReadOptions } from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';
import { checkStoredEvents, choose } from '../src/check-stored-events.ts';
import { defineSystem } from '../src/define-system.ts';
import { jsonSchemaOf } from '../src/json-schema.ts';
import { diffSchemas } from '../src/schema-diff.ts';
import { openSchemaRegistry } from '../src/schema-registry.ts';
import { ParcelLost, ParcelShippedV1, ParcelShippedV2, ParcelShippedV3 } from './fixtures/parcel-events.ts';
import parcels from './fixtures/parcel-system.ts';

const source = { source: '/shipping' };

void describe('checkStoredEvents', () => {
  void it('decodes every retained event with each consumer reader and upcasters, and reports what breaks where', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 2 });
    const events: CloudEvent[] = [
      ParcelShippedV1.create({ parcelId: 'a', weightGrams: 100 }, { ...source, key: 'a' }),
      ParcelShippedV2.create({ parcelId: 'b', weightGrams: 200, carrier: 'dhl' }, { ...source, key: 'b' }),
      ParcelShippedV3.create(
        { parcelId: 'c', weight: { value: 1, unit: 'kg' }, carrier: 'ups' },
        { ...source, key: 'c', id: 'c-3' },
      ),
      ParcelLost.create({ parcelId: 'a' }, { ...source, key: 'a' }),
    ];
    const appended = await log.appendBatch('parcels', events);

    const report = await checkStoredEvents(log, parcels);
    assert.equal(report.ok, false);
    assert.equal(report.events, 4);
    const [billing, tracking] = report.consumers;
    // billing reads v3: v1 is read as v2 then upcast, v2 upcast, v3 as is; it has no route for parcel-lost.
    assert.deepEqual(
      [billing?.group, billing?.checked, billing?.decoded, billing?.failed, billing?.notRouted],
      ['billing.charges', 3, 3, 0, 1],
    );
    // tracking reads v1 and reads newer versions with the v1 schema: v2 drops its carrier; v3 has
    // no weightGrams and would not decode.
    assert.deepEqual(
      [tracking?.group, tracking?.checked, tracking?.decoded, tracking?.failed, tracking?.notRouted],
      ['tracking.timeline', 4, 3, 1, 0],
    );
    const failure = tracking?.failures[0];
    const v3 = appended[2]!;
    assert.deepEqual(
      [
        failure?.topic,
        failure?.partition,
        failure?.offset,
        failure?.id,
        failure?.type,
        failure?.reader,
        failure?.code,
      ],
      [
        'parcels',
        v3.partition,
        v3.offset,
        'c-3',
        ParcelShippedV3.type,
        ParcelShippedV1.type,
        'VALIDATION_FAILED',
      ],
    );
    assert.match(
      failure?.message ?? '',
      /read with the schema of .*parcel-shipped\.v1 \(newer: 'decode'\): invalid .*weightGrams/,
    );
  });

  void it('catches a breaking change that the schema-to-schema check lets through', async () => {
    // v2 adds an optional field and a rule JSON Schema cannot express (a refinement): every
    // schema comparison says compatible, and the registry accepts it.
    const CrateShippedV1 = defineEvent({
      type: 'dev.herald.test.crate-shipped.v1',
      schema: z.object({ crateId: z.string(), weightGrams: z.int().min(0) }),
    });
    const CrateShippedV2 = defineEvent({
      type: 'dev.herald.test.crate-shipped.v2',
      schema: z
        .object({ crateId: z.string(), weightGrams: z.int().min(0), insured: z.boolean().optional() })
        .refine((crate) => crate.weightGrams <= 30_000, 'crates over 30 kg go by freight, not parcel'),
    });
    assert.deepEqual(
      diffSchemas(jsonSchemaOf(CrateShippedV1), jsonSchemaOf(CrateShippedV2)).filter((d) => !d.compatible),
      [],
    );
    await using log = await openMemoryLog();
    const registry = await openSchemaRegistry({ log });
    await registry.register(CrateShippedV1);
    assert.equal((await registry.register(CrateShippedV2)).status, 'registered');

    await log.createTopic('crates', { partitions: 1 });
    await log.appendBatch('crates', [
      CrateShippedV1.create({ crateId: 'light', weightGrams: 800 }, source),
      CrateShippedV1.create({ crateId: 'heavy', weightGrams: 45_000 }, { ...source, id: 'heavy-1' }),
      CrateShippedV1.create({ crateId: 'medium', weightGrams: 12_000 }, source),
    ]);
    const system = defineSystem({
      title: 'Crates',
      version: '2.0.0',
      producers: [
        {
          name: 'warehouse',
          source: '/warehouse',
          publishes: [{ topic: 'crates', events: [CrateShippedV2] }],
        },
      ],
      consumers: [{ group: 'billing.freight', topics: ['crates'], reads: [CrateShippedV2] }],
    });
    const report = await checkStoredEvents(log, system);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.consumers[0]?.failures.map((f) => [f.offset, f.id, f.code]),
      [[1, 'heavy-1', 'VALIDATION_FAILED']],
    );
    assert.match(report.consumers[0]?.failures[0]?.message ?? '', /crates over 30 kg go by freight/);
  });

  void it('passes when every event decodes, and reports topics that do not exist', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 1 });
    await log.append('parcels', ParcelShippedV2.create({ parcelId: 'a', weightGrams: 1 }, source));
    const system = defineSystem({
      title: 'Parcels',
      version: '1.0.0',
      producers: [],
      consumers: [{ group: 'billing.charges', topics: ['parcels', 'returns'], reads: [ParcelShippedV3] }],
      upcasters: parcels.upcasters ?? [],
    });
    const report = await checkStoredEvents(log, system);
    assert.equal(report.ok, true);
    assert.deepEqual(report.consumers[0]?.missingTopics, ['returns']);
    assert.equal(report.consumers[0]?.decoded, 1);
  });

  void it('checks only the groups asked for, and lists at most maxFailures failures while counting all', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 1 });
    for (let i = 0; i < 5; i++) {
      await log.append(
        'parcels',
        ParcelShippedV3.create({ parcelId: `p${i}`, weight: { value: i, unit: 'g' }, carrier: 'x' }, source),
      );
    }
    const report = await checkStoredEvents(log, parcels, { groups: ['tracking.timeline'], maxFailures: 2 });
    assert.deepEqual(
      report.consumers.map((c) => [c.group, c.failed, c.failures.length]),
      [['tracking.timeline', 5, 2]],
    );
  });

  void it('reports per stored type and version how many events would fail', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 2 });
    await log.appendBatch('parcels', [
      ParcelShippedV1.create({ parcelId: 'a', weightGrams: 100 }, { ...source, key: 'a' }),
      ParcelShippedV3.create(
        { parcelId: 'c', weight: { value: 1, unit: 'kg' }, carrier: 'ups' },
        { ...source, key: 'c' },
      ),
      ParcelShippedV3.create(
        { parcelId: 'd', weight: { value: 2, unit: 'kg' }, carrier: 'ups' },
        { ...source, key: 'd' },
      ),
    ]);
    const report = await checkStoredEvents(log, parcels, { groups: ['tracking.timeline'] });
    assert.deepEqual(report.consumers[0]?.byType, [
      { type: ParcelShippedV3.type, checked: 2, failed: 2 },
      { type: ParcelShippedV1.type, checked: 1, failed: 0 },
    ]);
  });

  void it('checks a repeatable random sample of the retained events, reading only those', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 3 });
    const events = Array.from({ length: 300 }, (_, i) =>
      i % 10 === 0
        ? ParcelShippedV3.create(
            { parcelId: `p${i}`, weight: { value: 1, unit: 'kg' }, carrier: 'ups' },
            { ...source, key: `p${i}` },
          )
        : ParcelShippedV1.create({ parcelId: `p${i}`, weightGrams: i }, { ...source, key: `p${i}` }),
    );
    await log.appendBatch('parcels', events);
    const reads: number[] = [];
    const counting = new Proxy(log, {
      get(target, name) {
        if (name === 'read') {
          return async (topic: string, options: ReadOptions) => {
            const batch = await target.read(topic, options);
            reads.push(batch.length);
            return batch;
          };
        }
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as EventLog;

    const first = await checkStoredEvents(counting, parcels, {
      groups: ['tracking.timeline'],
      sample: { size: 40, seed: 7 },
    });
    const again = await checkStoredEvents(log, parcels, {
      groups: ['tracking.timeline'],
      sample: { size: 40, seed: 7 },
    });
    const other = await checkStoredEvents(log, parcels, {
      groups: ['tracking.timeline'],
      sample: { size: 40, seed: 8 },
    });

    assert.equal(first.events, 40);
    assert.equal(first.retained, 300);
    assert.deepEqual(first.sample, { size: 40, seed: 7 });
    assert.equal(first.consumers[0]?.checked, 40);
    assert.deepEqual(
      again.consumers[0]?.failures,
      first.consumers[0]?.failures,
      'the same seed chooses the same events',
    );
    assert.notDeepEqual(
      other.consumers[0]?.failures.map((f) => f.id),
      first.consumers[0]?.failures.map((f) => f.id),
      'another seed chooses others',
    );
    assert.ok(
      reads.reduce((a, b) => a + b, 0) < 300,
      `the sample read ${reads.reduce((a, b) => a + b, 0)} events of 300`,
    );
    const all = await checkStoredEvents(log, parcels, {
      groups: ['tracking.timeline'],
      sample: { size: 1_000, seed: 7 },
    });
    assert.equal(all.events, 300, 'a sample as large as the log checks every event');
    assert.equal(all.sample, undefined);
    assert.equal(all.consumers[0]?.failed, 30);
  });

  void it('chooses distinct positions, in order, within the range', () => {
    const picked = choose(1_000, 100, 42);
    assert.equal(picked.length, 100);
    assert.equal(new Set(picked).size, 100);
    assert.deepEqual(
      picked,
      [...picked].sort((a, b) => a - b),
    );
    assert.ok(picked.every((i) => Number.isInteger(i) && i >= 0 && i < 1_000));
    assert.deepEqual(choose(1_000, 100, 42), picked);
    assert.deepEqual(choose(5, 5, 1), [0, 1, 2, 3, 4]);
  });
});
