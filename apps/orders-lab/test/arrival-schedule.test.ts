import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantArrivals } from '../src/arrival-schedule.ts';

describe('constantArrivals', () => {
  it('spaces requests evenly at the rate, whatever happened to earlier ones', () => {
    const schedule = constantArrivals(200, 1_000);
    assert.equal(schedule.count, 200);
    assert.equal(schedule.dueAt(0), 0);
    assert.equal(schedule.dueAt(1), 5);
    assert.equal(schedule.dueAt(199), 995);
  });

  it('holds floor(rate × duration) requests, also for fractional rates', () => {
    assert.equal(constantArrivals(25, 3_000).count, 75);
    assert.equal(constantArrivals(1.5, 1_000).count, 1);
    assert.equal(constantArrivals(3, 10_000).count, 30);
    assert.equal(constantArrivals(100, 0).count, 0);
  });

  it('counts the requests due by a moment, never more than the schedule holds', () => {
    const schedule = constantArrivals(100, 1_000);
    assert.equal(schedule.dueBy(-1), 0);
    assert.equal(schedule.dueBy(0), 1);
    assert.equal(schedule.dueBy(9.99), 1);
    assert.equal(schedule.dueBy(10), 2);
    assert.equal(schedule.dueBy(995), 100);
    assert.equal(schedule.dueBy(60_000), 100);
  });

  it('agrees with dueAt: request i is due by dueAt(i) and not before', () => {
    const schedule = constantArrivals(333, 2_000);
    for (let i = 0; i < schedule.count; i += 17) {
      assert.ok(schedule.dueBy(schedule.dueAt(i)) >= i + 1);
      if (i > 0) assert.ok(schedule.dueBy(schedule.dueAt(i) - 0.01) <= i);
    }
  });

  it('refuses indexes outside the schedule and rates that are not positive', () => {
    const schedule = constantArrivals(10, 1_000);
    assert.throws(() => schedule.dueAt(10), RangeError);
    assert.throws(() => schedule.dueAt(-1), RangeError);
    assert.throws(() => constantArrivals(0, 1_000), RangeError);
    assert.throws(() => constantArrivals(Number.NaN, 1_000), RangeError);
    assert.throws(() => constantArrivals(10, -5), RangeError);
  });
});
