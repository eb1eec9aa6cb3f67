import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTargets, medianRound } from '../src/lab.ts';
import { SCENARIOS } from '../src/scenarios.ts';
import { fmt, formatSummary, formatTable } from '../src/terminal.ts';
import { fakeLabResult } from './fixtures/fake-lab-result.ts';

describe('the terminal summary', () => {
  it('has a row per scenario and architecture and states every target', () => {
    const result = fakeLabResult();
    const text = formatSummary(result);
    for (const scenario of SCENARIOS) {
      assert.match(text, new RegExp(`^${scenario.id}\\s+event-driven\\s`, 'm'));
      assert.match(text, new RegExp(`^${scenario.id}\\s+REST\\s`, 'm'));
    }
    assert.equal((text.match(/^(MET|NOT MET|\?)\s/gm) ?? []).length, result.targets.length);
    assert.match(text, /sustained at p99 < 25 ms, event-driven: 15\/s/);
  });

  it('aligns columns, numbers to the right', () => {
    const table = formatTable(
      ['name', 'kind', 'ms'],
      [
        ['a', 'x', '5.00'],
        ['bbb', 'y', '123'],
      ],
    );
    assert.deepEqual(table.split('\n'), [
      'name  kind    ms',
      '────  ────  ────',
      'a     x     5.00',
      'bbb   y      123',
    ]);
  });

  it('formats durations with the precision they deserve', () => {
    assert.equal(fmt(0.8531), '0.85');
    assert.equal(fmt(12.34), '12.3');
    assert.equal(fmt(431.6), '432');
    assert.equal(fmt(null), '–');
  });
});

describe('checkTargets', () => {
  it('meets the slow-payment target when the median per-round ratio of p99s is 10 or more', () => {
    const result = fakeLabResult();
    const slow = result.targets.find((t) => t.id === 'slow-payment-p99')!;
    assert.equal(slow.met, true);
    assert.match(slow.detail, /median ratio 84\.0×/);
  });

  it('judges the slow-payment target by the median round, not by one noisy round', () => {
    const result = fakeLabResult();
    const withRatios = (ratios: readonly number[]) =>
      result.scenarios.map((s) =>
        s.id !== 'slow-payment'
          ? s
          : {
              ...s,
              rounds: {
                'event-driven': s.rounds['event-driven'].map((r, i) => ({
                  ...r,
                  httpP99DuringFault: 500 / ratios[i]!,
                })),
                rest: s.rounds.rest.map((r) => ({ ...r, httpP99DuringFault: 500 })),
              },
            },
      );
    const check = (ratios: readonly number[]) =>
      checkTargets(withRatios(ratios), result.capacity).find((t) => t.id === 'slow-payment-p99')!.met;
    assert.equal(check([12, 2, 15]), true);
    assert.equal(check([12, 2, 3]), false);
  });

  it('misses the outage target when the event-driven system failed an order in any round', () => {
    const result = fakeLabResult();
    const scenarios = result.scenarios.map((s) =>
      s.id !== 'notification-outage'
        ? s
        : {
            ...s,
            rounds: {
              ...s.rounds,
              'event-driven': s.rounds['event-driven'].map((r, i) =>
                i === 2 ? { ...r, failedOrders: 1 } : r,
              ),
            },
          },
    );
    assert.equal(result.targets.find((t) => t.id === 'outage-no-failed-orders')!.met, true);
    const outage = checkTargets(scenarios, result.capacity).find((t) => t.id === 'outage-no-failed-orders')!;
    assert.equal(outage.met, false);
  });

  it('calls the event-driven system ahead only with a higher sustained rate', () => {
    const result = fakeLabResult();
    assert.equal(result.targets.find((t) => t.id === 'sustained-rate')!.met, true);
    const none = { ...result.capacity['event-driven'], maxSustainedRate: null };
    const check = checkTargets(result.scenarios, { ...result.capacity, 'event-driven': none });
    assert.equal(check.find((t) => t.id === 'sustained-rate')!.met, false);
  });
});

describe('medianRound', () => {
  it('picks the round with the median HTTP p99 (the lower middle of an even count)', () => {
    const { scenarios } = fakeLabResult();
    const rounds = scenarios[0]!.rounds['event-driven'];
    assert.equal(rounds.length, 3);
    assert.equal(scenarios[0]!.medianRound['event-driven'], 0);
    const p99 = (value: number) => ({ http: { p99: value } }) as Parameters<typeof medianRound>[0][number];
    assert.equal(medianRound([p99(30), p99(10), p99(20)]), 2);
    assert.equal(medianRound([p99(30), p99(10)]), 1);
  });
});
