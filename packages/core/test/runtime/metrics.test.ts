import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { TEST_TYPE, eventNumber, makeEvent } from '@herald/testing';
import { isHeraldError } from '../../src/errors.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { PermanentFailure } from '../../src/runtime/handler.ts';
import { deadLetter } from '../../src/runtime/middleware/dead-letter.ts';
import {
  metrics,
  publishMetrics,
  registerLagMetrics,
  renderMetrics,
} from '../../src/runtime/middleware/metrics.ts';
import { createProducer } from '../../src/runtime/producer.ts';
import { Thing } from './fixtures/harness.ts';
import { retry } from '../../src/runtime/middleware/retry.ts';
import { createRouter } from '../../src/runtime/router.ts';
import { start, waitForNoLag } from './fixtures/harness.ts';

/** The sum of a counter's or gauge's series, or of a histogram's counts, matching `labels`. */
async function valueOf(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `no metric ${name}`);
  const histogram = metric instanceof Histogram;
  const { values } = await metric.get();
  return values
    .filter((v) => !histogram || ('metricName' in v && v.metricName === `${name}_count`))
    .filter((v) => Object.entries(labels).every(([label, value]) => v.labels[label] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

void describe('metrics', () => {
  void it('counts processed, failed, retried and dead-lettered events and times each call, per group, topic and type', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 2 });
    // 0-2 succeed, 3 fails once then succeeds, 4 fails for good.
    await log.appendBatch(
      'orders',
      [0, 1, 2, 3, 4].map((i) => makeEvent(i, `k${i}`)),
    );
    const measured = metrics();
    const router = createRouter({
      log,
      group: 'test.metrics',
      topics: ['orders'],
      middleware: [deadLetter(), retry({ maxAttempts: 3, initialDelayMs: 1 }), measured],
    });
    router.on(TEST_TYPE, async (event, ctx) => {
      const i = eventNumber(event);
      if (i === 3 && ctx.attempt === 1) throw new Error('try again');
      if (i === 4) throw new PermanentFailure('never');
    });
    // Another group in the same process, with its own registry: its dead letters are not ours.
    const other = metrics();
    const bystander = createRouter({
      log,
      group: 'test.bystander',
      topics: ['orders'],
      middleware: [deadLetter(), other],
    });
    bystander.on(TEST_TYPE, async () => {
      throw new PermanentFailure('parks everything');
    });
    const runs = [start(router), start(bystander)];
    await waitForNoLag(log, 'test.metrics');
    await waitForNoLag(log, 'test.bystander');
    await Promise.all(runs.map((r) => r.stop()));

    const labels = { group: 'test.metrics', topic: 'orders', type: TEST_TYPE };
    const { registry } = measured;
    assert.equal(await valueOf(registry, 'herald_events_processed_total', labels), 4);
    assert.equal(await valueOf(registry, 'herald_events_failed_total', labels), 2);
    assert.equal(await valueOf(registry, 'herald_events_retried_total', labels), 1);
    assert.equal(await valueOf(registry, 'herald_events_dead_lettered_total', labels), 1);
    assert.equal(await valueOf(registry, 'herald_handler_duration_seconds', labels), 6, 'calls timed');

    const theirs = { group: 'test.bystander', topic: 'orders', type: TEST_TYPE };
    assert.equal(await valueOf(other.registry, 'herald_events_dead_lettered_total', theirs), 5);
    assert.equal(await valueOf(other.registry, 'herald_events_failed_total', theirs), 5);
    assert.equal(await valueOf(registry, 'herald_events_dead_lettered_total', theirs), 0);
  });

  void it('lets routers share one registry, each adding to the same metrics', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.createTopic('payments', { partitions: 1 });
    await log.append('orders', makeEvent(1));
    await log.append('payments', makeEvent(2));
    const registry = new Registry();
    const routers = ['orders', 'payments'].map((topic) => {
      const router = createRouter({
        log,
        group: `test.${topic}`,
        topics: [topic],
        middleware: [metrics({ registry })],
      });
      router.on(TEST_TYPE, async () => {});
      return router;
    });
    const runs = routers.map((router) => start(router));
    await waitForNoLag(log, 'test.orders');
    await waitForNoLag(log, 'test.payments');
    await Promise.all(runs.map((r) => r.stop()));
    assert.equal(await valueOf(registry, 'herald_events_processed_total', { topic: 'orders' }), 1);
    assert.equal(await valueOf(registry, 'herald_events_processed_total', { topic: 'payments' }), 1);
    assert.equal(await valueOf(registry, 'herald_events_processed_total', {}), 2);
  });

  void it('gives every call its own registry unless one is given, and names metrics with the prefix', async () => {
    assert.notEqual(metrics().registry, metrics().registry);
    const { registry } = metrics({ prefix: 'shop_' });
    assert.deepEqual(
      registry
        .getMetricsAsArray()
        .map((m) => m.name)
        .sort(),
      [
        'shop_events_dead_lettered_total',
        'shop_events_failed_total',
        'shop_events_processed_total',
        'shop_events_retried_total',
        'shop_handler_duration_seconds',
      ],
    );
  });

  void it('reports consumer lag per group, topic and partition as it is when collected', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 2 });
    for (const i of [0, 1, 2]) await log.append('orders', makeEvent(i), { partition: 0 });
    for (const i of [3, 4]) await log.append('orders', makeEvent(i), { partition: 1 });
    await using subscription = await log.subscribe({ group: 'test.lag', topics: ['orders'] });
    await subscription.commit([{ topic: 'orders', partition: 0, offset: 1 }]);

    const registry = new Registry();
    registerLagMetrics(log, ['test.lag'], registry);
    const lag = (partition: number) =>
      valueOf(registry, 'herald_consumer_lag', {
        group: 'test.lag',
        topic: 'orders',
        partition: String(partition),
      });
    assert.equal(await lag(0), 2);
    assert.equal(await lag(1), 2, 'a partition the group never committed on lags by all it holds');

    await log.append('orders', makeEvent(9), { partition: 1 });
    await subscription.commit([{ topic: 'orders', partition: 0, offset: 3 }]);
    assert.equal(await lag(0), 0);
    assert.equal(await lag(1), 3);

    assert.throws(
      () => registerLagMetrics(log, ['test.other'], registry),
      (error) => isHeraldError(error, 'INVALID_ARGUMENT'),
    );
  });

  void it('reports how old the oldest event each partition has not consumed is, in seconds', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 2 });
    for (const i of [0, 1, 2]) await log.append('orders', makeEvent(i), { partition: 0 });
    await log.append('orders', makeEvent(3), { partition: 1 });
    await using subscription = await log.subscribe({ group: 'test.age', topics: ['orders'] });
    await subscription.commit([
      { topic: 'orders', partition: 0, offset: 1 },
      { topic: 'orders', partition: 1, offset: 1 },
    ]);
    const [oldest] = await log.read('orders', { partition: 0, from: { offset: 1 }, limit: 1 });

    const registry = new Registry();
    registerLagMetrics(log, ['test.age'], registry);
    const age = (partition: number) =>
      valueOf(registry, 'herald_consumer_lag_seconds', {
        group: 'test.age',
        topic: 'orders',
        partition: String(partition),
      });
    const before = Date.now();
    const seconds = await age(0);
    const after = Date.now();
    assert.ok(
      seconds >= (before - oldest!.timestamp) / 1000 && seconds <= (after - oldest!.timestamp) / 1000,
      `${seconds} s: the age of offset 1 when collected`,
    );
    assert.equal(await age(1), 0, 'a partition the group caught up on is not late');
  });

  void it('renders the Prometheus exposition text with every metric and its content type', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(1));
    const measured = metrics();
    registerLagMetrics(log, ['test.render'], measured.registry);
    const router = createRouter({ log, group: 'test.render', topics: ['orders'], middleware: [measured] });
    router.on(TEST_TYPE, async () => {});
    const run = start(router);
    await waitForNoLag(log, 'test.render');
    await run.stop();

    const { contentType, body } = await renderMetrics(measured.registry);
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    for (const [name, type] of [
      ['herald_events_processed_total', 'counter'],
      ['herald_events_failed_total', 'counter'],
      ['herald_events_retried_total', 'counter'],
      ['herald_events_dead_lettered_total', 'counter'],
      ['herald_handler_duration_seconds', 'histogram'],
      ['herald_consumer_lag', 'gauge'],
      ['herald_consumer_lag_seconds', 'gauge'],
    ]) {
      assert.match(body, new RegExp(`^# TYPE ${name} ${type}$`, 'm'));
    }
    assert.match(
      body,
      new RegExp(
        `^herald_events_processed_total\\{group="test.render",topic="orders",type="${TEST_TYPE}"\\} 1$`,
        'm',
      ),
    );
    assert.match(body, /^herald_consumer_lag\{group="test.render",topic="orders",partition="0"\} 0$/m);
  });

  void it('counts the events a producer sends and times each publish in semantic-convention buckets, named after the log it writes to', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    const measured = publishMetrics();
    const producer = createProducer({ log, source: '/test', middleware: [measured] });
    await producer.publish('orders', Thing, { i: 1 });
    await producer.publishBatch('orders', [
      { definition: Thing, data: { i: 2 } },
      { definition: Thing, data: { i: 3 } },
    ]);
    await assert.rejects(producer.publish('missing', Thing, { i: 4 }));

    const ok = {
      messaging_system: 'herald_memory',
      messaging_operation_name: 'send',
      messaging_destination_name: 'orders',
    };
    const { registry } = measured;
    assert.equal(await valueOf(registry, 'messaging_client_sent_messages_total', ok), 3);
    assert.equal(
      await valueOf(registry, 'messaging_client_operation_duration_seconds', ok),
      2,
      'calls timed',
    );
    const failed = { messaging_destination_name: 'missing', error_type: 'UNKNOWN_TOPIC' };
    assert.equal(await valueOf(registry, 'messaging_client_sent_messages_total', failed), 1);
    const { body } = await renderMetrics(registry);
    assert.match(body, /messaging_client_operation_duration_seconds_bucket\{le="0\.005",/);
    assert.match(body, /messaging_client_operation_duration_seconds_bucket\{le="10",/);
  });
});
