import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { makeEvent } from '@herald/testing';
import { DeliveryQueue } from '../../src/backend/delivery-queue.ts';
import type { DeliverySource } from '../../src/backend/delivery-queue.ts';
import type { StoredEvent } from '../../src/envelope.ts';

const stored = (offset: number, partition = 0): StoredEvent => ({
  ...makeEvent(offset),
  topic: 'orders',
  partition,
  offset,
  timestamp: 0,
});

const active: DeliverySource = { deliverable: () => true };

/** Resolves with what the promise settled to, or 'pending' if it has not settled by the next turn. */
async function settled<T>(promise: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([promise, tick().then(() => 'pending' as const)]);
}

const offsets = (events: readonly StoredEvent[]): number[] => events.map((event) => event.offset);

void describe('DeliveryQueue', () => {
  void it('hands events out one at a time in the order they were pushed', async () => {
    const queue = new DeliveryQueue(active, 10);
    for (const offset of [0, 1, 2]) queue.push(stored(offset));
    const events = queue.events();
    const taken = [];
    for (let i = 0; i < 3; i++) taken.push((await events.next()).value as StoredEvent);
    assert.deepEqual(offsets(taken), [0, 1, 2]);
    assert.equal(queue.size, 0);
  });

  void it('a consumer waiting for events wakes when events arrive', async () => {
    const queue = new DeliveryQueue(active, 10);
    const next = queue.events().next();
    assert.equal(await settled(next), 'pending');
    queue.push(stored(7));
    queue.wake();
    assert.equal(((await next).value as StoredEvent).offset, 7);
  });

  void it('a batch holds every event ready at once', async () => {
    const queue = new DeliveryQueue(active, 10);
    for (const offset of [0, 1, 2, 3]) queue.push(stored(offset));
    const batch = await queue.batches().next();
    assert.deepEqual(offsets(batch.value as StoredEvent[]), [0, 1, 2, 3]);
  });

  void it('batches never exceed max', async () => {
    const queue = new DeliveryQueue(active, 3);
    for (let offset = 0; offset < 8; offset++) queue.push(stored(offset));
    const batches = queue.batches();
    const sizes = [];
    for (let i = 0; i < 3; i++) sizes.push(((await batches.next()).value as StoredEvent[]).length);
    assert.deepEqual(sizes, [3, 3, 2]);
  });

  void it('counts the room left under its capacity, and tells the backend when the consumer took events', async () => {
    const taken: number[] = [];
    const queue = new DeliveryQueue({ deliverable: () => true, taken: (count) => taken.push(count) }, 5);
    for (const offset of [0, 1, 2]) queue.push(stored(offset));
    assert.equal(queue.room, 2);
    await queue.events().next();
    await queue.batches().next();
    assert.deepEqual(taken, [1, 2]);
    assert.equal(queue.room, 5);
  });

  void it('keeps order when a consumer takes events one at a time while more keep arriving', async () => {
    const queue = new DeliveryQueue(active, 4);
    const events = queue.events();
    const taken: number[] = [];
    let pushed = 0;
    while (taken.length < 50) {
      while (queue.room > 0) queue.push(stored(pushed++));
      taken.push(((await events.next()).value as StoredEvent).offset);
    }
    assert.deepEqual(
      taken,
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.equal(queue.size, pushed - 50);
  });

  void it('close ends iteration, also for a consumer already waiting', async () => {
    const queue = new DeliveryQueue(active, 10);
    const waiting = queue.batches().next();
    queue.push(stored(0));
    queue.close();
    assert.deepEqual(await waiting, { done: true, value: undefined });
    queue.push(stored(1));
    assert.deepEqual(await queue.events().next(), { done: true, value: undefined });
    assert.equal(queue.size, 0);
  });

  void it('a failure of onRevoked is thrown to the iterating consumer once', async () => {
    const queue = new DeliveryQueue(active, 10);
    const events = queue.events();
    const waiting = events.next();
    const failure = new Error('could not flush');
    void queue.fail(failure);
    await assert.rejects(waiting, (error) => error === failure);
    assert.equal(await settled(events.next()), 'pending');
  });

  void it('runs a failing group callback to its end: the caller goes on and the consumer gets the error', async () => {
    const queue = new DeliveryQueue(active, 10);
    const events = queue.events();
    const waiting = events.next();
    const failure = new Error('could not flush');
    const seen: string[] = [];
    await queue.runCallback(async () => {
      seen.push('called');
      await Promise.resolve();
      throw failure;
    });
    seen.push('went on');
    assert.deepEqual(seen, ['called', 'went on']);
    await assert.rejects(waiting, (error) => error === failure);
    queue.close();
    await queue.runCallback(() => {
      throw new Error('dropped once closed');
    });
    assert.deepEqual(await events.next(), { done: true, value: undefined });
  });

  void it('throws a failure in its place: after the events pushed before it, before those pushed after', async () => {
    const queue = new DeliveryQueue(active, 10);
    queue.push(stored(0));
    queue.push(stored(1));
    const thrown = queue.fail(new Error('undecodable'), { topic: 'orders', partition: 0 });
    queue.push(stored(3));
    const batches = queue.batches();
    assert.deepEqual(offsets((await batches.next()).value as StoredEvent[]), [0, 1]);
    assert.equal(await settled(thrown), 'pending');
    await assert.rejects(batches.next(), /undecodable/);
    await thrown;
    assert.deepEqual(offsets((await batches.next()).value as StoredEvent[]), [3]);
  });

  void it('events of a revoked partition are dropped from the buffer, with its failures', async () => {
    const queue = new DeliveryQueue(active, 10);
    queue.push(stored(0, 0));
    queue.push(stored(0, 1));
    const failure = queue.fail(new Error('undecodable'), { topic: 'orders', partition: 1 });
    queue.push(stored(1, 0));
    queue.push(stored(1, 1));
    queue.dropPartitions([{ topic: 'orders', partition: 1 }]);
    await failure;
    const batch = (await queue.batches().next()).value as StoredEvent[];
    assert.deepEqual(
      batch.map((event) => [event.partition, event.offset]),
      [
        [0, 0],
        [0, 1],
      ],
    );
    assert.equal(queue.failing, false);
  });

  void it('clearing drops every event and partition failure but still throws a failure of no partition', async () => {
    const queue = new DeliveryQueue(active, 10);
    queue.push(stored(0));
    void queue.fail(new Error('undecodable'), { topic: 'orders', partition: 0 });
    void queue.fail(new Error('onAssigned failed'));
    queue.push(stored(1));
    queue.clear();
    assert.equal(queue.size, 0);
    await assert.rejects(queue.events().next(), /onAssigned failed/);
    assert.equal(queue.failing, false);
  });

  void it('delivers nothing while the source is not deliverable, and resumes when woken', async () => {
    let deliverable = false;
    const queue = new DeliveryQueue({ deliverable: () => deliverable }, 10);
    queue.push(stored(0));
    const next = queue.events().next();
    assert.equal(await settled(next), 'pending');
    deliverable = true;
    queue.wake();
    assert.equal(((await next).value as StoredEvent).offset, 0);
  });

  void it('fills on demand when nothing is buffered, and arms the source before waiting', async () => {
    const available = [stored(0), stored(1)];
    let armed = 0;
    const queue: DeliveryQueue = new DeliveryQueue(
      {
        deliverable: () => true,
        fill: () => {
          for (const event of available.splice(0, queue.room)) queue.push(event);
        },
        waiting: () => armed++,
      },
      10,
    );
    const batches = queue.batches();
    assert.deepEqual(offsets((await batches.next()).value as StoredEvent[]), [0, 1]);
    assert.equal(armed, 0);
    const next = batches.next();
    assert.equal(await settled(next), 'pending');
    assert.equal(armed, 1);
    available.push(stored(2));
    queue.wake();
    assert.deepEqual(offsets((await next).value as StoredEvent[]), [2]);
  });

  void it('refuses iteration at the first next() when the subscription is no longer usable', async () => {
    const closed = new Error('closed');
    const queue = new DeliveryQueue(
      {
        deliverable: () => true,
        assertUsable: () => {
          throw closed;
        },
      },
      10,
    );
    const events = queue.events();
    await assert.rejects(events.next(), (error) => error === closed);
    await assert.rejects(queue.batches().next(), (error) => error === closed);
  });

  void it('ends an iterator the consumer stopped early', async () => {
    const queue = new DeliveryQueue(active, 10);
    queue.push(stored(0));
    queue.push(stored(1));
    for await (const event of queue.events()) {
      assert.equal(event.offset, 0);
      break;
    }
    assert.equal(queue.size, 1, 'the event after the break stays for the next iterator');
  });
});
