import { HeraldError, isHeraldError } from '@herald/core';
import type { EventDecoder, EventDefinition, StoredEvent } from '@herald/core';
import type { Upcaster } from './define-upcaster.ts';
import { parseEventType } from './event-type.ts';

/**
 * What a consumer written against version N does with an event of a later version:
 *
 * - `decode` (default, the tolerant reader): read the newer data with version N's schema. Fields
 *   N does not know are dropped (a zod object strips them); data N's schema rejects is poison
 *   (`VALIDATION_FAILED`, parked by `deadLetter`). Safe when the newer version is FORWARD
 *   compatible with N — exactly what a FORWARD/FULL subject guarantees.
 * - `reject`: every newer event is poison (`DECODE_FAILED`): park it, upgrade the consumer, redrive.
 */
export type NewerVersionPolicy = 'decode' | 'reject';

export interface EventReaderOptions {
  /** Upcasters, for reading older versions; a chain is found between any two versions. */
  readonly upcasters?: readonly Upcaster[];
  /** Default `decode`. */
  readonly newer?: NewerVersionPolicy;
}

/**
 * One step from a stored version towards the version a route reads: an upcaster, or reading the
 * data with a later version's schema (`read-as`) where no upcaster leaves a version — what
 * BACKWARD compatibility promises, so a compatible change (an optional field added) needs no
 * upcaster.
 */
export type ReadStep =
  | { readonly kind: 'upcast'; readonly upcaster: Upcaster }
  | { readonly kind: 'read-as'; readonly definition: EventDefinition };

/**
 * How an event type reaches the version a route reads: `exact`; `older` through `steps`; `newer`
 * by the {@link NewerVersionPolicy}; `unrelated` (not versions of one event).
 */
export type ReadPlan =
  | { readonly kind: 'exact' }
  | { readonly kind: 'older'; readonly steps: readonly ReadStep[] }
  | { readonly kind: 'newer'; readonly policy: NewerVersionPolicy }
  | { readonly kind: 'unrelated' };

/**
 * Decodes events for consumers written against one version of each event: the same version
 * as is, older versions through upcasters (and a later version's schema where no upcaster leaves
 * a version), newer versions by the {@link NewerVersionPolicy}. Give it to a Router as `decoder`,
 * and a route for `…order-placed.v2` receives every version of `…order-placed`;
 * `herald schema check` uses the same reader on stored events.
 */
export interface EventReader extends EventDecoder {
  /**
   * Of the route types, the one that reads `eventType`: the highest version of the same subject
   * (an exact route wins before the decoder is asked). Undefined when none is of that subject.
   */
  route(eventType: string, routeTypes: Iterable<string>): string | undefined;
  /**
   * The data of `event` as `definition`'s version. Throws `DECODE_FAILED` (not JSON, not a
   * version of the same event, an upcaster threw, a newer version under `reject`) or
   * `VALIDATION_FAILED` (the stored data, an upcaster's result, or data read as is does not fit
   * its schema) — poison either way.
   */
  decode<Data>(event: StoredEvent, definition: EventDefinition<Data>): Data;
  /**
   * How events of `eventType` reach `target`'s version. Older versions take the shortest chain of
   * upcasters to it when there is one; otherwise the largest upcaster step available, and across
   * a version no upcaster leaves, a `read-as` of the next version an upcaster starts from (or of
   * the target).
   */
  plan(eventType: string, target: EventDefinition): ReadPlan;
}

/**
 * @example
 * const reader = createEventReader({ upcasters: [orderPlacedV1ToV2] });
 * const router = createRouter({ log, group: 'billing.invoices', topics: ['orders'], decoder: reader });
 * router.on(OrderPlacedV2, handle); // v1 events arrive upcast to v2
 */
export function createEventReader(options: EventReaderOptions = {}): EventReader {
  const newer = options.newer ?? 'decode';
  const bySubject = new Map<string, Upcaster[]>();
  for (const upcaster of options.upcasters ?? []) {
    const list = bySubject.get(upcaster.subject) ?? [];
    if (list.some((u) => u.fromVersion === upcaster.fromVersion && u.toVersion === upcaster.toVersion)) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `two upcasters from ${upcaster.from.type} to ${upcaster.to.type}; keep one`,
      );
    }
    list.push(upcaster);
    bySubject.set(upcaster.subject, list);
  }
  const plans = new WeakMap<EventDefinition, Map<string, ReadPlan>>();

  const plan = (eventType: string, target: EventDefinition): ReadPlan => {
    let byType = plans.get(target);
    if (byType === undefined) plans.set(target, (byType = new Map<string, ReadPlan>()));
    let found = byType.get(eventType);
    if (found === undefined) {
      found = computePlan(eventType, target, bySubject, newer);
      byType.set(eventType, found);
    }
    return found;
  };

  return {
    plan,
    route(eventType, routeTypes) {
      const parts = tryParse(eventType);
      if (parts === undefined) return undefined;
      let best: { type: string; version: number } | undefined;
      for (const type of routeTypes) {
        const candidate = tryParse(type);
        if (candidate?.subject !== parts.subject) continue;
        if (best === undefined || candidate.version > best.version)
          best = { type, version: candidate.version };
      }
      return best?.type;
    },
    decode<Data>(event: StoredEvent, definition: EventDefinition<Data>): Data {
      const how = plan(event.type, definition);
      switch (how.kind) {
        case 'exact':
          return definition.decode(event.data);
        case 'unrelated':
          throw new HeraldError(
            'DECODE_FAILED',
            `cannot read ${event.type} as ${definition.type}: they are not versions of one event`,
            {
              details: { type: event.type, reader: definition.type },
            },
          );
        case 'newer':
          if (how.policy === 'reject') {
            throw new HeraldError(
              'DECODE_FAILED',
              `${event.type} is newer than ${definition.type}, the version this consumer reads (newer: 'reject'): upgrade the consumer, then redrive`,
              { details: { type: event.type, reader: definition.type } },
            );
          }
          return rethrowing(
            () => definition.decode(event.data),
            `${event.type} read with the schema of ${definition.type} (newer: 'decode')`,
            event,
            definition,
          );
        case 'older':
          return readThrough(event, how.steps) as Data;
      }
    },
  };
}

