import { HeraldError } from '@herald/core';
import type { EventDefinition, StoredEvent } from '@herald/core';
import { parseEventType } from './event-type.ts';

/**
 * Turns data of an older version of an event into data of a newer version of the same subject,
 * so a consumer written against the newer version reads events stored as the older one. The
 * reader validates the stored data with `from` before, and the result with `to` after, so a
 * wrong upcaster is caught at the step that is wrong.
 */
export interface Upcaster<From = unknown, To = unknown> {
  readonly from: EventDefinition<From>;
  readonly to: EventDefinition<To>;
  readonly subject: string;
  readonly fromVersion: number;
  readonly toVersion: number;
  /** Pure: the same stored event always gives the same result (replays rely on it). */
  upcast(data: From, event: StoredEvent): To;
}

/**
 * Declares how to read `from` events as `to` events. Both must be versions of one subject, `to`
 * the later one; upcasters chain (v1→v2 and v2→v3 read v1 as v3).
 *
 * @example
 * const v1ToV2 = defineUpcaster(OrderPlacedV1, OrderPlacedV2, (v1) => ({ ...v1, currency: 'EUR' }));
 */
export function defineUpcaster<From, To>(
  from: EventDefinition<From>,
  to: EventDefinition<To>,
  upcast: (data: From, event: StoredEvent) => To,
): Upcaster<From, To> {
  const source = parseEventType(from.type);
  const target = parseEventType(to.type);
  if (source.subject !== target.subject) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `an upcaster joins versions of one subject; ${from.type} and ${to.type} are different events`,
    );
  }
  if (target.version <= source.version) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `an upcaster goes to a later version: ${from.type} → ${to.type}`,
    );
  }
  return {
    from,
    to,
    subject: source.subject,
    fromVersion: source.version,
    toVersion: target.version,
    upcast,
  };
}
