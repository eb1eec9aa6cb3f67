// Fault covered: the disk fills up (F14). The log lives on a tmpfs of a few MiB mounted by the
// test; a filler file takes the free space. Writes then fail with BACKEND_UNAVAILABLE ("disk
// full"), nothing of a failed write is stored, what was acknowledged stays readable, and once
// space returns the same log instance writes again, without a reopen.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CloudEvent, isHeraldError } from '@herald/core';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { mountSmallDisk, smallDiskUnavailable } from '@herald/testing';

const unavailable = smallDiskUnavailable();
const skip = process.env.CI === 'true' ? false : unavailable === undefined ? false : unavailable;

const encoder = new TextEncoder();
const event = (id: string): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test/disk-full',
  type: 'dev.herald.test.happened.v1',
  partitionkey: id,
  data: encoder.encode(JSON.stringify({ id, pad: 'x'.repeat(2000) })),
});

describe('the embedded log on a full disk', { skip }, () => {
  it('refuses writes with BACKEND_UNAVAILABLE while the disk is full, stores nothing of them, and writes again once space returns', async () => {
    await using disk = mountSmallDisk(8);
    const log = await openSqliteLog({ path: `${disk.dir}/log.db` });
    try {
      const store = await openSqliteStore(log);
      await log.createTopic('t', { partitions: 2 });
      const acknowledged: string[] = [];
      for (let i = 0; i < 20; i++) {
        await log.append('t', event(`before-${i}`));
        acknowledged.push(`before-${i}`);
      }
      disk.fill();

      // Keep writing until the disk refuses: every failure is a clear, retryable error.
      const failures: unknown[] = [];
      for (let i = 0; failures.length < 5 && i < 10_000; i++) {
        const id = `during-${i}`;
        try {
          if (i % 2 === 0) {
            await log.append('t', event(id));
          } else {
            await store.transaction(async (tx) => {
              await tx.put('things', id, { pad: 'y'.repeat(2000) });
              await tx.emit('t', event(id));
            });
          }
          acknowledged.push(id);
        } catch (error) {
          failures.push(error);
        }
      }
      assert.ok(failures.length > 0, 'the full disk refused a write');
      for (const failure of failures) {
        assert.ok(isHeraldError(failure, 'BACKEND_UNAVAILABLE'), String(failure));
        assert.equal(failure.retryable, true);
        assert.equal(failure.details['reason'], 'disk full', failure.message);
      }

      // Exactly what was acknowledged is stored: dense offsets, no half of a failed transaction.
      const stored = async () =>
        (
          await Promise.all(
            [0, 1].map((partition) => log.read('t', { partition, from: 'earliest', limit: 100_000 })),
          )
        )
          .flat()
          .map((e) => e.id);
      assert.deepEqual(new Set(await stored()), new Set(acknowledged));
      const things = new Set((await store.list('things', { limit: 100_000 })).map((d) => d.id));
      for (const id of things)
        assert.ok(acknowledged.includes(id), `${id} was stored but never acknowledged`);

      // Space returns: the same instance writes again.
      disk.free();
      await log.append('t', event('after'));
      await store.transaction(async (tx) => {
        await tx.put('things', 'after', { ok: true });
        await tx.emit('t', event('after-tx'));
      });
      const after = await stored();
      assert.ok(after.includes('after') && after.includes('after-tx'));
      for (const partition of [0, 1]) {
        const offsets = (await log.read('t', { partition, from: 'earliest', limit: 100_000 })).map(
          (e) => e.offset,
        );
        assert.deepEqual(
          offsets,
          offsets.map((_, i) => i),
          `partition ${partition} is dense`,
        );
      }
    } finally {
      await log.close();
    }
  });
});
