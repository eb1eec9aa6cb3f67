import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineEvent } from '@herald/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { eventTypeOf, parseEventType, parseSchemaUri, schemaUri } from '../src/event-type.ts';
import { canonicalJson, jsonSchemaOf, schemaFingerprint } from '../src/json-schema.ts';

void describe('event types, subjects and schema URIs', () => {
  void it('splits a versioned type into subject and version and back', () => {
    assert.deepEqual(parseEventType('dev.herald.orders.order-placed.v12'), {
      subject: 'dev.herald.orders.order-placed',
      version: 12,
    });
    assert.equal(eventTypeOf('dev.herald.orders.order-placed', 2), 'dev.herald.orders.order-placed.v2');
    assert.throws(() => parseEventType('dev.herald.orders.order-placed'), /has no version suffix/);
    assert.throws(() => parseEventType('dev.herald.orders.order-placed.v0'), /has no version suffix/);
  });

  void it('names a version by a registry URI', () => {
    const uri = schemaUri('dev.herald.orders.order-placed', 2);
    assert.equal(uri, 'herald:schemas/dev.herald.orders.order-placed/versions/2');
    assert.deepEqual(parseSchemaUri(uri), { subject: 'dev.herald.orders.order-placed', version: 2 });
    assert.equal(parseSchemaUri('https://example.com/schema.json'), undefined);
  });
});

void describe('JSON Schemas of definitions', () => {
  void it('derives the draft-07 schema of what a definition writes, without $schema', () => {
    const Thing = defineEvent({
      type: 'dev.herald.test.thing-happened.v1',
      schema: z.object({ id: z.string(), note: z.string().optional() }),
    });
    assert.deepEqual(jsonSchemaOf(Thing), {
      type: 'object',
      properties: { id: { type: 'string' }, note: { type: 'string' } },
      required: ['id'],
      additionalProperties: false,
    });
  });

  void it('says why a schema cannot be derived', () => {
    const Transformed = defineEvent({
      type: 'dev.herald.test.thing-happened.v1',
      schema: z.object({ at: z.string().transform((s) => new Date(s)) }),
    });
    assert.throws(
      () => jsonSchemaOf(Transformed),
      /cannot derive a JSON Schema for .*: Transforms cannot be represented/,
    );
    const opaque: StandardSchemaV1<unknown, unknown> = {
      '~standard': { version: 1, vendor: 'handmade', validate: (value) => ({ value }) },
    };
    const Opaque = defineEvent({ type: 'dev.herald.test.thing-happened.v1', schema: opaque });
    assert.throws(() => jsonSchemaOf(Opaque), /\(handmade\) does not implement Standard JSON Schema/);
  });

  void it('fingerprints schemas whatever the order of their keys', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
    assert.equal(
      schemaFingerprint({ type: 'string', maxLength: 3 }),
      schemaFingerprint({ maxLength: 3, type: 'string' }),
    );
    assert.notEqual(schemaFingerprint({ type: 'string' }), schemaFingerprint({ type: 'number' }));
  });
});
