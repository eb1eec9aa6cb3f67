import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { makeEvent } from '@herald/testing';
import type { EventLog } from '../../src/event-log.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { registerLagMetrics, renderMetrics } from '../../src/runtime/middleware/metrics.ts';

void describe('the consumer group members gauge', () => {
  void it('reports the live members of each group at each scrape, 0 once the last one has left', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 2 });
    await log.append('orders', makeEvent(0));
    const registry = new Registry();
    registerLagMetrics(log, ['test.members', 'test.nobody'], registry);

    const first = await log.subscribe({ group: 'test.members', topics: ['orders'] });
    await using second = await log.subscribe({ group: 'test.members', topics: ['orders'] });
    let body = (await renderMetrics(registry)).body;
    assert.match(body, /^herald_consumer_group_members\{group="test\.members"\} 2$/m);
    assert.match(body, /^herald_consumer_group_members\{group="test\.nobody"\} 0$/m);

    await first.close();
    await second.close();
    body = (await renderMetrics(registry)).body;
    assert.match(body, /^herald_consumer_group_members\{group="test\.members"\} 0$/m);
  });

  void it('asks the log once per group and scrape for both the lag and the members', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    let calls = 0;
    const counting = new Proxy(log, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property !== 'describeGroup' || typeof value !== 'function') return value;
        return (group: string) => {
          calls++;
          return (value as EventLog['describeGroup']).call(target, group);
        };
      },
    });
    const registry = new Registry();
    registerLagMetrics(counting, ['test.a', 'test.b'], registry);
    await renderMetrics(registry);
    assert.equal(calls, 2);
    await renderMetrics(registry);
    assert.equal(calls, 4);
  });
});
