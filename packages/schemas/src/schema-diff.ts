import { HeraldError } from '@herald/core';
import { canonicalJson } from './json-schema.ts';
import type { JsonSchema } from './json-schema.ts';

/**
 * Schema-to-schema comparison with the meaning Confluent Schema Registry gives JSON Schema
 * compatibility: `diffSchemas(writer, reader)` lists how `reader` differs from `writer`, and the
 * reader can read everything the writer wrote when every difference is compatible. The rules are
 * structural, as Confluent's are — not a proof that one schema's instances are a subset of the
 * other's — and the difference kinds carry Confluent's names so its documentation applies:
 *
 * - Content models decide what adding or removing a property means. Open (no
 *   `additionalProperties`, or `true`/`{}`): removing a property is compatible (the reader lets
 *   it through as an additional property), adding one is not (the writer may have written
 *   anything under that name) unless its schema is empty. Closed (`additionalProperties: false`):
 *   adding an optional property, or a required one with a default, is compatible; removing one is
 *   not. Partially open (`additionalProperties: <schema>` or `patternProperties`): the added or
 *   removed property must be compatible with the schema that covers it.
 * - Narrowing is incompatible (a type, an enum, a range, a length, a pattern added or changed,
 *   `required` added without a default, a sum type losing alternatives); widening is compatible.
 * - `integer` → `number` widens, `number` → `integer` narrows; a schema becoming a union
 *   (`anyOf`/`oneOf`) that has an alternative reading it widens.
 * - Metadata (`title`, `description`, `default`, `$id`) never breaks anything.
 *
 * Where this checker goes further than Confluent's: `const` is a one-value `enum` (so
 * `const` → `enum` containing it widens); `additionalProperties: {}` and `true` are the same
 * open model; `type` next to `enum`/`const` is implied by the values. Local `$ref`s
 * (`#`, `#/definitions/…`, `#/$defs/…`) are followed, recursive schemas included; other
 * references are refused with `INVALID_ARGUMENT`.
 */
export interface SchemaDifference {
  readonly kind: DifferenceKind;
  /** Where in the schemas, as a JSON pointer (`#/properties/total`). */
  readonly path: string;
  readonly compatible: boolean;
  /** What changed and why it matters, for people. */
  readonly message: string;
}

const COMPATIBLE_KINDS = [
  'ID_CHANGED',
  'DESCRIPTION_CHANGED',
  'TITLE_CHANGED',
  'DEFAULT_CHANGED',
  'TYPE_EXTENDED',
  'MAX_LENGTH_INCREASED',
  'MAX_LENGTH_REMOVED',
  'MIN_LENGTH_DECREASED',
  'MIN_LENGTH_REMOVED',
  'PATTERN_REMOVED',
  'MAXIMUM_INCREASED',
  'MAXIMUM_REMOVED',
  'MINIMUM_DECREASED',
  'MINIMUM_REMOVED',
  'EXCLUSIVE_MAXIMUM_INCREASED',
  'EXCLUSIVE_MAXIMUM_REMOVED',
  'EXCLUSIVE_MINIMUM_DECREASED',
  'EXCLUSIVE_MINIMUM_REMOVED',
  'MULTIPLE_OF_REDUCED',
  'MULTIPLE_OF_REMOVED',
  'REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED',
  'REQUIRED_ATTRIBUTE_REMOVED',
  'DEPENDENCY_ARRAY_NARROWED',
  'DEPENDENCY_ARRAY_REMOVED',
  'DEPENDENCY_SCHEMA_REMOVED',
  'MAX_PROPERTIES_INCREASED',
  'MAX_PROPERTIES_REMOVED',
  'MIN_PROPERTIES_DECREASED',
  'MIN_PROPERTIES_REMOVED',
  'ADDITIONAL_PROPERTIES_ADDED',
  'ADDITIONAL_PROPERTIES_EXTENDED',
  'PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL',
  'REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL',
  'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
  'PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  'PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL',
  'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'MAX_ITEMS_INCREASED',
  'MAX_ITEMS_REMOVED',
  'MIN_ITEMS_DECREASED',
  'MIN_ITEMS_REMOVED',
  'UNIQUE_ITEMS_REMOVED',
  'ADDITIONAL_ITEMS_ADDED',
  'ADDITIONAL_ITEMS_EXTENDED',
  'ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL',
  'ITEM_ADDED_TO_CLOSED_CONTENT_MODEL',
  'ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  'ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL',
  'ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'ENUM_ARRAY_EXTENDED',
  'COMBINED_TYPE_EXTENDED',
  'PRODUCT_TYPE_NARROWED',
  'SUM_TYPE_EXTENDED',
  'NOT_TYPE_NARROWED',
] as const;

/** Listed to name them all in {@link DifferenceKind}; anything not compatible is incompatible. */
const _INCOMPATIBLE_KINDS = [
  'TYPE_CHANGED',
  'TYPE_NARROWED',
  'MAX_LENGTH_ADDED',
  'MAX_LENGTH_DECREASED',
  'MIN_LENGTH_ADDED',
  'MIN_LENGTH_INCREASED',
  'PATTERN_ADDED',
  'PATTERN_CHANGED',
  'MAXIMUM_ADDED',
  'MAXIMUM_DECREASED',
  'MINIMUM_ADDED',
  'MINIMUM_INCREASED',
  'EXCLUSIVE_MAXIMUM_ADDED',
  'EXCLUSIVE_MAXIMUM_DECREASED',
  'EXCLUSIVE_MINIMUM_ADDED',
  'EXCLUSIVE_MINIMUM_INCREASED',
  'MULTIPLE_OF_ADDED',
  'MULTIPLE_OF_EXPANDED',
  'MULTIPLE_OF_CHANGED',
  'REQUIRED_ATTRIBUTE_ADDED',
  'DEPENDENCY_ARRAY_ADDED',
  'DEPENDENCY_ARRAY_EXTENDED',
  'DEPENDENCY_ARRAY_CHANGED',
  'DEPENDENCY_SCHEMA_ADDED',
  'MAX_PROPERTIES_ADDED',
  'MAX_PROPERTIES_DECREASED',
  'MIN_PROPERTIES_ADDED',
  'MIN_PROPERTIES_INCREASED',
  'ADDITIONAL_PROPERTIES_REMOVED',
  'ADDITIONAL_PROPERTIES_NARROWED',
  'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
  'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
  'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'MAX_ITEMS_ADDED',
  'MAX_ITEMS_DECREASED',
  'MIN_ITEMS_ADDED',
  'MIN_ITEMS_INCREASED',
  'UNIQUE_ITEMS_ADDED',
  'ADDITIONAL_ITEMS_REMOVED',
  'ADDITIONAL_ITEMS_NARROWED',
  'ITEM_ADDED_TO_OPEN_CONTENT_MODEL',
  'ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  'ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'ENUM_ARRAY_NARROWED',
  'ENUM_ARRAY_CHANGED',
  'COMBINED_TYPE_CHANGED',
  'PRODUCT_TYPE_EXTENDED',
  'SUM_TYPE_NARROWED',
  'COMBINED_TYPE_SUBSCHEMAS_CHANGED',
  'NOT_TYPE_EXTENDED',
] as const;

