import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collect, makeEvent, waitFor } from '@herald/testing';
import { isHeraldError } from '../src/errors.ts';
import type { HeraldErrorCode } from '../src/errors.ts';
import { faultInjection } from '../src/event-log.ts';
import type { TopicPartition } from '../src/event-log.ts';
import { createMemoryBroker, MemoryLog, openMemoryLog } from '../src/memory-log.ts';

function heraldError(code: HeraldErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isHeraldError(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

void describe('MemoryLog', () => {
  void it('declares what it is: not durable, one process, timestamp seek, no retention, commits every 100 ms, herald_memory in telemetry', async () => {
    await using log = await openMemoryLog();
    assert.deepEqual(log.capabilities, {
      durable: false,
      multiProcess: false,
      timestampSeek: true,
      retention: false,
      maxRecordBytes: 1_048_576,
      commitIntervalMs: 100,
      telemetry: {
        system: 'herald_memory',
        offsetAttribute: 'herald.offset',
        keyAttribute: 'herald.partition_key',
      },
    });
    await using small = await openMemoryLog({ maxRecordBytes: 64 });
    await small.createTopic('t', { partitions: 1 });
    await assert.rejects(
      small.append('t', makeEvent(1, undefined, { data: new Uint8Array(64) })),
      heraldError('TOO_LARGE'),
    );
  });

  void it('sends keyless events round-robin from partition 0 per topic; a refused append does not move the turn', async () => {
    await using log = await openMemoryLog({ maxRecordBytes: 512 });
    await log.createTopic('orders', { partitions: 3 });
    await log.createTopic('payments', { partitions: 3 });
    const partitionOf = async (topic: string, n: number) => (await log.append(topic, makeEvent(n))).partition;
    assert.deepEqual([await partitionOf('orders', 1), await partitionOf('orders', 2)], [0, 1]);
    assert.equal(await partitionOf('payments', 3), 0);
    await assert.rejects(
      log.appendBatch('orders', [makeEvent(4), makeEvent(5, undefined, { data: new Uint8Array(1024) })]),
      heraldError('TOO_LARGE'),
    );
    assert.deepEqual([await partitionOf('orders', 6), await partitionOf('orders', 7)], [2, 0]);
  });

  void it('keeps clients on different brokers apart and clients on one broker together', async () => {
    const broker = createMemoryBroker();
    await using a = await openMemoryLog({ broker });
    await using b = await openMemoryLog({ broker });
    await using alone = await openMemoryLog();
    await a.createTopic('orders', { partitions: 1 });
    assert.deepEqual(
      (await b.listTopics()).map((t) => t.name),
      ['orders'],
    );
    assert.deepEqual(await alone.listTopics(), []);
  });

  void it('refuses a broker that createMemoryBroker did not make', async () => {
    await assert.rejects(
      openMemoryLog({ broker: { kind: 'herald.memory-broker' } }),
      heraldError('INVALID_ARGUMENT'),
    );
  });

  void it('stores the retention policy it is given', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1, retention: { ms: 60_000, bytes: 1_000_000 } });
    assert.deepEqual((await log.describeTopic('orders')).retention, { ms: 60_000, bytes: 1_000_000 });
    await assert.rejects(
      log.createTopic('bad', { partitions: 1, retention: { ms: -1 } }),
      heraldError('INVALID_ARGUMENT'),
    );
  });

  void it('fences events delivered before an expiry even after the member gets the same partition back', async () => {
    const broker = createMemoryBroker();
    await using log = await openMemoryLog({ broker });
    await using other = await openMemoryLog({ broker });
    await log.createTopic('orders', { partitions: 1 });
    await log.appendBatch('orders', [makeEvent(0), makeEvent(1)]);
    const revoked: TopicPartition[][] = [];
    const assigned: TopicPartition[][] = [];
    await using subscription = await log.subscribe({
      group: 'billing',
      topics: ['orders'],
      sessionTimeoutMs: 150,
      onRevoked: (partitions) => void revoked.push([...partitions]),
      onAssigned: (partitions) => void assigned.push([...partitions]),
    });
    const [stale] = await collect(subscription, 1);
    const staleMember = subscription.memberId;

    log[faultInjection].freeze();
    await sleep(400);
    // Another member expires the stalled one, takes the partition, and leaves again.
    const taker = await other.subscribe({ group: 'billing', topics: ['orders'], sessionTimeoutMs: 150 });
    await waitFor(() => taker.assignment().length === 1, 5000, 'the other member to take the partition');
    await taker.close();
    log[faultInjection].thaw();

    await waitFor(() => assigned.length === 2, 5000, 'the member to rejoin and get its partition back');
    assert.notEqual(subscription.memberId, staleMember, 'it rejoined as a new member');
    assert.deepEqual(revoked, [], 'a partition lost by expiry is not revoked after the fact');
    assert.deepEqual(subscription.assignment(), [{ topic: 'orders', partition: 0 }]);
    await assert.rejects(subscription.commit(stale!), heraldError('FENCED'));

    const redelivered = await collect(subscription, 2);
    assert.deepEqual(
      redelivered.map((e) => e.offset),
      [0, 1],
    );
    await subscription.commit(redelivered[1]!);
    assert.equal((await log.describeGroup('billing')).partitions[0]?.committed, 2);
  });

  void it('keeps a member that heartbeats late but was expired by nobody, as the durable backends do', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0));
    const revoked: TopicPartition[][] = [];
    await using subscription = await log.subscribe({
      group: 'billing',
      topics: ['orders'],
      sessionTimeoutMs: 150,
      onRevoked: (partitions) => void revoked.push([...partitions]),
    });
    const memberId = subscription.memberId;
    const [first] = await collect(subscription, 1);

    log[faultInjection].freeze();
    await sleep(400);
    log[faultInjection].thaw();

    await subscription.commit(first!);
    assert.equal(subscription.memberId, memberId);
    assert.deepEqual(revoked, []);
    assert.equal((await log.describeGroup('billing')).partitions[0]?.committed, 1);
  });

  void it('after crash() refuses use with CLOSED and stays in its groups until its session expires', async () => {
    const broker = createMemoryBroker();
    await using crashing = await openMemoryLog({ broker });
    await using observer = await openMemoryLog({ broker });
    await crashing.createTopic('orders', { partitions: 2 });
    const subscription = await crashing.subscribe({
      group: 'billing',
      topics: ['orders'],
      sessionTimeoutMs: 200,
    });

    crashing[faultInjection].crash();
    await assert.rejects(crashing.append('orders', makeEvent(1)), heraldError('CLOSED'));
    await assert.rejects(
      subscription.commit([{ topic: 'orders', partition: 0, offset: 0 }]),
      heraldError('CLOSED'),
    );
    assert.equal(
      (await observer.describeGroup('billing')).members.length,
      1,
      'a killed process does not leave',
    );
    await waitFor(
      async () => (await observer.describeGroup('billing')).members.length === 0,
      5000,
      'the dead member to expire',
    );
    await crashing.close();
  });

  void it('reports a failing onRevoked to the consumer iterating the subscription', async () => {
    const broker = createMemoryBroker();
    await using a = await openMemoryLog({ broker });
    await using b = await openMemoryLog({ broker });
    await a.createTopic('orders', { partitions: 2 });
    const failure = new Error('could not flush');
    let fail = true;
    await using first = await a.subscribe({
      group: 'billing',
      topics: ['orders'],
      onRevoked: () => {
        if (fail) throw failure;
      },
    });
    const iteration = first[Symbol.asyncIterator]().next();
    await using second = await b.subscribe({ group: 'billing', topics: ['orders'] });
    await assert.rejects(iteration, (error) => error === failure);
    fail = false;
    await waitFor(() => second.assignment().length === 1, 5000, 'the partition to move despite the failure');
  });

  void it('is what openMemoryLog returns, and closes idempotently', async () => {
    const log = await openMemoryLog({ clientId: 'orders-service' });
    assert.ok(log instanceof MemoryLog);
    assert.equal(log.clientId, 'orders-service');
    await log.close();
    await log.close();
    await assert.rejects(log.listGroups(), heraldError('CLOSED'));
  });
});
