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

/** A store with `latestFailure` that counts its per-delivery reads. */
class ClaimingStore extends MemoryStore {
  readonly offsets = new Set<number>();
  reads = 0;
  claims = 0;
  override async recordFailure(k: DeliveryKey, error: string) {
    this.offsets.add(k.offset);
    return super.recordFailure(k, error);
  }
  override async clearFailures(k: DeliveryKey) {
    this.offsets.delete(k.offset);
    return super.clearFailures(k);
  }
  override async failures(k: DeliveryKey) {
    this.reads++;
    return super.failures(k);
  }
  async latestFailure(): Promise<number | undefined> {
    this.claims++;
    return this.offsets.size === 0 ? undefined : Math.max(...this.offsets);
  }
}

void describe('DeliveryFailures with a store that knows the latest failure of a partition', () => {
  void it('reads the failure records once per claim, then only for deliveries at or below the latest one and those it recorded itself', async () => {
    const store = new ClaimingStore();
    // A previous member recorded a failure at offset 5 and died.
    await new DeliveryFailures(store).record(key(5), new Error('before the claim'));
    store.reads = 0;

    const failures = new DeliveryFailures(store);
    assert.equal((await failures.of(key(5)))?.attempts, 1, 'the earlier failure is found');
    assert.equal(await failures.of(key(6)), undefined);
    assert.equal(await failures.of(key(7)), undefined);
    assert.deepEqual([store.claims, store.reads], [1, 1], 'one claim read, one delivery read (offset 5)');

    await failures.record(key(9), new Error('now'));
    assert.equal((await failures.of(key(9)))?.attempts, 1, 'its own failure is read back');
    await failures.clear(key(9));
    assert.equal(await failures.of(key(9)), undefined);

    failures.released('orders', 0);
    await store.recordFailure(key(12), 'recorded by another member while the partition was away');
    assert.equal((await failures.of(key(12)))?.attempts, 1, 'a new claim reads the records again');
    assert.equal(store.claims, 2);
  });
});
