import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyScheduler } from '../../src/runtime/key-scheduler.ts';
import { gate } from './fixtures/harness.ts';

void describe('KeyScheduler', () => {
  void it('runs the tasks of one key one at a time, in the order they were scheduled', async () => {
    const scheduler = new KeyScheduler();
    const trail: string[] = [];
    const first = gate();
    const one = scheduler.schedule('k', async () => {
      trail.push('start 1');
      await first.opened;
      trail.push('end 1');
    });
    const two = scheduler.schedule('k', async () => {
      trail.push('start 2');
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(trail, ['start 1'], 'the second task of the key started before the first ended');
    first.open();
    await Promise.all([one, two]);
    assert.deepEqual(trail, ['start 1', 'end 1', 'start 2']);
  });

  void it('runs tasks of different keys concurrently', async () => {
    const scheduler = new KeyScheduler();
    const blocked = gate();
    let otherRan = false;
    const slow = scheduler.schedule('a', () => blocked.opened);
    await scheduler.schedule('b', async () => {
      otherRan = true;
    });
    assert.equal(otherRan, true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(scheduler.busyKeys, 1, 'only the blocked key is still busy');
    blocked.open();
    await slow;
  });

  void it('starts the next task of a key after the previous one failed, and reports the failure to its caller', async () => {
    const scheduler = new KeyScheduler();
    const failing = scheduler.schedule('k', () => Promise.reject(new Error('boom')));
    let ran = false;
    const next = scheduler.schedule('k', async () => {
      ran = true;
    });
    await assert.rejects(failing, /boom/);
    await next;
    assert.equal(ran, true);
  });

  void it('is idle once every task scheduled so far settled, failed ones included, and forgets idle keys', async () => {
    const scheduler = new KeyScheduler();
    const release = gate();
    let finished = false;
    void scheduler
      .schedule('a', async () => {
        await release.opened;
        finished = true;
      })
      .catch(() => undefined);
    scheduler.schedule('b', () => Promise.reject(new Error('boom'))).catch(() => undefined);
    const idle = scheduler.idle().then(() => finished);
    release.open();
    assert.equal(await idle, true, 'idle resolved while a task was still running');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(scheduler.busyKeys, 0);
  });
});
