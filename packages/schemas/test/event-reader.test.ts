import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { createRouter, deadLetter, defineEvent, isHeraldError } from '@herald/core';
import type { CloudEvent, EventDefinition, StoredEvent } from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';
import { defineUpcaster } from '../src/define-upcaster.ts';
import { createEventReader } from '../src/event-reader.ts';
import {
  PARCEL_SUBJECT,
  ParcelLost,
  ParcelShippedV1,
  ParcelShippedV2,
  ParcelShippedV3,
  parcelV2ToV3,
} from './fixtures/parcel-events.ts';

function stored<Data>(definition: EventDefinition<Data>, data: Data, offset = 0): StoredEvent {
  return {
    ...definition.create(data, { source: '/t', key: 'p-1' }),
    topic: 'parcels',
    partition: 0,
    offset,
    timestamp: 0,
  };
}

/** A stored event with raw JSON data, as an older producer may have written it. */
function storedRaw(type: string, json: unknown): StoredEvent {
  const event: CloudEvent = {
    specversion: '1.0',
    id: 'raw',
    source: '/t',
    type,
    data: new TextEncoder().encode(JSON.stringify(json)),
  };
  return { ...event, topic: 'parcels', partition: 0, offset: 0, timestamp: 0 };
}

function failsWith(code: string, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isHeraldError(error), String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

void describe('the event reader', () => {
  const reader = createEventReader({ upcasters: [parcelV2ToV3] });

  void it('decodes the version a route reads as is', () => {
    assert.deepEqual(
      reader.decode(stored(ParcelShippedV2, { parcelId: 'p', weightGrams: 3 }), ParcelShippedV2),
      {
        parcelId: 'p',
        weightGrams: 3,
      },
    );
  });

  void it('reads an older version through the upcasters, and with a later schema where no upcaster leaves', () => {
    // v1 → v2 has no upcaster: v2 is BACKWARD compatible, so v1 data is read with the v2 schema,
    // then upcast v2 → v3.
    const v1 = stored(ParcelShippedV1, { parcelId: 'p', weightGrams: 1200 });
    assert.deepEqual(reader.decode(v1, ParcelShippedV3), {
      parcelId: 'p',
      weight: { value: 1200, unit: 'g' },
      carrier: 'unknown',
    });
    assert.deepEqual(reader.decode(v1, ParcelShippedV2), { parcelId: 'p', weightGrams: 1200 });
    const plan = reader.plan(ParcelShippedV1.type, ParcelShippedV3);
    assert.deepEqual(
      plan.kind === 'older'
        ? plan.steps.map((step) =>
            step.kind === 'upcast'
              ? `upcast to v${step.upcaster.toVersion}`
              : `read as ${step.definition.type}`,
          )
        : plan.kind,
      [`read as ${ParcelShippedV2.type}`, 'upcast to v3'],
    );
  });

  void it('chains upcasters over several versions', () => {
    const V4 = defineEvent({
      type: `${PARCEL_SUBJECT}.v4`,
      schema: z.object({ parcelId: z.string(), kilograms: z.number(), carrier: z.string() }),
    });
    const v3ToV4 = defineUpcaster(ParcelShippedV3, V4, (v3) => ({
      parcelId: v3.parcelId,
      kilograms: v3.weight.unit === 'kg' ? v3.weight.value : v3.weight.value / 1000,
      carrier: v3.carrier,
    }));
    const chained = createEventReader({ upcasters: [v3ToV4, parcelV2ToV3] });
    const plan = chained.plan(ParcelShippedV2.type, V4);
    assert.deepEqual(
      plan.kind === 'older'
        ? plan.steps.map((s) => (s.kind === 'upcast' ? s.upcaster.toVersion : s.kind))
        : plan.kind,
      [3, 4],
    );
    assert.deepEqual(
      chained.decode(stored(ParcelShippedV2, { parcelId: 'p', weightGrams: 2500, carrier: 'dhl' }), V4),
      {
        parcelId: 'p',
        kilograms: 2.5,
        carrier: 'dhl',
      },
    );
  });

  void it('reports stored data that does not fit its own version, naming where', () => {
    const bad = storedRaw(ParcelShippedV2.type, { parcelId: 'p', weightGrams: -5 });
    assert.throws(
      () => reader.decode(bad, ParcelShippedV3),
      failsWith('VALIDATION_FAILED', /^stored dev\.herald\.test\.parcel-shipped\.v2: invalid .*weightGrams/),
    );
  });

  void it('reports an upcaster that produces invalid data, or throws, as poison', () => {
    const sloppy = defineUpcaster(ParcelShippedV2, ParcelShippedV3, (v2) => ({
      parcelId: v2.parcelId,
      weight: { value: v2.weightGrams, unit: 'grams' as 'g' },
      carrier: 'x',
    }));
    const broken = defineUpcaster(ParcelShippedV2, ParcelShippedV3, () => {
      throw new Error('no carrier table');
    });
    const event = stored(ParcelShippedV2, { parcelId: 'p', weightGrams: 1 });
    assert.throws(
      () => createEventReader({ upcasters: [sloppy] }).decode(event, ParcelShippedV3),
      failsWith(
        'VALIDATION_FAILED',
        /^upcaster v2→v3 of dev\.herald\.test\.parcel-shipped produced: invalid .*weight\.unit/,
      ),
    );
    assert.throws(
      () => createEventReader({ upcasters: [broken] }).decode(event, ParcelShippedV3),
      failsWith(
        'DECODE_FAILED',
        /upcaster v2→v3 of dev\.herald\.test\.parcel-shipped failed on event .*: no carrier table/,
      ),
    );
  });

  void it('reads a newer version with the reader schema by default, dropping fields it does not know', () => {
    const v2 = stored(ParcelShippedV2, { parcelId: 'p', weightGrams: 7, carrier: 'ups' });
    assert.deepEqual(reader.decode(v2, ParcelShippedV1), { parcelId: 'p', weightGrams: 7 });
    const v3 = stored(ParcelShippedV3, { parcelId: 'p', weight: { value: 1, unit: 'kg' }, carrier: 'ups' });
    assert.throws(
      () => reader.decode(v3, ParcelShippedV1),
      failsWith(
        'VALIDATION_FAILED',
        /parcel-shipped\.v3 read with the schema of dev\.herald\.test\.parcel-shipped\.v1 \(newer: 'decode'\): invalid .*weightGrams/,
      ),
    );
  });

  void it("refuses every newer version under newer: 'reject'", () => {
    const strict = createEventReader({ newer: 'reject' });
    const v2 = stored(ParcelShippedV2, { parcelId: 'p', weightGrams: 7 });
    assert.throws(
      () => strict.decode(v2, ParcelShippedV1),
      failsWith('DECODE_FAILED', /is newer than .*upgrade the consumer, then redrive/),
    );
  });

  void it('routes an event to the highest version of its subject among the routes, never across subjects', () => {
    const routes = [ParcelShippedV1.type, ParcelShippedV3.type, ParcelLost.type];
    assert.equal(reader.route(ParcelShippedV2.type, routes), ParcelShippedV3.type);
    assert.equal(reader.route(`${PARCEL_SUBJECT}.v9`, routes), ParcelShippedV3.type);
    assert.equal(reader.route('dev.herald.test.parcel-found.v1', routes), undefined);
    assert.equal(reader.route('not-versioned', routes), undefined);
    assert.throws(
      () => reader.decode(stored(ParcelLost, { parcelId: 'p' }), ParcelShippedV1),
      failsWith('DECODE_FAILED', /not versions of one event/),
    );
  });

  void it('refuses upcasters across subjects, backwards, or twice for the same step', () => {
    assert.throws(
      () => defineUpcaster(ParcelShippedV1, ParcelLost, (d) => ({ parcelId: d.parcelId })),
      /different events/,
    );
    assert.throws(() => defineUpcaster(ParcelShippedV2, ParcelShippedV1, (d) => d), /later version/);
    assert.throws(() => createEventReader({ upcasters: [parcelV2ToV3, parcelV2ToV3] }), /two upcasters/);
  });
});

void describe('a Router with the reader as decoder', () => {
  void it('hands every version of an event to the route of the version it reads', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 1 });
    await log.appendBatch('parcels', [
      ParcelShippedV1.create({ parcelId: 'a', weightGrams: 100 }, { source: '/t', key: 'a' }),
      ParcelShippedV2.create({ parcelId: 'b', weightGrams: 200, carrier: 'dhl' }, { source: '/t', key: 'b' }),
      ParcelShippedV3.create(
        { parcelId: 'c', weight: { value: 3, unit: 'kg' }, carrier: 'ups' },
        { source: '/t', key: 'c' },
      ),
    ]);
    const seen: unknown[] = [];
    const router = createRouter({
      log,
      group: 'billing.charges',
      topics: ['parcels'],
      decoder: createEventReader({ upcasters: [parcelV2ToV3] }),
    });
    router.on(ParcelShippedV3, (data, event) => {
      seen.push([event.type.slice(-2), data]);
    });
    const running = router.run();
    const deadline = Date.now() + 10_000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await router.stop();
    await running;
    assert.deepEqual(seen, [
      ['v1', { parcelId: 'a', weight: { value: 100, unit: 'g' }, carrier: 'unknown' }],
      ['v2', { parcelId: 'b', weight: { value: 200, unit: 'g' }, carrier: 'dhl' }],
      ['v3', { parcelId: 'c', weight: { value: 3, unit: 'kg' }, carrier: 'ups' }],
    ]);
  });

  void it("parks a newer version as poison under newer: 'reject' and keeps going", async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 1 });
    await log.appendBatch('parcels', [
      ParcelShippedV2.create({ parcelId: 'new', weightGrams: 1 }, { source: '/t', key: 'new' }),
      ParcelShippedV1.create({ parcelId: 'old', weightGrams: 2 }, { source: '/t', key: 'old' }),
    ]);
    const seen: string[] = [];
    const router = createRouter({
      log,
      group: 'tracking.timeline',
      topics: ['parcels'],
      decoder: createEventReader({ newer: 'reject' }),
      middleware: [deadLetter()],
    });
    router.on(ParcelShippedV1, (data) => {
      seen.push(data.parcelId);
    });
    const running = router.run();
    const deadline = Date.now() + 10_000;
    const parked = async () =>
      (await log.describeTopic('parcels.dead-letter').catch(() => undefined))?.partitionInfo[0]?.latest ?? 0;
    while ((seen.length < 1 || (await parked()) < 1) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    await router.stop();
    await running;
    assert.deepEqual(seen, ['old']);
    assert.equal(await parked(), 1);
  });
});
