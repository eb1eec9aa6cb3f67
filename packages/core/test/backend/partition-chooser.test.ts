import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import { PartitionChooser } from '@herald/core/backend';
import { isHeraldError } from '../../src/errors.ts';
import { partitionFor } from '../../src/partitioner.ts';

const keyless = {};

void describe('PartitionChooser', () => {
  void it('uses the partition the caller named, even for an event with a key', () => {
    const chooser = new PartitionChooser();
    assert.equal(chooser.choose('orders', 4, makeEvent(1, 'customer-7'), 3), 3);
    assert.equal(chooser.choose('orders', 4, keyless, 0), 0);
  });

  void it('refuses a named partition the topic does not have', () => {
    const chooser = new PartitionChooser();
    for (const partition of [4, -1, 1.5]) {
      assert.throws(
        () => chooser.choose('orders', 4, keyless, partition),
        (error) => isHeraldError(error, 'INVALID_ARGUMENT') && /has partitions 0\.\.3/.test(error.message),
      );
    }
  });

  void it('sends events with the same key to the partition partitionFor picks', () => {
    const chooser = new PartitionChooser();
    for (const key of ['customer-1', 'customer-2', 'käse', '']) {
      const expected = partitionFor(key, 12);
      assert.equal(chooser.choose('orders', 12, { partitionkey: key }), expected);
      assert.equal(chooser.choose('orders', 12, { partitionkey: key }), expected);
    }
  });

  void it('sends events without a key round-robin from partition 0, counting per topic', () => {
    const chooser = new PartitionChooser();
    const orders = [0, 1, 2, 3, 4].map(() => chooser.choose('orders', 3, keyless));
    const payments = [0, 1].map(() => chooser.choose('payments', 2, keyless));
    assert.deepEqual(orders, [0, 1, 2, 0, 1]);
    assert.deepEqual(payments, [0, 1]);
    assert.equal(chooser.choose('orders', 3, keyless), 2);
  });

  void it('does not move the round-robin turn for keyed or explicitly placed events', () => {
    const chooser = new PartitionChooser();
    assert.equal(chooser.choose('orders', 3, keyless), 0);
    chooser.choose('orders', 3, { partitionkey: 'customer-1' });
    chooser.choose('orders', 3, keyless, 0);
    assert.equal(chooser.choose('orders', 3, keyless), 1);
  });

  void it('gives each chooser (one per log client) its own turn', () => {
    const first = new PartitionChooser();
    const second = new PartitionChooser();
    assert.equal(first.choose('orders', 2, keyless), 0);
    assert.equal(second.choose('orders', 2, keyless), 0);
  });
});
