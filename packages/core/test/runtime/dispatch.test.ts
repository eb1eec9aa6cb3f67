import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import { z } from 'zod';
import { defineEvent } from '../../src/define-event.ts';
import type { EventDefinition } from '../../src/define-event.ts';
import type { StoredEvent } from '../../src/envelope.ts';
import { isHeraldError } from '../../src/errors.ts';
import { Dispatch, type EventDecoder } from '../../src/runtime/dispatch.ts';
import type { HandlerContext, Middleware } from '../../src/runtime/handler.ts';

const MeasuredV1 = defineEvent({ type: 'dev.herald.test.measured.v1', schema: z.object({ cm: z.number() }) });
const MeasuredV2 = defineEvent({ type: 'dev.herald.test.measured.v2', schema: z.object({ mm: z.number() }) });

const stored = (event: ReturnType<typeof makeEvent>, offset = 0): StoredEvent => ({
  ...event,
  topic: 'measures',
  partition: 0,
  offset,
  timestamp: 0,
});
const measured = (definition: EventDefinition<{ cm: number } | { mm: number }>, data: object) =>
  stored(definition.create(data as never, { source: '/t', key: 'a' }));
/** Dispatch never reads the context: routes receive it as it is. */
const context = { group: 'test.dispatch' } as HandlerContext;

/** Sends v1 events to the v2 route, converting centimetres to millimetres. */
const decoder: EventDecoder = {
  route: (eventType, routeTypes) =>
    eventType === MeasuredV1.type ? [...routeTypes].find((t) => t === MeasuredV2.type) : undefined,
  decode<Data>(event: StoredEvent, definition: EventDefinition<Data>): Data {
    if (event.type === definition.type) return definition.decode(event.data);
    return definition.parse({ mm: MeasuredV1.decode(event.data).cm * 10 });
  },
};

void describe('Dispatch', () => {
  void it('hands an event to the route of its type, typed routes getting decoded and validated data', async () => {
    const dispatch = new Dispatch({ group: 'test.dispatch' });
    const seen: unknown[] = [];
    dispatch.add(MeasuredV2, (data, event) => {
      seen.push([data, event.offset]);
    });
    dispatch.add(MeasuredV1.type, async (event) => {
      seen.push(event.type);
    });
    await dispatch.handle(measured(MeasuredV2, { mm: 4 }), context);
    await dispatch.handle(measured(MeasuredV1, { cm: 1 }), context);
    assert.deepEqual(seen, [[{ mm: 4 }, 0], MeasuredV1.type]);
  });

  void it('refuses data its definition does not accept as poison (VALIDATION_FAILED), before the handler runs', async () => {
    const dispatch = new Dispatch({ group: 'test.dispatch' });
    let ran = false;
    dispatch.add(MeasuredV2, () => {
      ran = true;
    });
    await assert.rejects(
      dispatch.handle(stored({ ...makeEvent(1), type: MeasuredV2.type }), context),
      (error) => isHeraldError(error, 'VALIDATION_FAILED'),
    );
    assert.equal(ran, false);
  });

  void it('skips an event no route takes, and fails it with UNSUPPORTED when unrouted is fail', async () => {
    const skipping = new Dispatch({ group: 'test.dispatch' });
    await skipping.handle(measured(MeasuredV1, { cm: 1 }), context);
    const failing = new Dispatch({ group: 'test.dispatch', unrouted: 'fail' });
    await assert.rejects(failing.handle(measured(MeasuredV1, { cm: 1 }), context), (error) =>
      isHeraldError(error, 'UNSUPPORTED'),
    );
  });

  void it('refuses a second route for the same type', () => {
    const dispatch = new Dispatch({ group: 'test.dispatch' });
    dispatch.add(MeasuredV2, () => undefined);
    assert.throws(
      () => dispatch.add(MeasuredV2.type, async () => undefined),
      (error) => isHeraldError(error, 'INVALID_ARGUMENT'),
    );
  });

  void it('with a decoder, sends another version of an event to the route the decoder picks, with the data it decodes', async () => {
    const dispatch = new Dispatch({ group: 'test.dispatch', decoder });
    const seen: number[] = [];
    dispatch.add(MeasuredV2, (data) => {
      seen.push(data.mm);
    });
    await dispatch.handle(measured(MeasuredV1, { cm: 3 }), context);
    await dispatch.handle(measured(MeasuredV2, { mm: 45 }), context);
    assert.deepEqual(seen, [30, 45]);
  });

  void it('wraps a route in its own middleware, outermost first, inside whatever wraps dispatch', async () => {
    const dispatch = new Dispatch({ group: 'test.dispatch' });
    const trail: string[] = [];
    const tag =
      (name: string): Middleware =>
      (next) =>
      async (event, ctx) => {
        trail.push(name);
        await next(event, ctx);
      };
    dispatch.add(MeasuredV2.type, async () => void trail.push('handler'), [tag('outer'), tag('inner')]);
    await dispatch.handle(measured(MeasuredV2, { mm: 1 }), context);
    assert.deepEqual(trail, ['outer', 'inner', 'handler']);
  });
});
