import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineEvent } from '@herald/core';
import {
  COMPATIBILITY_MODES,
  checkCompatibility,
  describeIncompatibilities,
  parseCompatibilityMode,
} from '../src/check-compatibility.ts';
import type { CompatibilityMode } from '../src/check-compatibility.ts';
import { jsonSchemaOf } from '../src/json-schema.ts';
import type { JsonSchema } from '../src/json-schema.ts';
import type { DifferenceKind } from '../src/schema-diff.ts';

// The compatibility matrix: one schema change per row (v1 → v2), with the verdict expected in
// each mode, as Confluent Schema Registry decides it for JSON Schema. BACKWARD: v2 reads v1
// data; FORWARD: v1 reads v2 data; FULL: both; NONE: always. `because` names the difference
// that must explain a refusal (in whichever direction fails first).

type Verdict = { readonly BACKWARD: boolean; readonly FORWARD: boolean; readonly FULL: boolean };
interface Case {
  readonly name: string;
  readonly v1: JsonSchema;
  readonly v2: JsonSchema;
  readonly expect: Verdict;
  readonly because?: DifferenceKind;
}

const ok: Verdict = { BACKWARD: true, FORWARD: true, FULL: true };
const backwardOnly: Verdict = { BACKWARD: true, FORWARD: false, FULL: false };
const forwardOnly: Verdict = { BACKWARD: false, FORWARD: true, FULL: false };
const neither: Verdict = { BACKWARD: false, FORWARD: false, FULL: false };

/** An object schema: closed unless `additionalProperties` says otherwise. */
function object(
  properties: Record<string, JsonSchema>,
  required: readonly string[] = Object.keys(properties),
  extra: Record<string, unknown> = { additionalProperties: false },
): JsonSchema {
  return { type: 'object', properties, required, ...extra };
}
const open = {};
const str: JsonSchema = { type: 'string' };
const num: JsonSchema = { type: 'number' };
const int: JsonSchema = { type: 'integer' };

const fromZod = (schema: z.ZodType): JsonSchema =>
  jsonSchemaOf(defineEvent({ type: 'dev.herald.test.thing-happened.v1', schema }));

