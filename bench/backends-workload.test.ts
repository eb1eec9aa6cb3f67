import assert from 'node:assert/strict';
import test from 'node:test';
import { ConsumedPositions, LatencyRecorder, sampleEvents, sequenceOf } from './backends-workload.ts';

await test('sequenceOf', async (t) => {
  await t.test('reads the sequence back from a sample event’s id', () => {
    const [first, , third] = sampleEvents(3);
    assert.equal(sequenceOf(first!.id), 0);
    assert.equal(sequenceOf(third!.id), 2);
  });

  await t.test('refuses ids that are not a sample event’s', () => {
    assert.throws(() => sequenceOf('bench-primer'), /not the id of a sample event/);
    assert.throws(() => sequenceOf('order-7'), /not the id of a sample event/);
  });
});

await test('ConsumedPositions', async (t) => {
  await t.test('commits the next offset of every partition seen and restarts the count', () => {
    const positions = new ConsumedPositions();
    positions.consumed(0, 0);
    positions.consumed(1, 0);
    positions.consumed(0, 1);
    assert.equal(positions.sinceCommit, 3);
    assert.deepEqual(positions.toCommit('t'), [
      { topic: 't', partition: 0, offset: 2 },
      { topic: 't', partition: 1, offset: 1 },
    ]);
    assert.equal(positions.sinceCommit, 0);
    assert.equal(positions.seen, 3);
    assert.equal(positions.total, 3);
  });

  await t.test('fails the run on an offset skipped or delivered twice', () => {
    const positions = new ConsumedPositions();
    positions.consumed(2, 0);
    assert.throws(() => positions.consumed(2, 0), /offset 0 delivered where 1 was next/);
    assert.throws(() => positions.consumed(2, 5), /offset 5 delivered where 1 was next/);
  });
});

await test('LatencyRecorder', async (t) => {
  await t.test('measures from when each event was due, and completes once all arrived', async () => {
    const recorder = new LatencyRecorder(3);
    recorder.due(0, 100);
    recorder.due(1, 110);
    recorder.due(2, 120);
    recorder.receivedOne(1, 150);
    recorder.receivedOne(0, 150);
    assert.equal(recorder.complete, false);
    recorder.receivedOne(2, 121);
    await recorder.done;
    assert.deepEqual([...recorder.latenciesFrom(0)], [50, 40, 1]);
    assert.deepEqual([...recorder.latenciesFrom(2)], [1]);
  });

  await t.test('counts a second delivery instead of measuring it, and refuses unknown events', () => {
    const recorder = new LatencyRecorder(2);
    recorder.due(0, 0);
    recorder.receivedOne(0, 5);
    recorder.receivedOne(0, 9);
    assert.equal(recorder.duplicates, 1);
    assert.equal(recorder.received, 1);
    assert.throws(() => recorder.receivedOne(2, 1), RangeError);
  });
});
