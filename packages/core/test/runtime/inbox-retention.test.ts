import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Store, isHeraldError, startInboxRetention } from '@herald/core';

/** A store whose inbox is a list of handling times; only what retention needs. */
function inboxOf(handledAt: number[]): { store: Store; left: () => number[]; calls: number[][] } {
  let entries = [...handledAt].sort((a, b) => a - b);
  const calls: number[][] = [];
  const store = {
    async pruneInbox(handledBefore: number, limit: number) {
      calls.push([handledBefore, limit]);
      const old = entries.filter((at) => at < handledBefore).slice(0, limit);
      entries = entries.slice(old.length);
      return old.length;
    },
  } as unknown as Store;
  return { store, left: () => entries, calls };
}

describe('inbox retention', () => {
  it('deletes every entry handled before now minus the retention, in batches, and keeps the newer ones', async () => {
    const now = 1_000_000;
    const { store, left, calls } = inboxOf([
      ...Array.from({ length: 25 }, (_, i) => now - 5_000 - i),
      now - 999,
      now - 10,
    ]);
    const retention = startInboxRetention([store], { retentionMs: 1_000, batchSize: 10, now: () => now });
    assert.equal(await retention.prune(), 25);
    await retention.stop();
    assert.deepEqual(left(), [now - 999, now - 10]);
    assert.deepEqual(
      calls.map(([cutoff, limit]) => [cutoff, limit]),
      [
        [now - 1_000, 10],
        [now - 1_000, 10],
        [now - 1_000, 10],
      ],
      'three batches: 10, 10, then 5 (short: done)',
    );
  });

  it('prunes a store given twice once, and leaves stores without pruneInbox alone', async () => {
    const { store, calls } = inboxOf([1]);
    const retention = startInboxRetention([store, store, {} as Store], { retentionMs: 1, now: () => 10 });
    assert.equal(await retention.prune(), 1);
    await retention.stop();
    assert.equal(calls.length, 1);
  });

  it('runs by itself every interval until stopped', async () => {
    const { store, calls } = inboxOf([]);
    const retention = startInboxRetention([store], { retentionMs: 1_000, intervalMs: 5 });
    while (calls.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    await retention.stop();
    const after = calls.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(calls.length, after, 'no round after stop');
  });

  it('refuses a retention that is not a positive number of ms with INVALID_ARGUMENT', () => {
    for (const retentionMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => startInboxRetention([], { retentionMs }),
        (error: unknown) => isHeraldError(error) && error.code === 'INVALID_ARGUMENT',
      );
    }
  });
});