function tryParse(type: string): { subject: string; version: number } | undefined {
  try {
    return parseEventType(type);
  } catch {
    return undefined;
  }
}

function computePlan(
  eventType: string,
  target: EventDefinition,
  bySubject: ReadonlyMap<string, readonly Upcaster[]>,
  newer: NewerVersionPolicy,
): ReadPlan {
  if (eventType === target.type) return { kind: 'exact' };
  const from = tryParse(eventType);
  const to = tryParse(target.type);
  if (from === undefined || to === undefined || from.subject !== to.subject) return { kind: 'unrelated' };
  if (from.version > to.version) return { kind: 'newer', policy: newer };
  // Upcasters that overshoot the reader's version are of no use (there are no downcasters).
  const upcasters = (bySubject.get(from.subject) ?? []).filter((u) => u.toVersion <= to.version);
  const steps: ReadStep[] = [];
  for (let version = from.version; version !== to.version;) {
    const chain = shortestChain(upcasters, version, to.version);
    if (chain !== undefined) {
      steps.push(...chain.map((upcaster) => ({ kind: 'upcast' as const, upcaster })));
      break;
    }
    const leaving = upcasters.filter((u) => u.fromVersion === version);
    if (leaving.length > 0) {
      const longest = leaving.reduce((a, b) => (b.toVersion > a.toVersion ? b : a));
      steps.push({ kind: 'upcast', upcaster: longest });
      version = longest.toVersion;
      continue;
    }
    const next = upcasters
      .filter((u) => u.fromVersion > version)
      .reduce<Upcaster | undefined>(
        (a, b) => (a === undefined || b.fromVersion < a.fromVersion ? b : a),
        undefined,
      );
    steps.push({ kind: 'read-as', definition: next?.from ?? target });
    version = next?.fromVersion ?? to.version;
  }
  return { kind: 'older', steps };
}

/** The fewest upcasters leading from one version to another, or undefined. */
function shortestChain(upcasters: readonly Upcaster[], from: number, to: number): Upcaster[] | undefined {
  const cameFrom = new Map<number, Upcaster>();
  const queue = [from];
  while (queue.length > 0 && !cameFrom.has(to)) {
    const version = queue.shift()!;
    for (const upcaster of upcasters) {
      if (upcaster.fromVersion !== version || cameFrom.has(upcaster.toVersion)) continue;
      cameFrom.set(upcaster.toVersion, upcaster);
      queue.push(upcaster.toVersion);
    }
  }
  if (!cameFrom.has(to)) return undefined;
  const chain: Upcaster[] = [];
  for (let version = to; version !== from;) {
    const step = cameFrom.get(version)!;
    chain.unshift(step);
    version = step.fromVersion;
  }
  return chain;
}

function readThrough(event: StoredEvent, steps: readonly ReadStep[]): unknown {
  let data: unknown;
  let at = event.type;
  steps.forEach((step, index) => {
    if (step.kind === 'read-as') {
      const where = `${event.type}${index === 0 ? '' : ` (as ${at})`} read with the schema of ${step.definition.type}`;
      data = rethrowing(
        () => (index === 0 ? step.definition.decode(event.data) : step.definition.parse(data)),
        where,
        event,
        step.definition,
      );
      at = step.definition.type;
      return;
    }
    const { upcaster } = step;
    if (index === 0)
      data = rethrowing(() => upcaster.from.decode(event.data), `stored ${event.type}`, event, upcaster.from);
    const label = `upcaster v${upcaster.fromVersion}→v${upcaster.toVersion} of ${upcaster.subject}`;
    let result: unknown;
    try {
      result = upcaster.upcast(data, event);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new HeraldError('DECODE_FAILED', `${label} failed on event ${event.id}: ${why}`, {
        cause,
        details: { type: event.type, reader: upcaster.to.type },
      });
    }
    data = rethrowing(() => upcaster.to.parse(result), `${label} produced`, event, upcaster.to);
    at = upcaster.to.type;
  });
  return data;
}

/** Runs a decode or parse; a Herald failure is rethrown with the same code and where it happened. */
function rethrowing<T>(fn: () => T, where: string, event: StoredEvent, definition: EventDefinition): T {
  try {
    return fn();
  } catch (error) {
    if (!isHeraldError(error)) throw error;
    throw new HeraldError(error.code, `${where}: ${error.message}`, {
      cause: error,
      details: { ...error.details, type: event.type, reader: definition.type },
    });
  }
}
