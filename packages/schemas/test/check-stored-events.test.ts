import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineEvent } from '@herald/core';
import type { CloudEvent } from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';
import { checkStoredEvents } from '../src/check-stored-events.ts';
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
});
