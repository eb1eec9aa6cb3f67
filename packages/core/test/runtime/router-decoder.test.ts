import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@herald/testing';
import { z } from 'zod';
import { defineEvent } from '../../src/define-event.ts';
import type { EventDefinition } from '../../src/define-event.ts';
import type { StoredEvent } from '../../src/envelope.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { createRouter } from '../../src/runtime/router.ts';
import type { EventDecoder } from '../../src/runtime/router.ts';
import { start } from './fixtures/harness.ts';

const MeasuredV1 = defineEvent({ type: 'dev.herald.test.measured.v1', schema: z.object({ cm: z.number() }) });
const MeasuredV2 = defineEvent({ type: 'dev.herald.test.measured.v2', schema: z.object({ mm: z.number() }) });

/** Sends v1 events to the v2 route, converting centimetres to millimetres. */
const decoder: EventDecoder = {
  route: (eventType, routeTypes) =>
    eventType === MeasuredV1.type ? [...routeTypes].find((t) => t === MeasuredV2.type) : undefined,
  decode<Data>(event: StoredEvent, definition: EventDefinition<Data>): Data {
    if (event.type === definition.type) return definition.decode(event.data);
    return definition.parse({ mm: MeasuredV1.decode(event.data).cm * 10 });
  },
};

void describe('Router with a decoder', () => {
  void it('routes events the decoder maps to a typed route, with the data it decodes', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('measures', { partitions: 1 });
    await log.appendBatch('measures', [
      MeasuredV1.create({ cm: 3 }, { source: '/t', key: 'a' }),
      MeasuredV2.create({ mm: 45 }, { source: '/t', key: 'a' }),
    ]);
    const seen: number[] = [];
    const router = createRouter({ log, group: 'test.measures', topics: ['measures'], decoder });
    router.on(MeasuredV2, (data) => {
      seen.push(data.mm);
    });
    const running = start(router);
    await waitFor(() => seen.length === 2, 10_000, 'both events handled');
    await running.stop();
    assert.deepEqual(seen, [30, 45]);
  });

  void it('skips, and commits past, an event neither a route nor the decoder maps', async () => {
    const Weighed = defineEvent({ type: 'dev.herald.test.weighed.v1', schema: z.object({ g: z.number() }) });
    await using log = await openMemoryLog();
    await log.createTopic('measures', { partitions: 1 });
    await log.appendBatch('measures', [
      Weighed.create({ g: 5 }, { source: '/t', key: 'a' }),
      MeasuredV1.create({ cm: 1 }, { source: '/t', key: 'a' }),
    ]);
    const seen: number[] = [];
    const router = createRouter({ log, group: 'test.measures', topics: ['measures'], decoder });
    router.on(MeasuredV2, (data) => {
      seen.push(data.mm);
    });
    const running = start(router);
    await waitFor(() => seen.length === 1, 10_000, 'the v1 event handled');
    await running.stop();
    assert.deepEqual(seen, [10]);
    const [partition] = (await log.describeGroup('test.measures')).partitions;
    assert.equal(partition?.committed, 2);
  });
});
