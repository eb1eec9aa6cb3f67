import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextRate, stepPasses } from '../src/capacity.ts';

const options = { startRate: 10, factor: 2, maxSteps: 5, bisections: 2 };
const step = (offeredRate: number, passed: boolean) => ({ offeredRate, passed });

describe('nextRate', () => {
  it('starts at the start rate and doubles while steps pass', () => {
    assert.equal(nextRate([], options), 10);
    assert.equal(nextRate([step(10, true)], options), 20);
    assert.equal(nextRate([step(10, true), step(20, true)], options), 40);
  });

  it('bisects between the highest pass and the lowest failure, then stops within 10%', () => {
    assert.equal(nextRate([step(10, true), step(20, true), step(40, false)], options), 30);
    assert.equal(nextRate([step(10, true), step(20, true), step(40, false), step(30, true)], options), 35);
    assert.equal(nextRate([step(10, true), step(11, false)], options), undefined);
  });

  it('steps down while even the start rate fails, but not below 1/s', () => {
    assert.equal(nextRate([step(10, false)], options), 5);
    assert.equal(nextRate([step(10, false), step(5, false)], options), 2);
    assert.equal(nextRate([step(2, false), step(1, false)], { ...options, maxSteps: 9 }), undefined);
    assert.equal(nextRate([step(10, false), step(5, true)], options), 8);
  });

  it('stops after maxSteps rising steps and maxSteps + bisections in all', () => {
    const rising = [step(10, true), step(20, true), step(40, true), step(80, true), step(160, true)];
    assert.equal(nextRate(rising, options), undefined);
    const bracketed = [...rising.slice(0, 4), step(160, false), step(120, true), step(140, true)];
    assert.equal(nextRate(bracketed, options), undefined);
  });
});

describe('stepPasses', () => {
  const measured = {
    offeredRate: 100,
    acceptedRate: 100,
    p50: 3,
    p99: 20,
    errors: 0,
    lagAtEnd: 0,
    drainMs: 0,
  };

  it('passes a step with everything accepted under the bound', () => {
    assert.equal(stepPasses(measured, 25), true);
  });

  it('fails a step with a p99 at the bound, an error, or less than 99% accepted', () => {
    assert.equal(stepPasses({ ...measured, p99: 25 }, 25), false);
    assert.equal(stepPasses({ ...measured, errors: 1 }, 25), false);
    assert.equal(stepPasses({ ...measured, acceptedRate: 98 }, 25), false);
    assert.equal(stepPasses({ ...measured, p99: null }, 25), false);
  });
});
