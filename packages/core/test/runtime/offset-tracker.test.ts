import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffsetTracker } from '../../src/runtime/offset-tracker.ts';

void describe('OffsetTracker', () => {
  void it('has nothing to commit before an event finished', () => {
    const tracker = new OffsetTracker(10);
    assert.equal(tracker.toCommit(), undefined);
    tracker.delivered(10);
    assert.equal(tracker.toCommit(), undefined);
  });

  void it('commits only up to the oldest unfinished event when events finish out of order', () => {
    const tracker = new OffsetTracker(0);
    for (const offset of [0, 1, 2, 3]) tracker.delivered(offset);
    tracker.finished(1);
    tracker.finished(3);
    assert.equal(tracker.toCommit(), undefined, 'offset 0 is unfinished: nothing may be committed');
    tracker.finished(0);
    assert.equal(tracker.toCommit(), 2, 'offset 2 is still unfinished');
    tracker.finished(2);
    assert.equal(tracker.toCommit(), 4, 'everything finished: one past the highest delivered');
  });

  void it('offers a watermark once, until later events finish', () => {
    const tracker = new OffsetTracker(5);
    tracker.delivered(5);
    tracker.finished(5);
    assert.equal(tracker.toCommit(), 6);
    tracker.committed(6);
    assert.equal(tracker.toCommit(), undefined);
    tracker.delivered(6);
    tracker.finished(6);
    assert.equal(tracker.toCommit(), 7);
  });

  void it('never moves the committed position back when an older commit is confirmed late', () => {
    const tracker = new OffsetTracker(0);
    for (const offset of [0, 1, 2]) {
      tracker.delivered(offset);
      tracker.finished(offset);
    }
    tracker.committed(3);
    tracker.committed(1);
    assert.equal(tracker.toCommit(), undefined);
  });

  void it('keeps an event that never finished (a failed one) as the watermark', () => {
    const tracker = new OffsetTracker(0);
    for (const offset of [0, 1, 2]) tracker.delivered(offset);
    tracker.finished(0);
    tracker.finished(2);
    assert.equal(tracker.watermark, 1);
    assert.equal(tracker.toCommit(), 1);
  });
});
