import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryFailures } from '../../src/runtime/delivery-failures.ts';
import type { DeliveryKey } from '../../src/runtime/store.ts';
import { MemoryStore } from './fixtures/memory-store.ts';

const key = (offset: number): DeliveryKey => ({
  group: 'test.failures',
  topic: 'orders',
  partition: 0,
  offset,
});

for (const [kind, make] of [
  ['without a store (in memory)', () => new DeliveryFailures(undefined)],
  ['with a store', () => new DeliveryFailures(new MemoryStore())],
] as const) {
  void describe(`DeliveryFailures ${kind}`, () => {
    void it('counts the failed attempts of one delivery, keeping the first time and the last error', async () => {
      const failures = make();
      assert.equal(await failures.of(key(1)), undefined);
      const first = await failures.record(key(1), new TypeError('bad'));
      const second = await failures.record(key(1), 'plain');
      assert.equal(first.attempts, 1);
      assert.equal(first.lastError, 'TypeError: bad');
      assert.equal(second.attempts, 2);
      assert.equal(second.firstFailureAt, first.firstFailureAt);
      assert.equal(second.lastError, 'plain');
      assert.deepEqual(await failures.of(key(1)), second);
    });

    void it('counts each delivery apart, and forgets one once cleared', async () => {
      const failures = make();
      await failures.record(key(1), new Error('a'));
      await failures.record(key(2), new Error('b'));
      await failures.clear(key(1));
      assert.equal(await failures.of(key(1)), undefined);
      assert.equal((await failures.of(key(2)))?.attempts, 1);
      assert.equal((await failures.record(key(1), new Error('again'))).attempts, 1, 'a replay starts at 1');
    });
  });
}

void describe('DeliveryFailures', () => {
  void it('keeps the counts in the store, where another instance (a restarted process) finds them', async () => {
    const store = new MemoryStore();
    await new DeliveryFailures(store).record(key(7), new Error('crash ahead'));
    assert.equal((await new DeliveryFailures(store).of(key(7)))?.attempts, 1);
    assert.equal(await new DeliveryFailures(undefined).of(key(7)), undefined);
  });
});
