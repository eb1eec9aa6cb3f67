import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consistencyTokenOf, eventTokenOf } from '../../../src/services/orders/order-placement.ts';
import { parseConsistencyToken } from '../../../src/services/orders/order-queries.ts';

describe('consistency tokens', () => {
  it('name a position in the log when the store appended OrderPlaced in its transaction', () => {
    const token = consistencyTokenOf({ topic: 'orders', partition: 2, offset: 41 });
    assert.equal(token, 'orders:2:41');
    assert.deepEqual(parseConsistencyToken(token), {
      kind: 'position',
      topic: 'orders',
      partition: 2,
      offset: 41,
    });
  });

  it('name OrderPlaced by id when it waits in an outbox', () => {
    const token = eventTokenOf('0b7c/order-placed');
    assert.equal(token, 'event:0b7c/order-placed');
    assert.deepEqual(parseConsistencyToken(token), {
      kind: 'event',
      eventId: '0b7c/order-placed',
      orderId: '0b7c',
    });
  });

  it('refuse anything else', () => {
    for (const token of [
      '',
      'orders',
      'orders:1',
      'orders:-1:2',
      'event:',
      'event:x/order-confirmed',
      'event:a b/order-placed',
    ]) {
      assert.equal(parseConsistencyToken(token), undefined, token);
    }
  });
});
