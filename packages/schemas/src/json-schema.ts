import { createHash } from 'node:crypto';
import type { StandardJSONSchemaV1 } from '@standard-schema/spec';
import { HeraldError } from '@herald/core';
import type { EventDefinition } from '@herald/core';

/** A JSON Schema document: an object, or `true`/`false`. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/**
 * The JSON Schema dialect Herald derives and registers. Draft-07 is what AsyncAPI 3.0 payloads
 * use by default, so one derived schema serves the registry, the compatibility checks and the
 * AsyncAPI document. The checker also reads 2019-09/2020-12 keywords (`prefixItems`,
 * `dependentRequired`, `$defs`) in schemas registered by hand.
 */
export const JSON_SCHEMA_TARGET = 'draft-07';

const derived = new WeakMap<EventDefinition, JsonSchema>();

/**
 * The JSON Schema of the data an event definition writes (its schema's *output*: what
 * `encode` puts in the log). A zod `z.object` derives a closed content model
 * (`additionalProperties: false`), which is accurate for what Herald writes — producers strip
 * unknown keys — and lets adding an optional field be a BACKWARD-compatible change.
 *
 * Works with any schema implementing Standard JSON Schema (zod ≥ 4.2, and others). Throws
 * `UNSUPPORTED` when the schema cannot be expressed (no Standard JSON Schema support, or
 * transforms and dates that JSON Schema cannot describe).
 */
export function jsonSchemaOf(definition: EventDefinition): JsonSchema {
  const cached = derived.get(definition);
  if (cached !== undefined) return cached;
  const standard = (definition.schema as unknown as Partial<StandardJSONSchemaV1>)['~standard'];
  const converter = standard?.jsonSchema;
  if (converter === undefined) {
    throw new HeraldError(
      'UNSUPPORTED',
      `cannot derive a JSON Schema for ${definition.type}: its schema (${standard?.vendor ?? 'unknown'}) does not implement Standard JSON Schema`,
      { details: { type: definition.type } },
    );
  }
  let schema: Record<string, unknown>;
  try {
    schema = converter.output({ target: JSON_SCHEMA_TARGET });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new HeraldError('UNSUPPORTED', `cannot derive a JSON Schema for ${definition.type}: ${why}`, {
      cause,
      details: { type: definition.type },
    });
  }
  const { $schema: _dialect, ...rest } = schema;
  derived.set(definition, rest);
  return rest;
}

/**
 * JSON with object keys sorted at every level, so equal schemas have equal text whatever the
 * order their keys were written in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** SHA-256 of the canonical JSON of a schema: equal fingerprints mean the same schema. */
export function schemaFingerprint(schema: JsonSchema): string {
  return createHash('sha256').update(canonicalJson(schema)).digest('hex');
}
