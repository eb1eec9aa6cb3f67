import { HeraldError } from '@herald/core';

/**
 * How event types and registry subjects relate. An event type is versioned by its last segment
 * (`dev.herald.orders.order-placed.v2`); the subject is the type without it
 * (`dev.herald.orders.order-placed`) and the version is the number (2). So a type names exactly
 * one registered schema, and every stored event says by its `type` which schema wrote it.
 */
export interface EventTypeParts {
  /** The type family: the type without its `.vN` suffix. */
  readonly subject: string;
  /** N of the `.vN` suffix, ≥ 1. */
  readonly version: number;
}

const VERSIONED = /^(.+)\.v([1-9][0-9]*)$/;

/**
 * Splits a versioned event type into its subject and version; throws `INVALID_ARGUMENT` for a
 * type without a `.vN` suffix.
 *
 * @example parseEventType('dev.herald.orders.order-placed.v2') // { subject: 'dev.herald.orders.order-placed', version: 2 }
 */
export function parseEventType(type: string): EventTypeParts {
  const match = VERSIONED.exec(type);
  const version = Number(match?.[2]);
  if (match === null || !Number.isSafeInteger(version)) {
    throw new HeraldError('INVALID_ARGUMENT', `event type "${type}" has no version suffix (.v1, .v2, …)`, {
      details: { type },
    });
  }
  return { subject: match[1]!, version };
}

/** The event type of a subject's version: `eventTypeOf('a.b.thing-happened', 2)` is `a.b.thing-happened.v2`. */
export function eventTypeOf(subject: string, version: number): string {
  return `${subject}.v${version}`;
}

const URI = /^herald:schemas\/(.+)\/versions\/([1-9][0-9]*)$/;

/**
 * The registry URI of a subject's version, set as the CloudEvents `dataschema` of events
 * published through `registryGuard`: `herald:schemas/<subject>/versions/<n>` (the path mirrors
 * Confluent's REST API, so a console can serve it under `/schemas/…`).
 */
export function schemaUri(subject: string, version: number): string {
  return `herald:schemas/${subject}/versions/${version}`;
}

/** The inverse of {@link schemaUri}; undefined for any other URI. */
export function parseSchemaUri(uri: string): EventTypeParts | undefined {
  const match = URI.exec(uri);
  if (match === null) return undefined;
  return { subject: match[1]!, version: Number(match[2]) };
}
