import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineEvent, isHeraldError } from '@herald/core';
import type { AppendResult, CloudEvent, EventLog } from '@herald/core';
import { createMemoryBroker, openMemoryLog } from '@herald/core/memory';
import { SCHEMA_REGISTRY_TOPIC, openSchemaRegistry } from '../src/schema-registry.ts';
import { jsonSchemaOf, schemaFingerprint } from '../src/json-schema.ts';
import type { JsonSchema } from '../src/json-schema.ts';
import {
  PARCEL_SUBJECT,
  ParcelShippedV1,
  ParcelShippedV2,
  ParcelShippedV3,
} from './fixtures/parcel-events.ts';

/** A version 2 of the parcel event other than the fixture's. */
const OtherParcelV2 = defineEvent({
  type: `${PARCEL_SUBJECT}.v2`,
  schema: z.object({ parcelId: z.string(), weightGrams: z.int().min(0), insured: z.boolean().optional() }),
});

function conflict(error: unknown, pattern: RegExp): boolean {
  assert.ok(isHeraldError(error, 'CONFLICT'), `expected CONFLICT, got ${String(error)}`);
  assert.match(error.message, pattern);
  return true;
}

void describe('the schema registry kept in the log', () => {
  void it('registers versions in the herald.schemas topic and reads them back on open', async () => {
    const broker = createMemoryBroker();
    await using log = await openMemoryLog({ broker });
    const registry = await openSchemaRegistry({ log });
    const first = await registry.register(ParcelShippedV1);
    assert.equal(first.status, 'registered');
    assert.deepEqual(
      [first.schema.subject, first.schema.version, first.schema.type, first.compatibility],
      [PARCEL_SUBJECT, 1, ParcelShippedV1.type, 'BACKWARD'],
    );
    assert.equal(first.schema.uri, `herald:schemas/${PARCEL_SUBJECT}/versions/1`);
    assert.equal(first.schema.fingerprint, schemaFingerprint(jsonSchemaOf(ParcelShippedV1)));
    assert.equal((await registry.register(ParcelShippedV2)).status, 'registered');

    const topic = await log.describeTopic(SCHEMA_REGISTRY_TOPIC);
    assert.equal(topic.partitions, 1);
    assert.equal(topic.partitionInfo[0]!.latest, 2);

    await using other = await openMemoryLog({ broker });
    const reopened = await openSchemaRegistry({ log: other });
    assert.deepEqual(
      reopened.subjects().map((s) => [s.subject, s.compatibility, s.versions.map((v) => v.version)]),
      [[PARCEL_SUBJECT, 'BACKWARD', [1, 2]]],
    );
    assert.deepEqual(reopened.lookup(ParcelShippedV2.type)?.schema, jsonSchemaOf(ParcelShippedV2));
    assert.equal(reopened.lookup(`${PARCEL_SUBJECT}.v9`), undefined);
  });

  void it('refuses a breaking version with an explanation of each incompatibility, and writes nothing', async () => {
    await using log = await openMemoryLog();
    const registry = await openSchemaRegistry({ log });
    await registry.register(ParcelShippedV1);
    await registry.register(ParcelShippedV2);
    await assert.rejects(
      registry.register(ParcelShippedV3),
      (error: unknown) =>
        conflict(error, /^dev\.herald\.test\.parcel-shipped\.v3 is not BACKWARD compatible/) &&
        conflict(
          error,
          /#\/properties\/weightGrams: property "weightGrams" removed.*\[PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL\]/,
        ) &&
        conflict(
          error,
          /#\/properties\/weight: required property "weight" added without a default.*\[REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL\]/,
        ) &&
        conflict(
          error,
          /#\/required\/carrier: property "carrier" became required without a default.*\[REQUIRED_ATTRIBUTE_ADDED\]/,
        ),
    );
    const check = await registry.check(ParcelShippedV3);
    assert.equal(check.status, 'incompatible');
    assert.deepEqual(
      check.incompatibilities
        .flatMap((p) => p.differences.map((d) => `${p.direction} v${p.version} ${d.path}`))
        .sort(),
      [
        'backward v2 #/properties/weight',
        'backward v2 #/properties/weightGrams',
        'backward v2 #/required/carrier',
      ],
    );
    assert.equal((await log.describeTopic(SCHEMA_REGISTRY_TOPIC)).partitionInfo[0]!.latest, 2);
  });

  void it('registers a breaking version once the subject is NONE, and keeps each subject its own mode', async () => {
    await using log = await openMemoryLog();
    const registry = await openSchemaRegistry({ log });
    await registry.register(ParcelShippedV1);
    await registry.register(ParcelShippedV2);
    await registry.setCompatibility(PARCEL_SUBJECT, 'NONE');
    assert.equal((await registry.register(ParcelShippedV3)).status, 'registered');
    assert.equal(registry.subject(PARCEL_SUBJECT)?.compatibility, 'NONE');
    assert.equal(registry.subject(PARCEL_SUBJECT)?.compatibilityConfigured, true);
  });

  void it('checks a registration under the mode it sets, and keeps that mode', async () => {
    await using log = await openMemoryLog();
    const registry = await openSchemaRegistry({ log });
    await registry.register(ParcelShippedV1, { compatibility: 'FULL' });
    assert.equal(registry.subject(PARCEL_SUBJECT)?.compatibility, 'FULL');
    // Adding an optional field to a closed model is BACKWARD, not FORWARD compatible.
    await assert.rejects(registry.register(ParcelShippedV2), (e: unknown) =>
      conflict(e, /FULL: v1 cannot read data written as v2: #\/properties\/carrier/),
    );
    const result = await registry.register(ParcelShippedV2, { compatibility: 'BACKWARD_TRANSITIVE' });
    assert.deepEqual([result.status, result.compatibility], ['registered', 'BACKWARD_TRANSITIVE']);
  });

  void it('answers unchanged for a registered schema, and refuses to change a registered version or go back', async () => {
    await using log = await openMemoryLog();
    const registry = await openSchemaRegistry({ log });
    await registry.register(ParcelShippedV1);
    await registry.register(ParcelShippedV2);
    const again = await registry.register(ParcelShippedV2);
    assert.deepEqual([again.status, again.schema.version], ['unchanged', 2]);
    await assert.rejects(registry.register(OtherParcelV2), (e: unknown) =>
      conflict(
        e,
        /registered already with another schema.*a registered version never changes: define dev\.herald\.test\.parcel-shipped\.v3/,
      ),
    );
    await registry.setCompatibility(PARCEL_SUBJECT, 'NONE');
    await registry.register(ParcelShippedV3);
    // An old version registered again, as a deploy of every definition does, stays unchanged.
    const old = await registry.register({
      type: ParcelShippedV1.type,
      jsonSchema: jsonSchemaOf(ParcelShippedV1),
    });
    assert.deepEqual([old.status, old.schema.version], ['unchanged', 1]);
  });

  void it('refuses to register a version below the latest one', async () => {
    await using log = await openMemoryLog();
    const registry = await openSchemaRegistry({ log });
    await registry.register({ type: `${PARCEL_SUBJECT}.v3`, jsonSchema: jsonSchemaOf(ParcelShippedV3) });
    await assert.rejects(registry.register(ParcelShippedV2), (e: unknown) => {
      assert.ok(isHeraldError(e, 'INVALID_ARGUMENT'));
      assert.match(e.message, /is at version 3 already; versions are registered in increasing order/);
      return true;
    });
  });

  void it('checks transitive modes against every registered version', async () => {
    await using log = await openMemoryLog();
    const registry = await openSchemaRegistry({ log });
    const v = (n: number, schema: JsonSchema) => ({ type: `${PARCEL_SUBJECT}.v${n}`, jsonSchema: schema });
    const closed = (properties: Record<string, JsonSchema>, required: string[]): JsonSchema => ({
      type: 'object',
      properties,
      required,
      additionalProperties: false,
    });
    await registry.register(v(1, closed({ a: { type: 'string' } }, ['a'])), {
      compatibility: 'BACKWARD_TRANSITIVE',
    });
    await registry.register(
      v(2, closed({ a: { type: 'string' }, b: { type: 'string', default: 'z' } }, ['a', 'b'])),
    );
    await assert.rejects(
      registry.register(v(3, closed({ a: { type: 'string' }, b: { type: 'string' } }, ['a', 'b']))),
      (e: unknown) => conflict(e, /BACKWARD_TRANSITIVE: v3 cannot read data written as v1: #\/properties\/b/),
    );
  });

  void it('resolves concurrent registrations by offset order: the loser re-checks against the winner', async () => {
    const broker = createMemoryBroker();
    await using winnerLog = await openMemoryLog({ broker });
    await using loserLog = await openMemoryLog({ broker });
    const winner = await openSchemaRegistry({ log: winnerLog });
    await winner.register(ParcelShippedV1);
    // The loser checks against v1; before its append lands, the winner registers its own v2.
    let raced = false;
    const racing = beforeFirstAppend(loserLog, async () => {
      raced = true;
      await winner.register(ParcelShippedV2);
    });
    const loser = await openSchemaRegistry({ log: racing });
    await assert.rejects(loser.register(OtherParcelV2), (e: unknown) =>
      conflict(e, /registered already with another schema/),
    );
    assert.equal(raced, true);
    const v2 = loser.lookup(ParcelShippedV2.type);
    assert.equal(v2?.fingerprint, schemaFingerprint(jsonSchemaOf(ParcelShippedV2)));
    // Its stale record is in the log, and every reader ignores it.
    assert.equal((await loserLog.describeTopic(SCHEMA_REGISTRY_TOPIC)).partitionInfo[0]!.latest, 3);
    const fresh = await openSchemaRegistry({ log: await openMemoryLog({ broker }) });
    assert.equal(fresh.lookup(ParcelShippedV2.type)?.fingerprint, v2?.fingerprint);
  });

  void it('retries a registration that lost a race and registers it against the new latest version', async () => {
    const broker = createMemoryBroker();
    await using winnerLog = await openMemoryLog({ broker });
    await using loserLog = await openMemoryLog({ broker });
    const winner = await openSchemaRegistry({ log: winnerLog });
    await winner.register(ParcelShippedV1);
    await winner.setCompatibility(PARCEL_SUBJECT, 'NONE');
    const racing = beforeFirstAppend(loserLog, async () => {
      await winner.register(ParcelShippedV2);
    });
    const loser = await openSchemaRegistry({ log: racing });
    const result = await loser.register(ParcelShippedV3);
    assert.equal(result.status, 'registered');
    assert.deepEqual(
      loser.subject(PARCEL_SUBJECT)?.versions.map((v) => [v.version, v.offset]),
      [
        [1, 0],
        [2, 2],
        [3, 4],
      ],
    );
  });

  void it('skips records it cannot decode instead of failing to open', async () => {
    await using log = await openMemoryLog();
    await log.createTopic(SCHEMA_REGISTRY_TOPIC, { partitions: 1 });
    await log.append(SCHEMA_REGISTRY_TOPIC, {
      specversion: '1.0',
      id: 'garbage',
      source: '/elsewhere',
      type: 'dev.herald.schemas.schema-registered.v1',
      data: new TextEncoder().encode('{"subject":'),
    });
    const registry = await openSchemaRegistry({ log });
    assert.deepEqual(registry.subjects(), []);
    assert.equal((await registry.register(ParcelShippedV1)).status, 'registered');
  });

  void it('refuses a registry topic that deletes old records', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('schemas.expiring', { partitions: 1, retention: { ms: 604_800_000 } });
    await assert.rejects(
      openSchemaRegistry({ log, topic: 'schemas.expiring' }),
      /deletes old records \(retention ms=604800000\); it must keep them forever/,
    );
  });

  void it('refuses a registry topic with more than one partition', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('schemas.sharded', { partitions: 3 });
    await assert.rejects(openSchemaRegistry({ log, topic: 'schemas.sharded' }), /needs exactly 1/);
  });
});

/** `log` running `first` once before its first append lands; every other member is the log's own. */
function beforeFirstAppend(log: EventLog, first: () => Promise<void>): EventLog {
  let ran = false;
  return new Proxy(log, {
    get(target, property) {
      if (property === 'append') {
        return async (topic: string, event: CloudEvent): Promise<AppendResult> => {
          if (!ran) {
            ran = true;
            await first();
          }
          return target.append(topic, event);
        };
      }
      // Bound to the log itself, so its private fields work.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