/** A kind of schema change, named as Confluent Schema Registry names it. */
export type DifferenceKind = (typeof COMPATIBLE_KINDS)[number] | (typeof _INCOMPATIBLE_KINDS)[number];

const COMPATIBLE = new Set<DifferenceKind>(COMPATIBLE_KINDS);

/** True for the kinds of change a reader of the old data survives. */
export function isCompatibleChange(kind: DifferenceKind): boolean {
  return COMPATIBLE.has(kind);
}

/**
 * Lists how `reader` differs from `writer` (both JSON Schemas). The reader can read all data
 * valid under the writer, as far as the rules go, when every difference is `compatible`.
 *
 * @example
 * const differences = diffSchemas(v1, v2);
 * const breaking = differences.filter((d) => !d.compatible);
 */
export function diffSchemas(writer: JsonSchema, reader: JsonSchema): SchemaDifference[] {
  const context = new Context(writer, reader);
  compare(context, { raw: writer }, { raw: reader }, '#');
  return context.differences;
}

// --- Normalised schemas -----------------------------------------------------------------

/** A schema as written (resolved lazily, so recursive schemas stay finite) or already loaded. */
type SchemaRef = { readonly raw: unknown } | { readonly node: SchemaNode };

type Criterion = 'allOf' | 'anyOf' | 'oneOf';

/** `open`: anything; `closed`: nothing; otherwise the schema every extra member must match. */
type ContentModel = 'open' | 'closed' | SchemaRef;

interface Meta {
  readonly id?: unknown;
  readonly title?: unknown;
  readonly description?: unknown;
  readonly default?: unknown;
  readonly hasDefault: boolean;
}

type SchemaNode = { readonly meta: Meta; readonly identity: object | undefined } & (
  | { readonly kind: 'any' }
  | { readonly kind: 'none' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'null' }
  | {
      readonly kind: 'string';
      readonly minLength?: number;
      readonly maxLength?: number;
      readonly pattern?: string;
    }
  | {
      readonly kind: 'number';
      readonly integer: boolean;
      readonly minimum?: number;
      readonly maximum?: number;
      readonly exclusiveMinimum?: number;
      readonly exclusiveMaximum?: number;
      readonly multipleOf?: number;
    }
  | {
      readonly kind: 'object';
      readonly properties: ReadonlyMap<string, unknown>;
      readonly required: ReadonlySet<string>;
      readonly additional: ContentModel;
      readonly patternProperties: readonly (readonly [RegExp, unknown])[];
      readonly minProperties?: number;
      readonly maxProperties?: number;
      readonly dependentRequired: ReadonlyMap<string, readonly string[]>;
      readonly dependentSchemas: ReadonlyMap<string, unknown>;
    }
  | {
      readonly kind: 'array';
      /** The schema of every item (not a tuple). */
      readonly items: unknown;
      /** Tuple form: the schema of each position. */
      readonly prefixItems: readonly unknown[];
      /** Items past the tuple. */
      readonly additionalItems: ContentModel;
      readonly minItems?: number;
      readonly maxItems?: number;
      readonly uniqueItems: boolean;
    }
  | { readonly kind: 'enum'; readonly values: readonly unknown[] }
  | { readonly kind: 'combined'; readonly criterion: Criterion; readonly subschemas: readonly SchemaRef[] }
  | { readonly kind: 'not'; readonly schema: unknown }
);

type Side = 'writer' | 'reader';

class Context {
  readonly differences: SchemaDifference[] = [];
  readonly roots: Readonly<Record<Side, unknown>>;
  /** Pairs of schema objects being compared, so recursive schemas end (coinductively compatible). */
  readonly #visiting: Map<object, Set<object>>;

  constructor(writer: unknown, reader: unknown, visiting = new Map<object, Set<object>>()) {
    this.roots = { writer, reader };
    this.#visiting = visiting;
  }

  /** A context whose differences are collected apart, to try a comparison. */
  sub(): Context {
    return new Context(this.roots.writer, this.roots.reader, this.#visiting);
  }

  get compatible(): boolean {
    return this.differences.every((d) => d.compatible);
  }

  add(kind: DifferenceKind, path: string, message: string): void {
    this.differences.push({ kind, path, compatible: COMPATIBLE.has(kind), message });
  }

  addAll(differences: readonly SchemaDifference[]): void {
    this.differences.push(...differences);
  }

  /** Runs `fn` unless this pair is already being compared further up. */
  enter(writer: object | undefined, reader: object | undefined, fn: () => void): void {
    if (writer === undefined || reader === undefined) return fn();
    let readers = this.#visiting.get(writer);
    if (readers?.has(reader) === true) return;
    if (readers === undefined) this.#visiting.set(writer, (readers = new Set()));
    readers.add(reader);
    try {
      fn();
    } finally {
      readers.delete(reader);
    }
  }
}

const EMPTY_META: Meta = { hasDefault: false };

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function resolvePointer(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) {
    throw new HeraldError('INVALID_ARGUMENT', `only local $ref (#/…) are supported, got "${ref}"`);
  }
  let target: unknown = root;
  for (const encoded of ref.slice(2).split('/')) {
    const segment = decodeURIComponent(encoded).replaceAll('~1', '/').replaceAll('~0', '~');
    target =
      isObject(target) || Array.isArray(target) ? (target as Record<string, unknown>)[segment] : undefined;
    if (target === undefined) throw new HeraldError('INVALID_ARGUMENT', `$ref "${ref}" points at nothing`);
  }
  return target;
}

