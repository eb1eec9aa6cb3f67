// Causation on every event: two CloudEvents extension attributes that tie an event to the event
// whose handling emitted it (`causationid`) and to the first event of its whole chain
// (`correlationid`). They travel as ordinary extensions, so every backend and binding carries
// them unchanged (Kafka: `ce_correlationid`/`ce_causationid` headers).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CloudEvent } from './envelope.ts';

/** The extension naming the first event of the chain an event belongs to. */
export const CORRELATION_ID = 'correlationid';
/** The extension naming the event whose handling emitted this one. */
export const CAUSATION_ID = 'causationid';

/** The correlation id of `event`: its `correlationid`, or its own id for an event without one. */
export function correlationOf(event: CloudEvent): string {
  return event.extensions?.[CORRELATION_ID] ?? event.id;
}

/** The id of the event whose handling emitted `event`, or undefined for the start of a chain. */
export function causationOf(event: CloudEvent): string | undefined {
  return event.extensions?.[CAUSATION_ID];
}

/**
 * `event` with its causation stamped: emitted while handling `cause`, it carries `cause.id` as
 * `causationid` and `cause`'s correlation id as `correlationid`; with no cause it starts a chain
 * and carries its own id as `correlationid`. Attributes the event was given already are kept,
 * so stamping twice changes nothing and a producer may set its own correlation id.
 *
 * @example stampCausation(OrderConfirmed.create(data, { source: '/orders' }), placedEvent)
 */
export function stampCausation<E extends CloudEvent>(event: E, cause: CloudEvent | undefined): E {
  const extensions = event.extensions;
  const correlation = extensions?.[CORRELATION_ID];
  const causation = extensions?.[CAUSATION_ID];
  if (cause === undefined) {
    if (correlation !== undefined) return event;
    return { ...event, extensions: { ...extensions, [CORRELATION_ID]: event.id } };
  }
  if (correlation !== undefined && causation !== undefined) return event;
  return {
    ...event,
    extensions: {
      ...extensions,
      [CORRELATION_ID]: correlation ?? correlationOf(cause),
      [CAUSATION_ID]: causation ?? cause.id,
    },
  };
}

const handling = new AsyncLocalStorage<CloudEvent>();

/**
 * Runs `fn` as the handling of `event`: events published from inside it, in its async context,
 * are stamped as caused by `event`. The router runs every handler this way.
 */
export function runHandling<T>(event: CloudEvent, fn: () => T): T {
  return handling.run(event, fn);
}

/** The event being handled in the current async context, if any. */
export function eventBeingHandled(): CloudEvent | undefined {
  return handling.getStore();
}
