import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { percentile, summarize } from '../src/percentiles.ts';

describe('percentile', () => {
  it('is the nearest rank: the smallest sample with at least p% at or below it', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.equal(percentile(values, 50), 5);
    assert.equal(percentile(values, 90), 9);
    assert.equal(percentile(values, 91), 10);
    assert.equal(percentile(values, 100), 10);
    assert.equal(percentile(values, 0.1), 1);
  });

  it('gives p99 of 1000 samples as the 990th smallest and p99.9 as the 999th', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    assert.equal(percentile(values, 99), 990);
    assert.equal(percentile(values, 99.9), 999);
  });

  it('returns an observed value, never an interpolation', () => {
    assert.equal(percentile([10, 1000], 50), 10);
    assert.equal(percentile([10, 1000], 51), 1000);
  });

  it('has no value for no samples and refuses percentiles outside (0, 100]', () => {
    assert.equal(percentile([], 50), undefined);
    assert.throws(() => percentile([1], 0), RangeError);
    assert.throws(() => percentile([1], 101), RangeError);
  });
});

describe('summarize', () => {
  it('sorts numerically (not as strings) and reports p50, p99, p99.9, max and mean', () => {
    const summary = summarize([100, 9, 20, 3, 1000]);
    assert.deepEqual(summary, { count: 5, p50: 20, p99: 1000, p999: 1000, max: 1000, mean: 226.4 });
  });

  it('keeps a single slow request visible in p99 when it is 1 of 100', () => {
    const values = [...Array.from({ length: 99 }, () => 5), 800];
    assert.equal(summarize(values).p99, 5);
    assert.equal(summarize([...values, 800]).p99, 800);
    assert.equal(summarize(values).max, 800);
  });

  it('is all null without samples', () => {
    assert.deepEqual(summarize([]), { count: 0, p50: null, p99: null, p999: null, max: null, mean: null });
  });
});
