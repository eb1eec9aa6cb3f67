import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alternateRounds, rotation } from './lib/alternate-rounds.ts';
import type { ScenarioResult } from './lib/benchmark.ts';
import { formatTable } from './lib/format-table.ts';
import { DEFAULT_ROUNDS, QUICK_ROUNDS, parseBenchArgs } from './lib/parse-bench-args.ts';
import {
  formatNumber,
  formatRatio,
  formatTarget,
  median,
  perSecond,
  percentile,
  verdictOf,
} from './lib/stats.ts';
import { resultsFile } from './lib/write-results.ts';
import { DATA_BYTES, Probe, keyOf, sampleEvent } from './runtime-workload.ts';

const throughput = (herald: number[], baseline: number[], ratio?: number): ScenarioResult => ({
  scenario: 'appends',
  unit: 'events/s',
  better: 'higher',
  herald,
  baseline,
  baselineName: 'raw',
  ...(ratio === undefined ? {} : { target: { ratio } }),
});

await test('median', async (t) => {
  await t.test('is the middle value of an odd count, whatever the input order', () => {
    assert.equal(median([5, 1, 9, 3, 7]), 5);
  });

  await t.test('is the mean of the two middle values of an even count', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  await t.test('leaves its input unsorted', () => {
    const values = [3, 1, 2];
    median(values);
    assert.deepEqual(values, [3, 1, 2]);
  });

  await t.test('refuses an empty list instead of returning NaN', () => {
    assert.throws(() => median([]), RangeError);
  });
});

await test('percentile', async (t) => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);

  await t.test('is the nearest-rank value: p50 and p99 of 1…100 are 50 and 99', () => {
    assert.equal(percentile(hundred, 0.5), 50);
    assert.equal(percentile(hundred, 0.99), 99);
  });

  await t.test('is the maximum at 1 and the only value of a single sample', () => {
    assert.equal(percentile(hundred, 1), 100);
    assert.equal(percentile([7], 0.99), 7);
  });

  await t.test('sorts numerically, typed arrays included', () => {
    assert.equal(percentile(Float64Array.of(10, 9, 100, 2), 0.5), 9);
  });

  await t.test('refuses an empty list and a fraction outside (0, 1]', () => {
    assert.throws(() => percentile([], 0.5), RangeError);
    assert.throws(() => percentile([1], 0), RangeError);
    assert.throws(() => percentile([1], 99), RangeError);
  });
});

await test('perSecond', async (t) => {
  await t.test('turns a count and milliseconds into a rate per second', () => {
    assert.equal(perSecond(5000, 250), 20_000);
  });

  await t.test('refuses a zero elapsed time', () => {
    assert.throws(() => perSecond(1, 0), RangeError);
  });
});

await test('verdictOf', async (t) => {
  await t.test('quotes the medians of the rounds, not their means', () => {
    const verdict = verdictOf(throughput([70, 72, 1000], [100, 100, 100], 0.6));
    assert.equal(verdict.herald, 72);
    assert.equal(verdict.baseline, 100);
    assert.equal(verdict.ratio, 0.72);
    assert.equal(verdict.pass, true);
  });

  await t.test('judges the median of per-round ratios, so a slow round slows both sides alike', () => {
    // Round 2 ran while the machine was busy: both sides halved, its ratio stayed 0.7.
    const verdict = verdictOf(throughput([70, 35, 70], [100, 50, 100], 0.6));
    assert.equal(verdict.ratio, 0.7);
  });

  await t.test('refuses sides with different round counts', () => {
    assert.throws(() => verdictOf(throughput([1, 2], [1])), RangeError);
  });

  await t.test('fails a throughput below its target ratio', () => {
    assert.equal(verdictOf(throughput([50], [100], 0.6)).pass, false);
  });

  await t.test('passes a latency at or below its target ratio and fails one above', () => {
    const latency = (herald: number): ScenarioResult => ({
      ...throughput([herald], [100], 1.15),
      better: 'lower',
    });
    assert.equal(verdictOf(latency(115)).pass, true);
    assert.equal(verdictOf(latency(116)).pass, false);
  });

  await t.test('judges nothing for a row without a target', () => {
    assert.equal(verdictOf(throughput([1], [2])).pass, undefined);
  });
});

await test('formatting', async (t) => {
  await t.test('prints ratios with two decimals and a times sign', () => {
    assert.equal(formatRatio(0.7234), '0.72×');
    assert.equal(formatRatio(3), '3.00×');
  });

  await t.test('keeps two significant figures for ratios below 0.1', () => {
    assert.equal(formatRatio(0.0123), '0.012×');
  });

  await t.test('prints targets with the direction that passes', () => {
    assert.equal(formatTarget({ ratio: 0.6 }, 'higher'), '≥ 0.60×');
    assert.equal(formatTarget({ ratio: 1.15 }, 'lower'), '≤ 1.15×');
    assert.equal(formatTarget(undefined, 'higher'), '—');
  });

  await t.test('prints large numbers with separators and small ones with a few decimals', () => {
    assert.equal(formatNumber(461234.56), '461,235');
    assert.equal(formatNumber(12.345), '12.3');
    assert.equal(formatNumber(0.04219), '0.042');
  });

  await t.test('prints one table row per scenario with its medians, ratio, target and verdict', () => {
    const table = formatTable([throughput([300, 310, 320], [400, 500, 600], 0.6), throughput([1], [4])]);
    const lines = table.split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^scenario\s+herald\s+baseline\s+unit\s+ratio\s+target\s+verdict$/);
    assert.match(lines[2]!, /^appends\s+310\s+500\s+events\/s\s+0\.62×\s+≥ 0\.60×\s+pass$/);
    assert.match(lines[3]!, /0\.25×\s+—\s+info$/);
  });
});