const CASES: readonly Case[] = [
  { name: 'the same schema', v1: object({ id: str }), v2: object({ id: str }), expect: ok },

  // Closed content model (additionalProperties: false) — what zod's z.object derives.
  {
    name: 'closed: adding an optional field',
    v1: object({ id: str }),
    v2: object({ id: str, note: str }, ['id']),
    expect: backwardOnly,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    name: 'closed: adding a required field without a default',
    v1: object({ id: str }),
    v2: object({ id: str, currency: str }),
    expect: neither,
    because: 'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
  },
  {
    name: 'closed: adding a required field with a default',
    v1: object({ id: str }),
    v2: object({ id: str, currency: { type: 'string', default: 'EUR' } }),
    expect: backwardOnly,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    name: 'closed: removing an optional field',
    v1: object({ id: str, note: str }, ['id']),
    v2: object({ id: str }),
    expect: forwardOnly,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    name: 'closed: removing a required field',
    v1: object({ id: str, total: num }),
    v2: object({ id: str }),
    expect: neither,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    name: 'closed: removing a field that was never allowed (false)',
    v1: object({ id: str, legacy: false }, ['id']),
    v2: object({ id: str }),
    expect: ok,
  },

  // Open content model (no additionalProperties).
  {
    name: 'open: adding an optional typed field',
    v1: object({ id: str }, ['id'], open),
    v2: object({ id: str, note: str }, ['id'], open),
    expect: forwardOnly,
    because: 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
  },
  {
    name: 'open: adding a field with an empty schema',
    v1: object({ id: str }, ['id'], open),
    v2: object({ id: str, extra: {} }, ['id'], open),
    expect: ok,
  },
  {
    name: 'open: removing an optional field',
    v1: object({ id: str, note: str }, ['id'], open),
    v2: object({ id: str }, ['id'], open),
    expect: backwardOnly,
    because: 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
  },
  {
    name: 'open: removing a required field',
    v1: object({ id: str, total: num }, ['id', 'total'], open),
    v2: object({ id: str }, ['id'], open),
    expect: backwardOnly,
    because: 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
  },
  {
    name: 'closing an open content model',
    v1: object({ id: str }, ['id'], open),
    v2: object({ id: str }),
    expect: forwardOnly,
    because: 'ADDITIONAL_PROPERTIES_REMOVED',
  },
  {
    name: 'opening a closed content model',
    v1: object({ id: str }),
    v2: object({ id: str }, ['id'], open),
    expect: backwardOnly,
    because: 'ADDITIONAL_PROPERTIES_REMOVED',
  },
  {
    name: 'additionalProperties true and {} are the same open model',
    v1: object({ id: str }, ['id'], { additionalProperties: true }),
    v2: object({ id: str }, ['id'], { additionalProperties: {} }),
    expect: ok,
  },

  // Partially open content models.
  {
    name: 'partially open: adding a field its additional schema covers',
    v1: object({ id: str }, ['id'], { additionalProperties: str }),
    v2: object({ id: str, note: str }, ['id'], { additionalProperties: str }),
    expect: ok,
  },
  {
    name: 'partially open: adding a field its additional schema does not cover',
    v1: object({ id: str }, ['id'], { additionalProperties: str }),
    v2: object({ id: str, count: num }, ['id'], { additionalProperties: str }),
    expect: neither,
    because: 'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  },
  {
    name: 'partially open: adding a field a patternProperty covers',
    v1: object({ id: str }, ['id'], { additionalProperties: false, patternProperties: { '^x-': str } }),
    v2: object({ id: str, 'x-trace': str }, ['id'], {
      additionalProperties: false,
      patternProperties: { '^x-': str },
    }),
    expect: ok,
  },
  {
    name: 'narrowing additional properties from anything to a schema',
    v1: object({ id: str }, ['id'], open),
    v2: object({ id: str }, ['id'], { additionalProperties: str }),
    expect: forwardOnly,
    because: 'ADDITIONAL_PROPERTIES_NARROWED',
  },

  // Required.
  {
    name: 'a required field becoming optional',
    v1: object({ id: str, note: str }),
    v2: object({ id: str, note: str }, ['id']),
    expect: backwardOnly,
    because: 'REQUIRED_ATTRIBUTE_ADDED',
  },
  {
    name: 'an optional field becoming required without a default',
    v1: object({ id: str, note: str }, ['id']),
    v2: object({ id: str, note: str }),
    expect: forwardOnly,
    because: 'REQUIRED_ATTRIBUTE_ADDED',
  },
  {
    name: 'an optional field becoming required with a default',
    v1: object({ id: str, note: { type: 'string', default: '' } }, ['id']),
    v2: object({ id: str, note: { type: 'string', default: '' } }),
    expect: ok,
  },

  // Types.
  { name: 'changing a type (string → number)', v1: str, v2: num, expect: neither, because: 'TYPE_CHANGED' },
  { name: 'widening integer to number', v1: int, v2: num, expect: backwardOnly, because: 'TYPE_NARROWED' },
  { name: 'narrowing number to integer', v1: num, v2: int, expect: forwardOnly, because: 'TYPE_NARROWED' },
  {
    name: 'making a field nullable (string → [string, null])',
    v1: str,
    v2: { type: ['string', 'null'] },
    expect: backwardOnly,
    because: 'TYPE_CHANGED',
  },
  {
    name: 'making a nullable field non-null',
    v1: { type: ['string', 'null'] },
    v2: str,
    expect: forwardOnly,
    because: 'TYPE_CHANGED',
  },
  {
    name: 'accepting anything (object → true)',
    v1: object({ id: str }),
    v2: true,
    expect: backwardOnly,
    because: 'TYPE_CHANGED',
  },

  // Enums and constants.
  {
    name: 'extending an enum',
    v1: { type: 'string', enum: ['EUR', 'USD'] },
    v2: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
    expect: backwardOnly,
    because: 'ENUM_ARRAY_NARROWED',
  },
  {
    name: 'narrowing an enum',
    v1: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
    v2: { type: 'string', enum: ['EUR', 'USD'] },
    expect: forwardOnly,
    because: 'ENUM_ARRAY_NARROWED',
  },
  {
    name: 'replacing an enum value',
    v1: { enum: ['pending', 'done'] },
    v2: { enum: ['pending', 'completed'] },
    expect: neither,
    because: 'ENUM_ARRAY_CHANGED',
  },
  {
    name: 'turning a free string into an enum',
    v1: str,
    v2: { type: 'string', enum: ['EUR', 'USD'] },
    expect: neither,
    because: 'TYPE_CHANGED',
  },
  {
    name: 'widening a const into an enum that contains it',
    v1: { const: 'EUR' },
    v2: { enum: ['EUR', 'USD'] },
    expect: backwardOnly,
    because: 'ENUM_ARRAY_NARROWED',
  },

  // String constraints.
  {
    name: 'adding a maxLength',
    v1: str,
    v2: { type: 'string', maxLength: 10 },
    expect: forwardOnly,
    because: 'MAX_LENGTH_ADDED',
  },
  {
    name: 'increasing a maxLength',
    v1: { type: 'string', maxLength: 10 },
    v2: { type: 'string', maxLength: 20 },
    expect: backwardOnly,
    because: 'MAX_LENGTH_DECREASED',
  },
  {
    name: 'increasing a minLength',
    v1: { type: 'string', minLength: 1 },
    v2: { type: 'string', minLength: 3 },
    expect: forwardOnly,
    because: 'MIN_LENGTH_INCREASED',
  },
  {
    name: 'adding a pattern',
    v1: str,
    v2: { type: 'string', pattern: '^[A-Z]{3}$' },
    expect: forwardOnly,
    because: 'PATTERN_ADDED',
  },
  {
    name: 'changing a pattern',
    v1: { type: 'string', pattern: '^o-' },
    v2: { type: 'string', pattern: '^order-' },
    expect: neither,
    because: 'PATTERN_CHANGED',
  },

  // Numeric constraints.
  {
    name: 'decreasing a maximum',
    v1: { type: 'integer', maximum: 100 },
    v2: { type: 'integer', maximum: 50 },
    expect: forwardOnly,
    because: 'MAXIMUM_DECREASED',
  },
  {
    name: 'removing a minimum',
    v1: { type: 'integer', minimum: 0 },
    v2: int,
    expect: backwardOnly,
    because: 'MINIMUM_ADDED',
  },
  {
    name: 'raising an exclusiveMinimum',
    v1: { type: 'number', exclusiveMinimum: 0 },
    v2: { type: 'number', exclusiveMinimum: 1 },
    expect: forwardOnly,
    because: 'EXCLUSIVE_MINIMUM_INCREASED',
  },
  {
    name: 'multipleOf 2 → 4 (fewer values)',
    v1: { type: 'integer', multipleOf: 2 },
    v2: { type: 'integer', multipleOf: 4 },
    expect: forwardOnly,
    because: 'MULTIPLE_OF_EXPANDED',
  },
  {
    name: 'multipleOf 2 → 3 (unrelated)',
    v1: { type: 'integer', multipleOf: 2 },
    v2: { type: 'integer', multipleOf: 3 },
    expect: neither,
    because: 'MULTIPLE_OF_CHANGED',
  },

  // Arrays.
  {
    name: 'changing the item type of an array',
    v1: { type: 'array', items: str },
    v2: { type: 'array', items: num },
    expect: neither,
    because: 'TYPE_CHANGED',
  },
  {
    name: 'widening the item type of an array (integer → number)',
    v1: { type: 'array', items: int },
    v2: { type: 'array', items: num },
    expect: backwardOnly,
    because: 'TYPE_NARROWED',
  },
  {
    name: 'adding minItems',
    v1: { type: 'array', items: str },
    v2: { type: 'array', items: str, minItems: 1 },
    expect: forwardOnly,
    because: 'MIN_ITEMS_ADDED',
  },
  {
    name: 'adding uniqueItems',
    v1: { type: 'array', items: str },
    v2: { type: 'array', items: str, uniqueItems: true },
    expect: forwardOnly,
    because: 'UNIQUE_ITEMS_ADDED',
  },
  {
    name: 'closed tuple: adding an item',
    v1: { type: 'array', items: [str], additionalItems: false },
    v2: { type: 'array', items: [str, num], additionalItems: false },
    expect: backwardOnly,
    because: 'ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    name: 'open tuple (2020-12 prefixItems): removing an item',
    v1: { type: 'array', prefixItems: [str, num] },
    v2: { type: 'array', prefixItems: [str] },
    expect: backwardOnly,
    because: 'ITEM_ADDED_TO_OPEN_CONTENT_MODEL',
  },

  // Nested objects.
  {
    name: 'nested closed object: adding an optional field',
    v1: object({ id: str, address: object({ city: str }) }),
    v2: object({ id: str, address: object({ city: str, zip: str }, ['city']) }),
    expect: backwardOnly,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    name: 'nested object: changing the type of a field',
    v1: object({ lines: { type: 'array', items: object({ sku: str, quantity: int }) } }),
    v2: object({ lines: { type: 'array', items: object({ sku: str, quantity: str }) } }),
    expect: neither,
    because: 'TYPE_CHANGED',
  },

  // Combined schemas.
  {
    name: 'anyOf gaining an alternative',
    v1: { anyOf: [str, num] },
    v2: { anyOf: [str, num, { type: 'boolean' }] },
    expect: backwardOnly,
    because: 'SUM_TYPE_NARROWED',
  },
  {
    name: 'oneOf becoming anyOf',
    v1: { oneOf: [str, num] },
    v2: { anyOf: [str, num] },
    expect: backwardOnly,
    because: 'COMBINED_TYPE_CHANGED',
  },
  {
    name: 'allOf losing a schema to satisfy',
    v1: { allOf: [object({ id: str }, ['id'], open), object({ total: num }, ['total'], open)] },
    v2: { allOf: [object({ id: str }, ['id'], open)] },
    expect: backwardOnly,
    because: 'PRODUCT_TYPE_EXTENDED',
  },
  {
    name: 'not forbidding less',
    v1: { not: { type: 'string', maxLength: 5 } },
    v2: { not: { type: 'string', maxLength: 3 } },
    expect: backwardOnly,
    because: 'NOT_TYPE_EXTENDED',
  },

  // Object constraints and dependencies.
  {
    name: 'adding maxProperties',
    v1: object({ id: str }, ['id'], open),
    v2: object({ id: str }, ['id'], { maxProperties: 3 }),
    expect: forwardOnly,
    because: 'MAX_PROPERTIES_ADDED',
  },
  {
    name: 'adding a property dependency',
    v1: object({ card: str, cvc: str }, []),
    v2: object({ card: str, cvc: str }, [], {
      additionalProperties: false,
      dependentRequired: { card: ['cvc'] },
    }),
    expect: forwardOnly,
    because: 'DEPENDENCY_ARRAY_ADDED',
  },

  // Metadata and references.
  {
    name: 'changing title, description and default only',
    v1: { type: 'string', title: 'Id', description: 'old', default: 'a' },
    v2: { type: 'string', title: 'Order id', description: 'new', default: 'b' },
    expect: ok,
  },
  {
    name: 'moving a schema behind a $ref',
    v1: object({ address: object({ city: str }) }),
    v2: {
      definitions: { address: object({ city: str }) },
      ...(object({ address: { $ref: '#/definitions/address' } }) as object),
    },
    expect: ok,
  },
  {
    name: 'recursive schema: adding an optional field at every level',
    v1: object({ name: str, children: { type: 'array', items: { $ref: '#' } } }),
    v2: object({ name: str, note: str, children: { type: 'array', items: { $ref: '#' } } }, [
      'name',
      'children',
    ]),
    expect: backwardOnly,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },

  // Derived from zod definitions, as Herald registers them.
  {
    name: 'zod: z.object gaining an .optional() field',
    v1: fromZod(z.object({ orderId: z.string() })),
    v2: fromZod(z.object({ orderId: z.string(), note: z.string().optional() })),
    expect: backwardOnly,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    name: 'zod: z.object gaining a field with .default()',
    v1: fromZod(z.object({ orderId: z.string() })),
    v2: fromZod(z.object({ orderId: z.string(), currency: z.string().default('EUR') })),
    expect: backwardOnly,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    name: 'zod: z.looseObject gaining an optional field',
    v1: fromZod(z.looseObject({ orderId: z.string() })),
    v2: fromZod(z.looseObject({ orderId: z.string(), note: z.string().optional() })),
    expect: forwardOnly,
    because: 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
  },
  {
    name: 'zod: a field becoming .nullable()',
    v1: fromZod(z.object({ note: z.string() })),
    v2: fromZod(z.object({ note: z.string().nullable() })),
    expect: backwardOnly,
    because: 'TYPE_CHANGED',
  },
  {
    name: 'zod: z.enum gaining a value',
    v1: fromZod(z.object({ currency: z.enum(['EUR', 'USD']) })),
    v2: fromZod(z.object({ currency: z.enum(['EUR', 'USD', 'GBP']) })),
    expect: backwardOnly,
    because: 'ENUM_ARRAY_NARROWED',
  },
  {
    name: 'zod: renaming a field',
    v1: fromZod(z.object({ total: z.number().int() })),
    v2: fromZod(z.object({ totalMinor: z.number().int() })),
    expect: neither,
    because: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
];

const SINGLE_MODES = ['BACKWARD', 'FORWARD', 'FULL'] as const;

void describe('the compatibility matrix (v1 → v2, per mode)', () => {
  void it('has at least 40 schema changes', () => {
    assert.ok(CASES.length >= 40, `${CASES.length} cases`);
    assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length, 'case names are unique');
  });

  for (const c of CASES) {
    void it(`${c.name}: ${SINGLE_MODES.map((m) => `${m} ${c.expect[m] ? 'yes' : 'no'}`).join(', ')}, NONE yes`, () => {
      const previous = [{ version: 1, schema: c.v1 }];
      const proposed = { version: 2, schema: c.v2 };
      for (const mode of SINGLE_MODES) {
        const problems = checkCompatibility(mode, proposed, previous);
        assert.equal(
          problems.length === 0,
          c.expect[mode],
          `${mode}: expected ${c.expect[mode] ? 'compatible' : 'incompatible'}, got:\n${describeIncompatibilities(mode, 2, problems) || '(no problems)'}`,
        );
        // With a single previous version, the transitive form decides the same.
        const transitive = checkCompatibility(`${mode}_TRANSITIVE` as CompatibilityMode, proposed, previous);
        assert.equal(transitive.length === 0, c.expect[mode], `${mode}_TRANSITIVE`);
      }
      assert.deepEqual(checkCompatibility('NONE', proposed, previous), []);
      if (c.because !== undefined) {
        const kinds = checkCompatibility('FULL', proposed, previous).flatMap((p) =>
          p.differences.map((d) => d.kind),
        );
        assert.ok(kinds.includes(c.because), `expected ${c.because} among ${kinds.join(', ')}`);
      }
    });
  }
});

void describe('transitive modes', () => {
  const closed = (props: Record<string, JsonSchema>, required: string[]) => object(props, required);
  const b = (extra: Record<string, unknown> = {}): JsonSchema => ({ type: 'string', ...extra });

  void it('BACKWARD checks the latest version only; BACKWARD_TRANSITIVE every version', () => {
    // v2 adds a required field with a default; v3 drops the default: fine against v2, not against v1.
    const versions = [
      { version: 1, schema: closed({ a: str }, ['a']) },
      { version: 2, schema: closed({ a: str, b: b({ default: 'z' }) }, ['a', 'b']) },
    ];
    const v3 = { version: 3, schema: closed({ a: str, b: b() }, ['a', 'b']) };
    assert.deepEqual(checkCompatibility('BACKWARD', v3, versions), []);
    const problems = checkCompatibility('BACKWARD_TRANSITIVE', v3, versions);
    assert.deepEqual(
      problems.map((p) => [p.direction, p.version, p.differences.map((d) => d.kind)]),
      [['backward', 1, ['REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL']]],
    );
  });

  void it('FORWARD checks the latest version only; FORWARD_TRANSITIVE every version', () => {
    const versions = [
      { version: 1, schema: closed({ a: str, b: b() }, ['a', 'b']) },
      { version: 2, schema: closed({ a: str, b: b({ default: 'z' }) }, ['a', 'b']) },
    ];
    const v3 = { version: 3, schema: closed({ a: str }, ['a']) };
    assert.deepEqual(checkCompatibility('FORWARD', v3, versions), []);
    const problems = checkCompatibility('FORWARD_TRANSITIVE', v3, versions);
    assert.deepEqual(
      problems.map((p) => [p.direction, p.version]),
      [['forward', 1]],
    );
  });

  void it('FULL checks both ways against the latest; FULL_TRANSITIVE against every version', () => {
    const versions = [
      { version: 1, schema: closed({ a: str, b: b() }, ['a', 'b']) },
      { version: 2, schema: closed({ a: str, b: b({ default: 'z' }) }, ['a', 'b']) },
    ];
    const v3 = { version: 3, schema: closed({ a: str, b: b({ default: 'z' }) }, ['a']) };
    assert.deepEqual(checkCompatibility('FULL', v3, versions), []);
    const problems = checkCompatibility('FULL_TRANSITIVE', v3, versions);
    assert.deepEqual(
      problems.map((p) => [p.direction, p.version, p.differences.map((d) => d.kind)]),
      [['forward', 1, ['REQUIRED_ATTRIBUTE_ADDED']]],
    );
  });

  void it('ignores registered versions above the proposed one', () => {
    const versions = [{ version: 5, schema: str }];
    assert.deepEqual(checkCompatibility('FULL_TRANSITIVE', { version: 2, schema: num }, versions), []);
  });
});

void describe('describeIncompatibilities', () => {
  void it('explains each problem with its direction, path and kind', () => {
    const v1 = object({ id: str, total: int });
    const v2 = object({ id: str, total: str, currency: str });
    const text = describeIncompatibilities(
      'BACKWARD',
      2,
      checkCompatibility('BACKWARD', { version: 2, schema: v2 }, [{ version: 1, schema: v1 }]),
    );
    assert.match(
      text,
      /^BACKWARD: v2 cannot read data written as v1: #\/properties\/total: type changed from integer to string \[TYPE_CHANGED\]$/m,
    );
    assert.match(
      text,
      /^BACKWARD: v2 cannot read data written as v1: #\/properties\/currency: required property "currency" added without a default.*\[REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL\]$/m,
    );
  });

  void it('parses modes case-insensitively and refuses unknown ones', () => {
    assert.equal(parseCompatibilityMode('full_transitive'), 'FULL_TRANSITIVE');
    assert.throws(() => parseCompatibilityMode('SIDEWAYS'), /expected one of BACKWARD, BACKWARD_TRANSITIVE/);
    assert.equal(COMPATIBILITY_MODES.length, 7);
  });
});