/** Follows `$ref`s (a chain of them, not a cycle) to the schema they name. */
function dereference(raw: unknown, root: unknown): unknown {
  let current = raw;
  for (let hops = 0; isObject(current) && typeof current['$ref'] === 'string'; hops++) {
    if (hops > 64) throw new HeraldError('INVALID_ARGUMENT', 'a $ref cycle never reaches a schema');
    current = resolvePointer(root, current['$ref']);
  }
  return current;
}

const OBJECT_KEYWORDS = [
  'properties',
  'required',
  'additionalProperties',
  'patternProperties',
  'minProperties',
  'maxProperties',
  'dependencies',
  'dependentRequired',
  'dependentSchemas',
  'unevaluatedProperties',
];
const ARRAY_KEYWORDS = ['items', 'prefixItems', 'additionalItems', 'minItems', 'maxItems', 'uniqueItems'];
const STRING_KEYWORDS = ['minLength', 'maxLength', 'pattern'];
const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];

function load(ref: SchemaRef, root: unknown): SchemaNode {
  if ('node' in ref) return ref.node;
  const raw = dereference(ref.raw, root);
  if (raw === true || raw === undefined) return { kind: 'any', meta: EMPTY_META, identity: undefined };
  if (raw === false) return { kind: 'none', meta: EMPTY_META, identity: undefined };
  if (!isObject(raw)) {
    throw new HeraldError('INVALID_ARGUMENT', `not a JSON Schema: ${JSON.stringify(raw)}`);
  }
  const meta: Meta = {
    id: raw['$id'] ?? raw['id'],
    title: raw['title'],
    description: raw['description'],
    default: raw['default'],
    hasDefault: Object.hasOwn(raw, 'default'),
  };
  const parts: SchemaNode[] = [];
  for (const criterion of ['allOf', 'anyOf', 'oneOf'] as const) {
    const subschemas = raw[criterion];
    if (Array.isArray(subschemas)) {
      parts.push({
        kind: 'combined',
        criterion,
        subschemas: (subschemas as unknown[]).map((s) => ({ raw: s })),
        meta: EMPTY_META,
        identity: undefined,
      });
    }
  }
  if (Object.hasOwn(raw, 'not'))
    parts.push({ kind: 'not', schema: raw['not'], meta: EMPTY_META, identity: undefined });
  if (Array.isArray(raw['enum']) || Object.hasOwn(raw, 'const')) {
    const values = Array.isArray(raw['enum']) ? raw['enum'] : [raw['const']];
    parts.push({ kind: 'enum', values, meta: EMPTY_META, identity: undefined });
  } else {
    const types = typesOf(raw);
    const typed = types.map((type) => typedNode(type, raw));
    if (typed.length === 1) parts.push(typed[0]!);
    if (typed.length > 1) {
      parts.push({
        kind: 'combined',
        criterion: 'anyOf',
        subschemas: typed.map((node) => ({ node })),
        meta: EMPTY_META,
        identity: undefined,
      });
    }
  }
  if (parts.length === 0) return { kind: 'any', meta, identity: raw };
  if (parts.length === 1) return { ...parts[0]!, meta, identity: raw };
  return {
    kind: 'combined',
    criterion: 'allOf',
    subschemas: parts.map((node) => ({ node })),
    meta,
    identity: raw,
  };
}

function typesOf(raw: Record<string, unknown>): string[] {
  const type = raw['type'];
  if (typeof type === 'string') return [type === 'integer' ? 'integer' : type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === 'string');
  const has = (keywords: readonly string[]) => keywords.some((k) => Object.hasOwn(raw, k));
  if (has(OBJECT_KEYWORDS)) return ['object'];
  if (has(ARRAY_KEYWORDS)) return ['array'];
  if (has(STRING_KEYWORDS)) return ['string'];
  if (has(NUMBER_KEYWORDS)) return ['number'];
  return [];
}

function contentModel(value: unknown): ContentModel {
  if (value === undefined || value === true) return 'open';
  if (value === false) return 'closed';
  if (isObject(value) && Object.keys(value).length === 0) return 'open';
  return { raw: value };
}

function typedNode(type: string, raw: Record<string, unknown>): SchemaNode {
  const base = { meta: EMPTY_META, identity: undefined };
  switch (type) {
    case 'string':
      return {
        ...base,
        kind: 'string',
        ...optionalNumber('minLength', raw['minLength']),
        ...optionalNumber('maxLength', raw['maxLength']),
        ...(typeof raw['pattern'] === 'string' ? { pattern: raw['pattern'] } : {}),
      };
    case 'integer':
    case 'number': {
      // Draft 4 wrote exclusive bounds as booleans next to minimum/maximum.
      const minimum = numberOrUndefined(raw['minimum']);
      const maximum = numberOrUndefined(raw['maximum']);
      const exclusiveMinimum =
        raw['exclusiveMinimum'] === true ? minimum : numberOrUndefined(raw['exclusiveMinimum']);
      const exclusiveMaximum =
        raw['exclusiveMaximum'] === true ? maximum : numberOrUndefined(raw['exclusiveMaximum']);
      return {
        ...base,
        kind: 'number',
        integer: type === 'integer',
        ...optionalNumber('minimum', raw['exclusiveMinimum'] === true ? undefined : minimum),
        ...optionalNumber('maximum', raw['exclusiveMaximum'] === true ? undefined : maximum),
        ...optionalNumber('exclusiveMinimum', exclusiveMinimum),
        ...optionalNumber('exclusiveMaximum', exclusiveMaximum),
        ...optionalNumber('multipleOf', raw['multipleOf']),
      };
    }
    case 'boolean':
      return { ...base, kind: 'boolean' };
    case 'null':
      return { ...base, kind: 'null' };
    case 'object':
      return objectNode(raw);
    case 'array':
      return arrayNode(raw);
    default:
      throw new HeraldError('INVALID_ARGUMENT', `unknown JSON Schema type "${type}"`);
  }
}

