import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCharts, renderHtml } from '../src/report.ts';
import { SCENARIOS } from '../src/scenarios.ts';
import { fakeLabResult } from './fixtures/fake-lab-result.ts';

describe('the lab report', () => {
  it('draws the latency over time, end to end and lag of every scenario, an overview and the rate search', async () => {
    const charts = await buildCharts(fakeLabResult());
    const files = charts.map((c) => c.file);
    for (const scenario of SCENARIOS) {
      for (const kind of ['http', 'e2e', 'lag'])
        assert.ok(files.includes(`${scenario.id}-${kind}.svg`), `${scenario.id}-${kind}`);
    }
    assert.ok(files.includes('overview-http-p99.svg'));
    assert.ok(files.includes('overview-e2e-p99.svg'));
    assert.ok(files.includes('capacity.svg'));
    assert.equal(new Set(files).size, files.length);
  });

  it('renders standalone SVG documents without NaN, undefined or Infinity in them', async () => {
    for (const chart of await buildCharts(fakeLabResult())) {
      assert.match(
        chart.svg,
        /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* viewBox="0 0 \d+ \d+"/,
        chart.file,
      );
      assert.ok(chart.svg.endsWith('</svg>'), chart.file);
      assert.doesNotMatch(chart.svg, /NaN|undefined|Infinity/, chart.file);
      assert.equal((chart.svg.match(/<svg/g) ?? []).length, 1, chart.file);
    }
  });

  it('puts both architectures side by side in each latency chart, with the fault shaded', async () => {
    const chart = (await buildCharts(fakeLabResult())).find((c) => c.file === 'slow-payment-http.svg')!;
    assert.match(chart.svg, /event-driven \(202\)/);
    assert.match(chart.svg, /REST \(201\)/);
    assert.match(chart.svg, />fault</);
    assert.ok((chart.svg.match(/<path /g) ?? []).length >= 6);
  });

  it('renders one self-contained page: targets, summary, every scenario, every chart inline', async () => {
    const result = fakeLabResult();
    const charts = await buildCharts(result);
    const html = renderHtml(result, charts);
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /<script|<link |src="http/);
    assert.equal((html.match(/<svg /g) ?? []).length, charts.length);
    for (const scenario of result.scenarios) assert.ok(html.includes(`<section id="${scenario.id}">`));
    for (const target of result.targets)
      assert.ok(html.includes(target.detail.replaceAll('&', '&amp;').replaceAll('<', '&lt;')));
    assert.match(html, /<li class="met"><strong>met<\/strong>/);
    assert.match(html, /Sustained rate at p99 &lt; 25 ms/);
  });

  it('escapes text from results, so a description cannot inject markup', async () => {
    const result = fakeLabResult({ description: '<img src=x onerror=alert(1)> & more' });
    const html = renderHtml(result, await buildCharts(result));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt; &amp; more'));
    assert.ok(!html.includes('<img src=x'));
  });
});
