import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineEvent } from '@herald/core';
import { defineSystem } from '../src/define-system.ts';
import { generateAsyncApi } from '../src/generate-asyncapi.ts';
import { ParcelLost, ParcelShippedV1, ParcelShippedV2, ParcelShippedV3 } from './fixtures/parcel-events.ts';
import parcels from './fixtures/parcel-system.ts';
import { asyncApiErrors } from './fixtures/asyncapi-errors.ts';

type Refs = { $ref: string }[];

void describe('generateAsyncApi', () => {
  void it('generates a document valid against the AsyncAPI 3.0 specification', async () => {
    const document = generateAsyncApi(parcels);
    assert.equal(document['asyncapi'], '3.0.0');
    assert.deepEqual(await asyncApiErrors(document), []);
  });

  void it('maps topics to channels, event types to messages and producers and consumer groups to operations', () => {
    const document = generateAsyncApi(parcels) as {
      channels: Record<string, { address: string; messages: Record<string, unknown> }>;
      operations: Record<string, { action: string; channel: { $ref: string }; messages: Refs }>;
      components: { messages: Record<string, Record<string, unknown>>; schemas: Record<string, unknown> };
    };
    assert.deepEqual(Object.keys(document.channels), ['parcels']);
    assert.equal(document.channels['parcels']?.address, 'parcels');
    const types = [ParcelLost, ParcelShippedV1, ParcelShippedV2, ParcelShippedV3].map((d) => d.type);
    assert.deepEqual(Object.keys(document.channels['parcels']?.messages ?? {}), types);
    assert.deepEqual(Object.keys(document.operations), [
      'billing.charges.consume.parcels',
      'shipping.publish.parcels',
      'tracking.timeline.consume.parcels',
    ]);
    const refsOf = (id: string) => document.operations[id]!.messages.map((m) => m.$ref.split('/').pop());
    assert.equal(document.operations['shipping.publish.parcels']?.action, 'send');
    assert.deepEqual(refsOf('shipping.publish.parcels'), types);
    // billing reads v3 and, through upcasters, every version of parcel-shipped — not parcel-lost.
    assert.equal(document.operations['billing.charges.consume.parcels']?.action, 'receive');
    assert.deepEqual(refsOf('billing.charges.consume.parcels'), types.slice(1));
    assert.deepEqual(refsOf('tracking.timeline.consume.parcels'), types);
    const message = document.components.messages[ParcelShippedV2.type]!;
    assert.equal(message['x-herald-dataschema'], 'herald:schemas/dev.herald.test.parcel-shipped/versions/2');
    assert.deepEqual(message['payload'], { $ref: `#/components/schemas/${ParcelShippedV2.type}` });
    assert.deepEqual((document.components.schemas[ParcelShippedV2.type] as { required: string[] }).required, [
      'parcelId',
      'weightGrams',
    ]);
  });

  void it('keeps recursive schemas valid by pointing their $refs inside the document', async () => {
    const category: z.ZodType = z.object({
      name: z.string(),
      get children() {
        return z.array(category);
      },
    });
    const CatalogChanged = defineEvent({
      type: 'dev.herald.test.catalog-changed.v1',
      schema: z.object({ root: category }),
    });
    const system = defineSystem({
      title: 'Catalog',
      version: '1.0.0',
      producers: [
        { name: 'catalog', source: '/catalog', publishes: [{ topic: 'catalog', events: [CatalogChanged] }] },
      ],
      consumers: [],
    });
    const document = generateAsyncApi(system);
    assert.match(
      JSON.stringify(document),
      /"\$ref":"#\/components\/schemas\/dev\.herald\.test\.catalog-changed\.v1/,
    );
    assert.deepEqual(await asyncApiErrors(document), []);
  });

  void it('is deterministic', () => {
    assert.equal(JSON.stringify(generateAsyncApi(parcels)), JSON.stringify(generateAsyncApi(parcels)));
  });

  void it('names the headers as they travel: ce_* on Kafka, ce-* on NATS, content-type on both', () => {
    const document = generateAsyncApi(parcels) as {
      components: {
        messages: Record<string, { headers: { oneOf: { properties: object; required: string[] }[] } }>;
      };
    };
    const [kafka, nats] = document.components.messages[ParcelShippedV2.type]!.headers.oneOf;
    assert.deepEqual(kafka?.required, ['ce_specversion', 'ce_id', 'ce_source', 'ce_type']);
    assert.deepEqual(nats?.required, ['ce-specversion', 'ce-id', 'ce-source', 'ce-type']);
    assert.ok('content-type' in (kafka?.properties ?? {}) && 'content-type' in (nats?.properties ?? {}));
    assert.ok(!('specversion' in (kafka?.properties ?? {})), 'no bare attribute names');
  });

  void it('lists the servers a system declares and adds the Kafka bindings when one is Kafka', async () => {
    const onKafka = defineSystem({
      ...parcels,
      servers: [{ name: 'kafka', log: 'kafka', host: 'broker:9092' }],
      partitions: 3,
    });
    const document = generateAsyncApi(onKafka) as {
      servers: Record<string, { host: string; protocol: string }>;
      channels: Record<string, { bindings?: { kafka: { topic: string; partitions: number } } }>;
      operations: Record<string, { bindings?: { kafka: { groupId: { enum: string[] } } } }>;
      components: { messages: Record<string, { bindings?: { kafka: { key: object } } }> };
    };
    assert.deepEqual(await asyncApiErrors(document), []);
    assert.equal(document.servers['kafka']?.host, 'broker:9092');
    assert.equal(document.servers['kafka']?.protocol, 'kafka');
    assert.deepEqual(document.channels['parcels']?.bindings?.kafka, {
      topic: 'parcels',
      partitions: 3,
      bindingVersion: '0.5.0',
    });
    assert.deepEqual(document.operations['billing.charges.consume.parcels']?.bindings?.kafka.groupId.enum, [
      'billing.charges',
    ]);
    assert.ok(document.components.messages[ParcelLost.type]?.bindings?.kafka.key);
    const plain = generateAsyncApi(parcels) as {
      servers?: unknown;
      channels: Record<string, { bindings?: unknown }>;
    };
    assert.equal(plain.servers, undefined, 'no servers unless the system declares them');
    assert.equal(plain.channels['parcels']?.bindings, undefined);
  });

  void it('refuses two servers of one name and a partition count below 1', () => {
    assert.throws(
      () =>
        defineSystem({
          ...parcels,
          servers: [
            { name: 'a', log: 'kafka', host: 'x:1' },
            { name: 'a', log: 'nats', host: 'y:2' },
          ],
        }),
      /two servers are named a/,
    );
    assert.throws(() => defineSystem({ ...parcels, partitions: 0 }), /partitions must be/);
  });
});