function optionalNumber<K extends string>(key: K, value: unknown): { [P in K]?: number } {
  const number = numberOrUndefined(value);
  return (number === undefined ? {} : { [key]: number }) as { [P in K]?: number };
}

function objectNode(raw: Record<string, unknown>): SchemaNode {
  const properties = new Map<string, unknown>(
    Object.entries(isObject(raw['properties']) ? raw['properties'] : {}),
  );
  const required = new Set(
    Array.isArray(raw['required']) ? raw['required'].filter((r): r is string => typeof r === 'string') : [],
  );
  const patternProperties = Object.entries(
    isObject(raw['patternProperties']) ? raw['patternProperties'] : {},
  ).map(([pattern, schema]) => [new RegExp(pattern, 'u'), schema] as const);
  const dependentRequired = new Map<string, readonly string[]>();
  const dependentSchemas = new Map<string, unknown>();
  const dependencies = { ...(isObject(raw['dependencies']) ? raw['dependencies'] : {}) };
  Object.assign(dependencies, isObject(raw['dependentRequired']) ? raw['dependentRequired'] : {});
  for (const [name, value] of Object.entries(dependencies)) {
    if (Array.isArray(value))
      dependentRequired.set(
        name,
        value.filter((v): v is string => typeof v === 'string'),
      );
    else dependentSchemas.set(name, value);
  }
  for (const [name, value] of Object.entries(
    isObject(raw['dependentSchemas']) ? raw['dependentSchemas'] : {},
  )) {
    dependentSchemas.set(name, value);
  }
  const additional = Object.hasOwn(raw, 'additionalProperties')
    ? raw['additionalProperties']
    : raw['unevaluatedProperties'];
  return {
    meta: EMPTY_META,
    identity: undefined,
    kind: 'object',
    properties,
    required,
    additional: contentModel(additional),
    patternProperties,
    ...optionalNumber('minProperties', raw['minProperties']),
    ...optionalNumber('maxProperties', raw['maxProperties']),
    dependentRequired,
    dependentSchemas,
  };
}

function arrayNode(raw: Record<string, unknown>): SchemaNode {
  let items: unknown = true;
  let prefixItems: readonly unknown[] = [];
  let additionalItems: ContentModel = 'open';
  if (Array.isArray(raw['prefixItems'])) {
    prefixItems = raw['prefixItems'];
    additionalItems = contentModel(raw['items'] ?? raw['unevaluatedItems']);
  } else if (Array.isArray(raw['items'])) {
    prefixItems = raw['items'];
    additionalItems = contentModel(raw['additionalItems'] ?? raw['unevaluatedItems']);
  } else if (raw['items'] !== undefined) {
    items = raw['items'];
  }
  return {
    meta: EMPTY_META,
    identity: undefined,
    kind: 'array',
    items,
    prefixItems,
    additionalItems,
    ...optionalNumber('minItems', raw['minItems']),
    ...optionalNumber('maxItems', raw['maxItems']),
    uniqueItems: raw['uniqueItems'] === true,
  };
}

// --- Comparison -------------------------------------------------------------------------

function describe(node: SchemaNode): string {
  switch (node.kind) {
    case 'number':
      return node.integer ? 'integer' : 'number';
    case 'enum':
      return node.values.length === 1 ? `const ${JSON.stringify(node.values[0])}` : 'enum';
    case 'combined':
      return node.criterion;
    case 'any':
      return 'any value';
    case 'none':
      return 'no value';
    default:
      return node.kind;
  }
}

function quote(name: string): string {
  return JSON.stringify(name);
}

function compare(context: Context, writerRef: SchemaRef, readerRef: SchemaRef, path: string): void {
  const writer = load(writerRef, context.roots.writer);
  const reader = load(readerRef, context.roots.reader);
  context.enter(writer.identity, reader.identity, () => compareNodes(context, writer, reader, path));
}

function compareNodes(context: Context, writer: SchemaNode, reader: SchemaNode, path: string): void {
  if (writer.kind !== 'combined' && reader.kind === 'combined') {
    if (reader.subschemas.length === 1 || reader.criterion !== 'allOf') {
      for (const sub of reader.subschemas) {
        const trial = context.sub();
        compare(trial, { node: writer }, sub, path);
        if (trial.compatible) {
          context.addAll(trial.differences);
          if (reader.subschemas.length > 1) {
            context.add(
              'SUM_TYPE_EXTENDED',
              path,
              `${describe(writer)} became ${reader.criterion} with an alternative that reads it`,
            );
          }
          return;
        }
      }
    }
  } else if (writer.kind === 'combined' && reader.kind !== 'combined' && writer.subschemas.length === 1) {
    const trial = context.sub();
    compare(trial, writer.subschemas[0]!, { node: reader }, path);
    if (trial.compatible) {
      context.addAll(trial.differences);
      return;
    }
  }

  if (writer.kind !== reader.kind) {
    if (writer.kind === 'none' || reader.kind === 'any') return;
    context.add('TYPE_CHANGED', path, `type changed from ${describe(writer)} to ${describe(reader)}`);
    return;
  }

  compareMeta(context, writer.meta, reader.meta, path);
  switch (writer.kind) {
    case 'string':
      return compareString(context, writer, reader as typeof writer, path);
    case 'number':
      return compareNumber(context, writer, reader as typeof writer, path);
    case 'object':
      return compareObject(context, writer, reader as typeof writer, path);
    case 'array':
      return compareArray(context, writer, reader as typeof writer, path);
    case 'enum':
      return compareEnum(context, writer, reader as typeof writer, path);
    case 'combined':
      return compareCombined(context, writer, reader as typeof writer, path);
    case 'not':
      return compareNot(context, writer, reader as typeof writer, path);
    default:
      return;
  }
}

