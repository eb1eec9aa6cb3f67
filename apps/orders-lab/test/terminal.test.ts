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
    assert.match(text, /sustained at p99 < 25 ms, REST: none/);
    assert.doesNotMatch(text, /problem/);
  });

  it('lists every problem besides failed requests', () => {
    const result = {
      ...fakeLabResult(),
      problems: [
        'slow-payment · REST · round 1: the fault was not injected: PUT /admin/faults/payment answered 500',
      ],
    };
    const text = formatSummary(result);
    assert.match(text, /^1 problem\(s\) besides failed requests/m);
    assert.match(
      text,
      /^ {2}- slow-payment · REST · round 1: the fault was not injected: PUT \/admin\/faults\/payment answered 500$/m,
    );
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
  it('meets the slow-payment target when the ratio of p99s is 10 or more in every round', () => {
    const result = fakeLabResult();
    const slow = result.targets.find((t) => t.id === 'slow-payment-p99')!;
    assert.equal(slow.met, true);
    assert.match(slow.detail, /^met in every round \(3\)/);
    assert.match(slow.detail, /\(median 84\.0×\)/);
  });

  it('misses the slow-payment target when one round misses it, and names the rounds that did', () => {
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
      checkTargets(withRatios(ratios), result.capacity).find((t) => t.id === 'slow-payment-p99')!;
    assert.equal(check([12, 10, 15]).met, true);
    const oneMissed = check([12, 2, 15]);
    assert.equal(oneMissed.met, false);
    assert.match(oneMissed.detail, /^missed in round 2 \(2\.0×\);/);
    assert.match(check([12, 2, 3]).detail, /^missed in round 2 \(2\.0×\), round 3 \(3\.0×\);/);
  });

  it('does not call the slow-payment target met when a round has no figures while the fault was in force', () => {
    const result = fakeLabResult();
    const scenarios = result.scenarios.map((s) =>
      s.id !== 'slow-payment'
        ? s
        : {
            ...s,
            rounds: {
              ...s.rounds,
              rest: s.rounds.rest.map((r) => (r.round === 1 ? { ...r, httpP99DuringFault: null } : r)),
            },
          },
    );
    const slow = checkTargets(scenarios, result.capacity).find((t) => t.id === 'slow-payment-p99')!;
    assert.equal(slow.met, null);
    assert.match(slow.detail, /^not judged in round 2 /);
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