await test('alternateRounds', async (t) => {
  await t.test('rotates the order of the contenders from round to round', () => {
    assert.deepEqual(rotation(['a', 'b'], 0), ['a', 'b']);
    assert.deepEqual(rotation(['a', 'b'], 1), ['b', 'a']);
    assert.deepEqual(rotation(['a', 'b', 'c'], 4), ['b', 'c', 'a']);
  });

  await t.test(
    'runs every contender once per round with that round’s setup and tears each round down',
    async () => {
      const calls: string[] = [];
      const results = await alternateRounds({
        rounds: 3,
        setup: (round) => Promise.resolve(round * 10),
        contenders: {
          herald: (context: number) => (calls.push(`herald:${context}`), Promise.resolve(context + 1)),
          raw: (context: number) => (calls.push(`raw:${context}`), Promise.resolve(context + 2)),
        },
        teardown: (context) => (calls.push(`teardown:${context}`), Promise.resolve()),
      });
      assert.deepEqual(results, { herald: [1, 11, 21], raw: [2, 12, 22] });
      assert.deepEqual(calls, [
        'herald:0',
        'raw:0',
        'teardown:0',
        'raw:10',
        'herald:10',
        'teardown:10',
        'herald:20',
        'raw:20',
        'teardown:20',
      ]);
    },
  );

  await t.test('tears a round down even when a contender throws', async () => {
    let tornDown = false;
    await assert.rejects(
      alternateRounds({
        rounds: 1,
        setup: () => Promise.resolve(undefined),
        contenders: { broken: () => Promise.reject(new Error('disk gone')) },
        teardown: () => ((tornDown = true), Promise.resolve()),
      }),
      /disk gone/,
    );
    assert.equal(tornDown, true);
  });
});

await test('parseBenchArgs', async (t) => {
  await t.test('takes a name and measures with the default rounds', () => {
    assert.deepEqual(parseBenchArgs(['log']), {
      name: 'log',
      options: { quick: false, rounds: DEFAULT_ROUNDS, profile: false },
    });
  });

  await t.test('runs fewer rounds in quick mode unless rounds are given', () => {
    assert.equal(parseBenchArgs(['log', '--quick']).options.rounds, QUICK_ROUNDS);
    assert.equal(parseBenchArgs(['--quick', '--rounds', '3', 'log']).options.rounds, 3);
    assert.equal(parseBenchArgs(['log', '--rounds=7']).options.rounds, 7);
  });

  await t.test('leaves the name undefined when none is given, so the dispatcher can list benchmarks', () => {
    assert.equal(parseBenchArgs([]).name, undefined);
  });

  await t.test('refuses unknown options, bad round counts and two names', () => {
    assert.throws(() => parseBenchArgs(['log', '--fast']), /unknown option --fast/);
    assert.throws(() => parseBenchArgs(['log', '--rounds', '0']), /positive integer/);
    assert.throws(() => parseBenchArgs(['log', '--rounds']), /positive integer/);
    assert.throws(() => parseBenchArgs(['log', 'runtime']), /one benchmark at a time/);
  });
});

await test('resultsFile', async (t) => {
  await t.test('keeps a benchmark’s notes, and an empty list when it has none', () => {
    const machine = {
      cpus: 2,
      cpuModel: 'test',
      memoryMb: 1,
      os: 'test',
      node: 'v24',
      sqlite: '3',
      benchDir: '/tmp',
      benchFilesystem: 'ext4',
    };
    const options = { quick: true, rounds: 1, profile: false };
    const date = new Date(0);
    const withNotes = resultsFile('runtime', date, options, machine, {
      scenarios: [throughput([1], [2])],
      parameters: {},
      notes: ['router + middleware cost +12 µs per event'],
    });
    assert.deepEqual(withNotes.notes, ['router + middleware cost +12 µs per event']);
    assert.deepEqual(resultsFile('log', date, options, machine, { scenarios: [], parameters: {} }).notes, []);
  });
});

await test('the runtime benchmark’s workload', async (t) => {
  await t.test('builds payloads of exactly the stated size whatever the timestamp’s digits', () => {
    for (const publishedAt of [0, 1764156000000.125, 1764156000000.1235]) {
      assert.equal(sampleEvent(12_345, publishedAt).data?.length, DATA_BYTES);
    }
  });

  await t.test('completes its probe once every expected event was handled', async () => {
    const probe = new Probe(2);
    probe.handledOne({ key: keyOf(0), sequence: 0, publishedAt: 0 });
    assert.equal(probe.complete, false);
    probe.handledOne({ key: keyOf(1), sequence: 1, publishedAt: 0 });
    await probe.done;
    assert.equal(probe.complete, true);
  });

  await t.test('fails the run when a key’s events are handled out of order or twice', async () => {
    const probe = new Probe(3);
    probe.handledOne({ key: keyOf(0), sequence: 64, publishedAt: 0 });
    probe.handledOne({ key: keyOf(0), sequence: 0, publishedAt: 0 });
    await assert.rejects(probe.done, /key-00: sequence 0 handled after 64/);
  });
});