function compareMeta(context: Context, writer: Meta, reader: Meta, path: string): void {
  const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
  if (!same(writer.id, reader.id)) context.add('ID_CHANGED', path, '$id changed');
  if (!same(writer.title, reader.title)) context.add('TITLE_CHANGED', path, 'title changed');
  if (!same(writer.description, reader.description))
    context.add('DESCRIPTION_CHANGED', path, 'description changed');
  if (writer.hasDefault !== reader.hasDefault || !same(writer.default, reader.default)) {
    context.add('DEFAULT_CHANGED', path, 'default changed');
  }
}

/**
 * One numeric bound. `looser` is the direction in which the reader accepts more
 * (`up` for maxima, `down` for minima).
 */
function compareBound(
  context: Context,
  path: string,
  keyword: string,
  writer: number | undefined,
  reader: number | undefined,
  looser: 'up' | 'down',
  kinds: {
    readonly added: DifferenceKind;
    readonly removed: DifferenceKind;
    readonly increased: DifferenceKind;
    readonly decreased: DifferenceKind;
  },
): void {
  if (writer === reader) return;
  const at = `${path}/${keyword}`;
  if (writer === undefined) {
    context.add(kinds.added, at, `${keyword} ${reader} added: data the writer allows may break it`);
  } else if (reader === undefined) {
    context.add(kinds.removed, at, `${keyword} ${writer} removed`);
  } else if (reader > writer) {
    context.add(
      kinds.increased,
      at,
      `${keyword} increased from ${writer} to ${reader}${looser === 'up' ? '' : ': values the writer allows may be below it'}`,
    );
  } else {
    context.add(
      kinds.decreased,
      at,
      `${keyword} decreased from ${writer} to ${reader}${looser === 'down' ? '' : ': values the writer allows may be above it'}`,
    );
  }
}

type NodeOf<K extends SchemaNode['kind']> = Extract<SchemaNode, { kind: K }>;

function compareString(
  context: Context,
  writer: NodeOf<'string'>,
  reader: NodeOf<'string'>,
  path: string,
): void {
  compareBound(context, path, 'maxLength', writer.maxLength, reader.maxLength, 'up', {
    added: 'MAX_LENGTH_ADDED',
    removed: 'MAX_LENGTH_REMOVED',
    increased: 'MAX_LENGTH_INCREASED',
    decreased: 'MAX_LENGTH_DECREASED',
  });
  compareBound(context, path, 'minLength', writer.minLength, reader.minLength, 'down', {
    added: 'MIN_LENGTH_ADDED',
    removed: 'MIN_LENGTH_REMOVED',
    increased: 'MIN_LENGTH_INCREASED',
    decreased: 'MIN_LENGTH_DECREASED',
  });
  const at = `${path}/pattern`;
  if (writer.pattern === undefined && reader.pattern !== undefined) {
    context.add(
      'PATTERN_ADDED',
      at,
      `pattern ${reader.pattern} added: strings the writer allows may not match it`,
    );
  } else if (writer.pattern !== undefined && reader.pattern === undefined) {
    context.add('PATTERN_REMOVED', at, 'pattern removed');
  } else if (writer.pattern !== reader.pattern) {
    context.add('PATTERN_CHANGED', at, `pattern changed from ${writer.pattern} to ${reader.pattern}`);
  }
}

function compareNumber(
  context: Context,
  writer: NodeOf<'number'>,
  reader: NodeOf<'number'>,
  path: string,
): void {
  compareBound(context, path, 'maximum', writer.maximum, reader.maximum, 'up', {
    added: 'MAXIMUM_ADDED',
    removed: 'MAXIMUM_REMOVED',
    increased: 'MAXIMUM_INCREASED',
    decreased: 'MAXIMUM_DECREASED',
  });
  compareBound(context, path, 'minimum', writer.minimum, reader.minimum, 'down', {
    added: 'MINIMUM_ADDED',
    removed: 'MINIMUM_REMOVED',
    increased: 'MINIMUM_INCREASED',
    decreased: 'MINIMUM_DECREASED',
  });
  compareBound(context, path, 'exclusiveMaximum', writer.exclusiveMaximum, reader.exclusiveMaximum, 'up', {
    added: 'EXCLUSIVE_MAXIMUM_ADDED',
    removed: 'EXCLUSIVE_MAXIMUM_REMOVED',
    increased: 'EXCLUSIVE_MAXIMUM_INCREASED',
    decreased: 'EXCLUSIVE_MAXIMUM_DECREASED',
  });
  compareBound(context, path, 'exclusiveMinimum', writer.exclusiveMinimum, reader.exclusiveMinimum, 'down', {
    added: 'EXCLUSIVE_MINIMUM_ADDED',
    removed: 'EXCLUSIVE_MINIMUM_REMOVED',
    increased: 'EXCLUSIVE_MINIMUM_INCREASED',
    decreased: 'EXCLUSIVE_MINIMUM_DECREASED',
  });
  const at = `${path}/multipleOf`;
  const [w, r] = [writer.multipleOf, reader.multipleOf];
  if (w !== r) {
    if (w === undefined) context.add('MULTIPLE_OF_ADDED', at, `multipleOf ${r} added`);
    else if (r === undefined) context.add('MULTIPLE_OF_REMOVED', at, `multipleOf ${w} removed`);
    else if (isMultiple(r, w)) {
      context.add(
        'MULTIPLE_OF_EXPANDED',
        at,
        `multipleOf changed from ${w} to ${r}: multiples of ${w} may not be multiples of ${r}`,
      );
    } else if (isMultiple(w, r))
      context.add('MULTIPLE_OF_REDUCED', at, `multipleOf reduced from ${w} to ${r}`);
    else context.add('MULTIPLE_OF_CHANGED', at, `multipleOf changed from ${w} to ${r}`);
  }
  if (writer.integer && !reader.integer)
    context.add('TYPE_EXTENDED', path, 'type widened from integer to number');
  if (!writer.integer && reader.integer) {
    context.add(
      'TYPE_NARROWED',
      path,
      'type narrowed from number to integer: numbers with a fraction no longer read',
    );
  }
}

