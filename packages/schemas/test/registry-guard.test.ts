import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { createProducer, defineEvent, isHeraldError } from '@herald/core';
import { createMemoryBroker, openMemoryLog } from '@herald/core/memory';
import { registryGuard } from '../src/registry-guard.ts';
import { openSchemaRegistry } from '../src/schema-registry.ts';
import { PARCEL_SUBJECT, ParcelLost, ParcelShippedV1, ParcelShippedV2 } from './fixtures/parcel-events.ts';

function refused(reason: string, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isHeraldError(error, 'INVALID_ARGUMENT'), `expected INVALID_ARGUMENT, got ${String(error)}`);
    assert.equal(error.details['reason'], reason);
    assert.match(error.message, pattern);
    return true;
  };
}

void describe('registryGuard', () => {
  void it('publishes registered versions with dataschema set to their registry URI', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 1 });
    const registry = await openSchemaRegistry({ log });
    await registry.register(ParcelShippedV1);
    const producer = createProducer({
      log,
      source: '/shipping',
      middleware: [registryGuard(registry, { definitions: [ParcelShippedV1] })],
    });
    await producer.publish('parcels', ParcelShippedV1, { parcelId: 'p-1', weightGrams: 1200 });
    const [event] = await log.read('parcels', { partition: 0, from: 'earliest' });
    assert.equal(event?.dataschema, `herald:schemas/${PARCEL_SUBJECT}/versions/1`);
  });

  void it('refuses a version nobody registered, appending nothing of the batch', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 1 });
    const registry = await openSchemaRegistry({ log });
    await registry.register(ParcelShippedV1);
    const producer = createProducer({
      log,
      source: '/shipping',
      middleware: [registryGuard(registry, { definitions: [ParcelShippedV1, ParcelShippedV2] })],
    });
    await assert.rejects(
      producer.publishBatch('parcels', [
        { definition: ParcelShippedV1, data: { parcelId: 'p-1', weightGrams: 1 } },
        { definition: ParcelShippedV2, data: { parcelId: 'p-2', weightGrams: 2 } },
      ]),
      refused(
        'SCHEMA_NOT_REGISTERED',
        /parcel-shipped\.v2 is not registered \(.* has versions 1\): register it first/,
      ),
    );
    assert.equal((await log.describeTopic('parcels')).partitionInfo[0]!.latest, 0);
  });

  void it('refuses a definition whose schema changed without a new version', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 1 });
    const registry = await openSchemaRegistry({ log });
    await registry.register(ParcelShippedV1);
    const edited = defineEvent({
      type: ParcelShippedV1.type,
      schema: z.object({
        parcelId: z.string(),
        weightGrams: z.int().min(0),
        fragile: z.boolean().optional(),
      }),
    });
    const producer = createProducer({
      log,
      source: '/shipping',
      middleware: [registryGuard(registry, { definitions: [edited] })],
    });
    await assert.rejects(
      producer.publish('parcels', edited, { parcelId: 'p-1', weightGrams: 1 }),
      refused('SCHEMA_CHANGED', /differs from its registered version 1: a registered version never changes/),
    );
  });

  void it('refuses an event type it was given no definition of', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('parcels', { partitions: 1 });
    const registry = await openSchemaRegistry({ log });
    const producer = createProducer({
      log,
      source: '/shipping',
      middleware: [registryGuard(registry, { definitions: [ParcelShippedV1] })],
    });
    await assert.rejects(
      producer.publish('parcels', ParcelLost, { parcelId: 'p-1' }),
      refused('NO_DEFINITION', /has no definition of dev\.herald\.test\.parcel-lost\.v1/),
    );
  });

  void it('sees a version another process registered after it read the registry', async () => {
    const broker = createMemoryBroker();
    await using log = await openMemoryLog({ broker });
    await using admin = await openMemoryLog({ broker });
    await log.createTopic('parcels', { partitions: 1 });
    const registry = await openSchemaRegistry({ log });
    const producer = createProducer({
      log,
      source: '/shipping',
      middleware: [registryGuard(registry, { definitions: [ParcelShippedV1] })],
    });
    await (await openSchemaRegistry({ log: admin })).register(ParcelShippedV1);
    const result = await producer.publish('parcels', ParcelShippedV1, { parcelId: 'p-1', weightGrams: 5 });
    assert.equal(result.offset, 0);
  });
});
