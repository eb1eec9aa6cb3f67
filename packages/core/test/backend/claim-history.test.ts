import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import { ClaimHistory } from '../../src/backend/claim-history.ts';
import type { StoredEvent } from '../../src/envelope.ts';

const stored = (offset: number): StoredEvent => ({
  ...makeEvent(offset),
  topic: 'orders',
  partition: 0,
  offset,
  timestamp: 0,
});

void describe('ClaimHistory', () => {
  void it('owns whatever a first claim delivers', () => {
    const claim = new ClaimHistory().claim('orders#0');
    const events = [0, 1, 2].map(stored);
    for (const event of events) claim.delivered(event);
    assert.ok(events.every((event) => claim.owns(event)));
  });

  void it('tells a new claim’s redelivered events from the earlier claim’s at the same offsets', () => {
    const history = new ClaimHistory();
    const first = history.claim('orders#0');
    const before = [0, 1, 2].map(stored);
    for (const event of before) first.delivered(event);

    const second = history.claim('orders#0');
    const again = [1, 2].map(stored);
    for (const event of again) second.delivered(event);
    const beyond = stored(3);
    second.delivered(beyond);

    assert.deepEqual(
      before.map((event) => second.owns(event)),
      [false, false, false],
    );
    assert.ok(again.every((event) => second.owns(event)));
    assert.ok(second.owns(beyond), 'an offset no earlier claim delivered is the new claim’s');
  });

  void it('remembers what every earlier claim delivered, not only the last one', () => {
    const history = new ClaimHistory();
    const first = history.claim('orders#0');
    first.delivered(stored(5));
    history.claim('orders#0'); // claimed and lost again before delivering anything
    const third = history.claim('orders#0');
    assert.equal(third.owns(stored(5)), false);
    assert.equal(history.claim('orders#1').owns(stored(5)), true, 'partitions are apart');
  });
});