function isMultiple(value: number, of: number): boolean {
  const quotient = value / of;
  return Math.abs(quotient - Math.round(quotient)) < 1e-9;
}

/** The schema a partially open object gives to a property it does not name, if any. */
function coveringSchema(node: NodeOf<'object'>, name: string): SchemaRef | undefined {
  for (const [pattern, schema] of node.patternProperties) if (pattern.test(name)) return { raw: schema };
  return typeof node.additional === 'object' ? node.additional : undefined;
}

function isOpenObject(node: NodeOf<'object'>): boolean {
  return node.additional === 'open' && node.patternProperties.length === 0;
}

function compareObject(
  context: Context,
  writer: NodeOf<'object'>,
  reader: NodeOf<'object'>,
  path: string,
): void {
  for (const name of writer.properties.keys()) {
    if (!reader.properties.has(name)) continue;
    const at = `${path}/required/${name}`;
    const wasRequired = writer.required.has(name);
    const isRequired = reader.required.has(name);
    if (wasRequired && !isRequired)
      context.add('REQUIRED_ATTRIBUTE_REMOVED', at, `property ${quote(name)} is no longer required`);
    if (!wasRequired && isRequired) {
      if (hasDefault(reader.properties.get(name), context.roots.reader)) {
        context.add(
          'REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED',
          at,
          `property ${quote(name)} became required, with a default`,
        );
      } else {
        context.add(
          'REQUIRED_ATTRIBUTE_ADDED',
          at,
          `property ${quote(name)} became required without a default: the writer may have left it out`,
        );
      }
    }
  }

  const names = new Set([...writer.properties.keys(), ...reader.properties.keys()]);
  for (const name of names) {
    const at = `${path}/properties/${name}`;
    const writerSchema = writer.properties.get(name);
    const readerSchema = reader.properties.get(name);
    if (readerSchema === undefined && writer.properties.has(name)) {
      removedMember(
        context,
        at,
        `property ${quote(name)}`,
        { raw: writerSchema },
        coveringSchema(reader, name),
        isOpenObject(reader),
        'PROPERTY',
      );
    } else if (writerSchema === undefined && reader.properties.has(name)) {
      if (isOpenObject(writer)) {
        if (load({ raw: readerSchema }, context.roots.reader).kind === 'any') {
          context.add(
            'PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL',
            at,
            `property ${quote(name)} added with an empty schema`,
          );
        } else {
          context.add(
            'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
            at,
            `property ${quote(name)} added, but the writer's open content model (no additionalProperties: false) let it hold any value`,
          );
        }
        continue;
      }
      const covering = coveringSchema(writer, name);
      if (covering !== undefined) {
        const trial = context.sub();
        compare(trial, covering, { raw: readerSchema }, at);
        context.addAll(trial.differences);
        if (trial.compatible) {
          context.add(
            'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
            at,
            `property ${quote(name)} added; the writer's additional properties fit it`,
          );
        } else {
          context.add(
            'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
            at,
            `property ${quote(name)} added, but the writer allowed values under that name that its schema rejects`,
          );
        }
      }
      if (reader.required.has(name)) {
        if (hasDefault(readerSchema, context.roots.reader)) {
          context.add(
            'REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL',
            at,
            `required property ${quote(name)} added, with a default`,
          );
        } else {
          context.add(
            'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
            at,
            `required property ${quote(name)} added without a default: data from the writer does not have it`,
          );
        }
      } else {
        context.add(
          'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
          at,
          `optional property ${quote(name)} added`,
        );
      }
    } else {
      compare(context, { raw: writerSchema }, { raw: readerSchema }, at);
    }
  }

  const dependencyNames = new Set([...writer.dependentRequired.keys(), ...reader.dependentRequired.keys()]);
  for (const name of dependencyNames) {
    const at = `${path}/dependencies/${name}`;
    const w = writer.dependentRequired.get(name);
    const r = reader.dependentRequired.get(name);
    if (r === undefined) context.add('DEPENDENCY_ARRAY_REMOVED', at, `dependency of ${quote(name)} removed`);
    else if (w === undefined) context.add('DEPENDENCY_ARRAY_ADDED', at, `dependency of ${quote(name)} added`);
    else if (canonicalJson([...w].sort()) !== canonicalJson([...r].sort())) {
      if (w.every((x) => r.includes(x)))
        context.add('DEPENDENCY_ARRAY_EXTENDED', at, `dependency of ${quote(name)} requires more properties`);
      else if (r.every((x) => w.includes(x)))
        context.add(
          'DEPENDENCY_ARRAY_NARROWED',
          at,
          `dependency of ${quote(name)} requires fewer properties`,
        );
      else context.add('DEPENDENCY_ARRAY_CHANGED', at, `dependency of ${quote(name)} changed`);
    }
  }
  const schemaDependencyNames = new Set([
    ...writer.dependentSchemas.keys(),
    ...reader.dependentSchemas.keys(),
  ]);
  for (const name of schemaDependencyNames) {
    const at = `${path}/dependencies/${name}`;
    if (!reader.dependentSchemas.has(name))
      context.add('DEPENDENCY_SCHEMA_REMOVED', at, `schema dependency of ${quote(name)} removed`);
    else if (!writer.dependentSchemas.has(name))
      context.add('DEPENDENCY_SCHEMA_ADDED', at, `schema dependency of ${quote(name)} added`);
    else
      compare(
        context,
        { raw: writer.dependentSchemas.get(name) },
        { raw: reader.dependentSchemas.get(name) },
        at,
      );
  }

  compareContentModel(
    context,
    `${path}/additionalProperties`,
    writer.additional,
    reader.additional,
    'PROPERTIES',
    'properties',
  );
  compareBound(context, path, 'maxProperties', writer.maxProperties, reader.maxProperties, 'up', {
    added: 'MAX_PROPERTIES_ADDED',
    removed: 'MAX_PROPERTIES_REMOVED',
    increased: 'MAX_PROPERTIES_INCREASED',
    decreased: 'MAX_PROPERTIES_DECREASED',
  });
  compareBound(context, path, 'minProperties', writer.minProperties, reader.minProperties, 'down', {
    added: 'MIN_PROPERTIES_ADDED',
    removed: 'MIN_PROPERTIES_REMOVED',
    increased: 'MIN_PROPERTIES_INCREASED',
    decreased: 'MIN_PROPERTIES_DECREASED',
  });
}

