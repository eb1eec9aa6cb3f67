import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_TYPE, makeEvent, sleep } from '@herald/testing';
import { isHeraldError } from '../../src/errors.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { retry } from '../../src/runtime/middleware/retry.ts';
import { timeout } from '../../src/runtime/middleware/timeout.ts';
import { createRouter } from '../../src/runtime/router.ts';
import { gate, start, waitForNoLag } from './fixtures/harness.ts';

void describe('timeout', () => {
  void it('fails a slow attempt with TIMEOUT, aborts its signal, and lets retry try again', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const seen: { attempt: number; lastError: string | undefined }[] = [];
    let abortReason: unknown;
    let firstAttemptEnded = false;
    const router = createRouter({
      log,
      group: 'test.timeout',
      topics: ['orders'],
      middleware: [retry({ maxAttempts: 3, initialDelayMs: 5 })],
    });
    router.on(
      TEST_TYPE,
      async (_event, ctx) => {
        seen.push({ attempt: ctx.attempt, lastError: ctx.failures?.lastError });
        if (ctx.attempt === 1) {
          // A handler that passes its signal on stops when the attempt times out.
          await new Promise<void>((resolve) =>
            ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
          );
          abortReason = ctx.signal.reason;
          firstAttemptEnded = true;
        }
      },
      { middleware: [timeout({ ms: 50 })] },
    );
    const startedAt = performance.now();
    const run = start(router);
    await waitForNoLag(log, 'test.timeout');
    await run.stop();
    assert.equal(firstAttemptEnded, true, 'the slow attempt was never told to stop');
    assert.ok(isHeraldError(abortReason, 'TIMEOUT'), `the signal was aborted with ${String(abortReason)}`);
    assert.deepEqual(
      seen.map((s) => s.attempt),
      [1, 2],
    );
    assert.match(seen[1]!.lastError ?? '', /took longer than 50 ms/);
    assert.ok(performance.now() - startedAt >= 50);
  });

  void it('leaves a handler that finishes in time alone', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0), makeEvent(1)]);
    const aborted: boolean[] = [];
    const router = createRouter({ log, group: 'test.in-time', topics: ['orders'] });
    router.on(
      TEST_TYPE,
      async (_event, ctx) => {
        await sleep(5);
        aborted.push(ctx.signal.aborted);
      },
      { middleware: [timeout({ ms: 1000 })] },
    );
    const run = start(router);
    await waitForNoLag(log, 'test.in-time');
    await run.stop();
    assert.deepEqual(aborted, [false, false]);
  });

  void it('aborts the signal of every attempt running when the router stops, and of no attempt that finished', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    // Key a: one event that finishes at once; keys b, c, d: one event each that waits for its signal.
    await log.appendBatch('orders', [
      makeEvent(0, 'a'),
      makeEvent(1, 'b'),
      makeEvent(2, 'c'),
      makeEvent(3, 'd'),
    ]);
    const finishedSignals: AbortSignal[] = [];
    const waiting: Promise<unknown>[] = [];
    const allWaiting = gate();
    const router = createRouter({ log, group: 'test.timeout-stop', topics: ['orders'] });
    router.on(
      TEST_TYPE,
      async (event, ctx) => {
        if (event.partitionkey === 'a') {
          finishedSignals.push(ctx.signal);
          return;
        }
        const aborted = new Promise<unknown>((resolve) =>
          ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason), { once: true }),
        );
        waiting.push(aborted);
        if (waiting.length === 3) allWaiting.open();
        await aborted;
      },
      { middleware: [timeout({ ms: 60_000 })] },
    );
    const run = start(router);
    await allWaiting.opened;
    await run.stop();
    const reasons = await Promise.all(waiting);
    assert.equal(reasons.length, 3);
    for (const reason of reasons)
      assert.ok(!isHeraldError(reason, 'TIMEOUT'), `aborted by ${String(reason)}`);
    assert.equal(finishedSignals.length, 1);
    assert.equal(finishedSignals[0]!.aborted, false, 'an attempt that had finished was aborted on stop');
  });

  void it('stops the router with TIMEOUT when no retry or dead letter handles it', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const router = createRouter({ log, group: 'test.timeout-escapes', topics: ['orders'] });
    router.on(TEST_TYPE, () => sleep(1000), { middleware: [timeout({ ms: 20 })] });
    await assert.rejects(router.run(), (error) => isHeraldError(error, 'TIMEOUT'));
  });

  void it('refuses a duration that is not positive', () => {
    for (const ms of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => timeout({ ms }),
        (e) => isHeraldError(e, 'INVALID_ARGUMENT'),
      );
    }
  });
});
