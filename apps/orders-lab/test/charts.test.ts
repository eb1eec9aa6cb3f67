import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChartPanel, groupedBars, linePanels, logTicks, niceDomain } from '../src/charts.ts';

const panel = (title: string, color: string, ys: (number | null)[]): ChartPanel => ({
  title,
  bands: [{ from: 1, to: 2, label: 'fault' }],
  series: [{ name: 'p99', color, points: ys.map((y, x) => ({ x, y })) }],
});

/** The `d` of every line mark Vega drew. */
function linePaths(svg: string): string[] {
  return [...svg.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)].map((m) => m[1]!);
}

describe('the lab charts', () => {
  it('draws panels side by side, each line in its own panel color, with one legend per panel', async () => {
    const svg = await linePanels({
      title: 'Latency <over> time',
      panels: [panel('event-driven', '#2563eb', [5, 6, 7]), panel('REST', '#ea580c', [50, 60, 70])],
      xLabel: 's',
      yLabel: 'ms',
      yScale: 'log',
      xDomain: [0, 2],
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* viewBox="0 0 \d+ \d+"/);
    assert.match(svg, /Latency &lt;over&gt; time/);
    assert.match(svg, /stroke="#2563eb"/);
    assert.match(svg, /stroke="#ea580c"/);
    assert.equal(linePaths(svg).length, 2);
    assert.equal((svg.match(/class="mark-group role-legend"/g) ?? []).length, 2);
    assert.equal((svg.match(/>fault</g) ?? []).length, 2);
  });

  it('breaks a line where a value is missing, and says so in a panel with nothing to draw', async () => {
    const svg = await linePanels({
      title: 't',
      panels: [
        panel('gappy', '#2563eb', [5, null, 7, 8]),
        {
          title: 'none',
          series: [{ name: 'p99', color: '#000', points: [{ x: 0, y: null }] }],
          empty: 'no order',
        },
      ],
      xLabel: 's',
      yLabel: 'ms',
      yScale: 'linear',
      xDomain: [0, 3],
      hLines: [{ y: 6, label: 'bound 6 ms', color: '#dc2626' }],
    });
    const [gappy] = linePaths(svg);
    assert.equal(gappy?.match(/M/g)?.length, 2, gappy);
    assert.match(svg, />no order</);
    assert.match(svg, />bound 6 ms</);
  });

  it('draws one bar per series and group, with its value printed on top', async () => {
    const svg = await groupedBars({
      title: 'p99',
      yLabel: 'ms',
      yScale: 'log',
      series: [
        { name: 'a', color: '#2563eb' },
        { name: 'b', color: '#ea580c' },
      ],
      groups: [
        { label: 'one', values: [12, 340] },
        { label: 'two', values: [null, 5600] },
      ],
      format: (v) => `${v} ms`,
    });
    assert.equal((svg.match(/aria-roledescription="bar"/g) ?? []).length, 3);
    for (const text of ['12 ms', '340 ms', '5600 ms', 'one', 'two'])
      assert.match(svg, new RegExp(`>${text}<`));
  });

  it('puts log ticks on 1, 2 and 5 of each decade, or on decades alone over a wide range', () => {
    assert.deepEqual(niceDomain([3, 420], 'log'), [1, 1000]);
    assert.deepEqual(logTicks([1, 1000]), [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    assert.deepEqual(logTicks([1, 1e6]), [1, 10, 100, 1000, 10000, 100000, 1000000]);
  });
});