function hasDefault(raw: unknown, root: unknown): boolean {
  const schema = dereference(raw, root);
  return isObject(schema) && Object.hasOwn(schema, 'default');
}

/** A property or tuple item the writer has and the reader does not. */
function removedMember(
  context: Context,
  at: string,
  label: string,
  writerSchema: SchemaRef,
  covering: SchemaRef | undefined,
  readerOpen: boolean,
  member: 'PROPERTY' | 'ITEM',
): void {
  if (readerOpen) {
    context.add(
      `${member}_REMOVED_FROM_OPEN_CONTENT_MODEL`,
      at,
      `${label} removed; the reader's open content model still accepts it`,
    );
    return;
  }
  if (covering !== undefined) {
    const trial = context.sub();
    compare(trial, writerSchema, covering, at);
    context.addAll(trial.differences);
    if (trial.compatible) {
      context.add(
        `${member}_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`,
        at,
        `${label} removed; the reader's additional schema accepts it`,
      );
    } else {
      context.add(
        `${member}_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`,
        at,
        `${label} removed, and the reader's additional schema rejects what the writer wrote there`,
      );
    }
    return;
  }
  if (load(writerSchema, context.roots.writer).kind === 'none') {
    context.add(
      `${member}_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL`,
      at,
      `${label} (never allowed) removed`,
    );
    return;
  }
  context.add(
    `${member}_REMOVED_FROM_CLOSED_CONTENT_MODEL`,
    at,
    `${label} removed, but the reader's closed content model (${member === 'PROPERTY' ? 'additionalProperties' : 'additionalItems'}: false) rejects it in data the writer wrote`,
  );
}

function compareContentModel(
  context: Context,
  at: string,
  writer: ContentModel,
  reader: ContentModel,
  member: 'PROPERTIES' | 'ITEMS',
  noun: string,
): void {
  const permits = (model: ContentModel) => model !== 'closed';
  if (permits(writer) !== permits(reader)) {
    if (permits(reader)) context.add(`ADDITIONAL_${member}_ADDED`, at, `additional ${noun} are now allowed`);
    else
      context.add(
        `ADDITIONAL_${member}_REMOVED`,
        at,
        `additional ${noun} are no longer allowed: data from the writer may have some`,
      );
  } else if (writer === 'open' && typeof reader === 'object') {
    context.add(
      `ADDITIONAL_${member}_NARROWED`,
      at,
      `additional ${noun} must now match a schema; the writer allowed any`,
    );
  } else if (typeof writer === 'object' && reader === 'open') {
    context.add(`ADDITIONAL_${member}_EXTENDED`, at, `additional ${noun} may now be anything`);
  } else if (typeof writer === 'object' && typeof reader === 'object') {
    compare(context, writer, reader, at);
  }
}

function compareArray(
  context: Context,
  writer: NodeOf<'array'>,
  reader: NodeOf<'array'>,
  path: string,
): void {
  compare(context, { raw: writer.items }, { raw: reader.items }, `${path}/items`);
  const shared = Math.min(writer.prefixItems.length, reader.prefixItems.length);
  for (let i = 0; i < shared; i++) {
    compare(context, { raw: writer.prefixItems[i] }, { raw: reader.prefixItems[i] }, `${path}/items/${i}`);
  }
  const readerOpen = reader.additionalItems === 'open';
  const readerCovering = typeof reader.additionalItems === 'object' ? reader.additionalItems : undefined;
  for (let i = shared; i < writer.prefixItems.length; i++) {
    removedMember(
      context,
      `${path}/items/${i}`,
      `item ${i}`,
      { raw: writer.prefixItems[i] },
      readerCovering,
      readerOpen,
      'ITEM',
    );
  }
  for (let i = shared; i < reader.prefixItems.length; i++) {
    const at = `${path}/items/${i}`;
    const readerSchema = reader.prefixItems[i];
    if (writer.additionalItems === 'open') {
      if (load({ raw: readerSchema }, context.roots.reader).kind === 'any') {
        context.add(
          'ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL',
          at,
          `item ${i} added with an empty schema`,
        );
      } else {
        context.add(
          'ITEM_ADDED_TO_OPEN_CONTENT_MODEL',
          at,
          `item ${i} added, but the writer's open content model let it hold any value`,
        );
      }
    } else if (writer.additionalItems === 'closed') {
      context.add('ITEM_ADDED_TO_CLOSED_CONTENT_MODEL', at, `item ${i} added`);
    } else {
      const trial = context.sub();
      compare(trial, writer.additionalItems, { raw: readerSchema }, at);
      context.addAll(trial.differences);
      if (trial.compatible)
        context.add(
          'ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
          at,
          `item ${i} added; the writer's additional items fit it`,
        );
      else {
        context.add(
          'ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
          at,
          `item ${i} added, but the writer allowed items there that its schema rejects`,
        );
      }
    }
  }
  if (writer.prefixItems.length > 0 || reader.prefixItems.length > 0) {
    compareContentModel(
      context,
      `${path}/additionalItems`,
      writer.additionalItems,
      reader.additionalItems,
      'ITEMS',
      'items',
    );
  }
  compareBound(context, path, 'maxItems', writer.maxItems, reader.maxItems, 'up', {
    added: 'MAX_ITEMS_ADDED',
    removed: 'MAX_ITEMS_REMOVED',
    increased: 'MAX_ITEMS_INCREASED',
    decreased: 'MAX_ITEMS_DECREASED',
  });
  compareBound(context, path, 'minItems', writer.minItems, reader.minItems, 'down', {
    added: 'MIN_ITEMS_ADDED',
    removed: 'MIN_ITEMS_REMOVED',
    increased: 'MIN_ITEMS_INCREASED',
    decreased: 'MIN_ITEMS_DECREASED',
  });
  if (writer.uniqueItems && !reader.uniqueItems)
    context.add('UNIQUE_ITEMS_REMOVED', `${path}/uniqueItems`, 'uniqueItems removed');
  if (!writer.uniqueItems && reader.uniqueItems) {
    context.add(
      'UNIQUE_ITEMS_ADDED',
      `${path}/uniqueItems`,
      'uniqueItems added: the writer may have written duplicates',
    );
  }
}

