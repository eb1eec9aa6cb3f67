// ViewChanges: wakes readers waiting for an order's view, and says how many orders are waited
// for (the engine thread forwards its view changes only while the API thread has readers).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ViewChanges } from '../../../src/services/orders/view-changes.ts';

void describe('ViewChanges', () => {
  void it('tells its listener how many orders are waited for as readers start and stop waiting', async () => {
    const changes = new ViewChanges({ pollIntervalMs: 60_000 });
    const seen: number[] = [];
    changes.onWaiting((orders) => seen.push(orders));
    const a1 = changes.next('order-a', 60_000);
    const a2 = changes.next('order-a', 60_000);
    const controller = new AbortController();
    const b = changes.next('order-b', 60_000, controller.signal);
    assert.equal(changes.waiting, 2);
    changes.notify('order-a');
    await Promise.all([a1, a2]);
    assert.equal(changes.waiting, 1);
    controller.abort();
    await b;
    assert.equal(changes.waiting, 0);
    assert.deepEqual(seen, [0, 1, 2, 1, 0]);
  });

  void it('wakes a reader at its poll interval when no change is signalled', async () => {
    const changes = new ViewChanges({ pollIntervalMs: 1 });
    await changes.next('order-a', 60_000);
    assert.equal(changes.waiting, 0);
  });
});
