import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { parkEvent, parkKey } from '../../src/runtime/key-parking.ts';
import { registerParkingMetrics, renderMetrics } from '../../src/runtime/middleware/metrics.ts';
import { MemoryStore } from './fixtures/memory-store.ts';

void describe('the parking gauges', () => {
  void it('report parked keys and the events behind them per group at each scrape, from the store', async () => {
    const store = new MemoryStore();
    const registry = new Registry();
    registerParkingMetrics(
      [
        { group: 'test.parking', store },
        { group: 'test.flowing', store },
      ],
      registry,
    );
    let body = (await renderMetrics(registry)).body;
    assert.match(body, /^herald_parked_keys\{group="test\.parking"\} 0$/m);

    for (const key of ['a', 'b']) {
      const ref = { group: 'test.parking', topic: 'orders', partition: 0, key };
      await parkKey(store, ref, { eventId: `${key}-1`, offset: 1, deadLetter: null });
      await parkEvent(store, ref, { offset: 2, eventId: `${key}-2` });
      await parkEvent(store, ref, { offset: 2, eventId: `${key}-2` });
    }
    await parkEvent(
      store,
      { group: 'test.parking', topic: 'orders', partition: 0, key: 'a' },
      {
        offset: 3,
        eventId: 'a-3',
      },
    );
    body = (await renderMetrics(registry)).body;
    assert.match(body, /^herald_parked_keys\{group="test\.parking"\} 2$/m);
    assert.match(
      body,
      /^herald_parked_events\{group="test\.parking"\} 3$/m,
      'an event parked twice counts once',
    );
    assert.match(body, /^herald_parked_keys\{group="test\.flowing"\} 0$/m);
    assert.throws(() => registerParkingMetrics([], registry), { code: 'INVALID_ARGUMENT' });
  });
});