function compareEnum(context: Context, writer: NodeOf<'enum'>, reader: NodeOf<'enum'>, path: string): void {
  const writerValues = new Set(writer.values.map(canonicalJson));
  const readerValues = new Set(reader.values.map(canonicalJson));
  const lost = [...writerValues].filter((v) => !readerValues.has(v));
  const gained = [...readerValues].filter((v) => !writerValues.has(v));
  const at = `${path}/enum`;
  if (lost.length === 0 && gained.length === 0) return;
  if (lost.length === 0) context.add('ENUM_ARRAY_EXTENDED', at, `enum gained ${gained.join(', ')}`);
  else if (gained.length === 0) {
    context.add('ENUM_ARRAY_NARROWED', at, `enum lost ${lost.join(', ')}, which the writer may have written`);
  } else {
    context.add(
      'ENUM_ARRAY_CHANGED',
      at,
      `enum changed: lost ${lost.join(', ')}, gained ${gained.join(', ')}`,
    );
  }
}

function compareCombined(
  context: Context,
  writer: NodeOf<'combined'>,
  reader: NodeOf<'combined'>,
  path: string,
): void {
  const [w, r] = [writer.criterion, reader.criterion];
  if (w !== r) {
    const singleton = (node: NodeOf<'combined'>) => node.subschemas.length === 1;
    const extended =
      r === 'anyOf' ||
      (r === 'oneOf' && singleton(writer)) ||
      (r === 'allOf' && singleton(writer) && singleton(reader));
    if (!extended) {
      context.add('COMBINED_TYPE_CHANGED', path, `${w} changed to ${r}`);
      return;
    }
    context.add('COMBINED_TYPE_EXTENDED', path, `${w} widened to ${r}`);
  }
  const unique = (refs: readonly SchemaRef[], root: unknown) => {
    const seen = new Map<string, SchemaRef>();
    refs.forEach((ref, index) => {
      // Synthetic alternatives (from a `type` array) are distinct by construction.
      const key = 'node' in ref ? `#${index}` : canonicalJson(dereference(ref.raw, root));
      if (!seen.has(key)) seen.set(key, ref);
    });
    return [...seen.values()];
  };
  const writerSubs = unique(writer.subschemas, context.roots.writer);
  const readerSubs = unique(reader.subschemas, context.roots.reader);
  if (writerSubs.length < readerSubs.length) {
    if (r === 'allOf')
      context.add(
        'PRODUCT_TYPE_EXTENDED',
        path,
        `allOf gained ${readerSubs.length - writerSubs.length} schema(s) to satisfy`,
      );
    else
      context.add(
        'SUM_TYPE_EXTENDED',
        path,
        `${r} gained ${readerSubs.length - writerSubs.length} alternative(s)`,
      );
  } else if (writerSubs.length > readerSubs.length) {
    if (r === 'allOf')
      context.add(
        'PRODUCT_TYPE_NARROWED',
        path,
        `allOf lost ${writerSubs.length - readerSubs.length} schema(s) to satisfy`,
      );
    else
      context.add(
        'SUM_TYPE_NARROWED',
        path,
        `${r} lost ${writerSubs.length - readerSubs.length} alternative(s) the writer may have used`,
      );
  }

  // Pair each writer alternative with a distinct reader alternative that reads it (maximum
  // bipartite matching): the reader covers the writer when every alternative finds a partner.
  // An edge holds the differences of a compatible pair; undefined means the pair is incompatible.
  const edges: (SchemaDifference[] | undefined)[][] = writerSubs.map((ws, i) =>
    readerSubs.map((rs) => {
      const trial = context.sub();
      compare(trial, ws, rs, `${path}/${w}/${i}`);
      return trial.compatible ? trial.differences : undefined;
    }),
  );
  const matchOfReader = new Array<number>(readerSubs.length).fill(-1);
  const augment = (i: number, seen: boolean[]): boolean => {
    for (let j = 0; j < readerSubs.length; j++) {
      if (edges[i]![j] === undefined || seen[j] === true) continue;
      seen[j] = true;
      if (matchOfReader[j] === -1 || augment(matchOfReader[j]!, seen)) {
        matchOfReader[j] = i;
        return true;
      }
    }
    return false;
  };
  let matched = 0;
  for (let i = 0; i < writerSubs.length; i++) if (augment(i, [])) matched++;
  matchOfReader.forEach((i, j) => {
    if (i !== -1) context.addAll(edges[i]![j]!);
  });
  if (matched < Math.min(writerSubs.length, readerSubs.length)) {
    context.add(
      'COMBINED_TYPE_SUBSCHEMAS_CHANGED',
      path,
      `the ${r} alternatives changed: ${Math.min(writerSubs.length, readerSubs.length) - matched} of the writer's have no reader alternative that reads them`,
    );
  }
}

function compareNot(context: Context, writer: NodeOf<'not'>, reader: NodeOf<'not'>, path: string): void {
  // The reader accepts more when what it forbids is a part of what the writer forbade.
  const trial = new Context(context.roots.reader, context.roots.writer);
  compare(trial, { raw: reader.schema }, { raw: writer.schema }, `${path}/not`);
  if (trial.compatible)
    context.add('NOT_TYPE_NARROWED', `${path}/not`, 'the reader forbids less than the writer did');
  else context.add('NOT_TYPE_EXTENDED', `${path}/not`, 'the reader forbids values the writer allowed');
}
