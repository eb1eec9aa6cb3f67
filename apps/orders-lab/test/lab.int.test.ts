// The lab end to end in its short mode, as CI runs it: `npm run lab -- --short --out <dir>`
// starts both systems as child processes, runs every scenario, and writes its results.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { LabResult } from '../src/lab.ts';
import { SCENARIOS } from '../src/scenarios.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const ARCHITECTURES = ['event-driven', 'rest'] as const;

describe('npm run lab -- --short', { timeout: 180_000 }, () => {
  let out: string | undefined;
  after(async () => {
    if (out !== undefined) await rm(out, { recursive: true, force: true });
  });

  it('runs every scenario against both systems and reports every metric, as JSON, HTML and SVG', async () => {
    out = await mkdtemp(join(tmpdir(), 'herald-lab-test-'));
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', MAIN, '--short', '--out', out],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, output);
    assert.match(output, /^baseline\s+event-driven\s/m, 'the summary table is printed');

    const result = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as LabResult;
    assert.equal(result.mode.name, 'short');
    assert.deepEqual(
      result.scenarios.map((s) => s.id),
      SCENARIOS.map((s) => s.id),
    );
    for (const scenario of result.scenarios) {
      for (const architecture of ARCHITECTURES) {
        const m = scenario.results[architecture];
        const where = `${scenario.id}/${architecture}`;
        assert.ok(m.offeredRate > 0, where);
        assert.equal(typeof m.acceptedRate, 'number', where);
        for (const key of ['p50', 'p99', 'p999', 'max'] as const)
          assert.equal(typeof m.http[key], 'number', `${where} http.${key}`);
        assert.equal(typeof m.errorRate, 'number', where);
        for (const key of ['p50', 'p99'] as const)
          assert.equal(typeof m.endToEnd[key], 'number', `${where} e2e.${key}`);
        for (const key of ['offered', 'accepted', 'records', 'final', 'lost', 'failedOrders'] as const) {
          assert.equal(typeof m.reconciliation[key], 'number', `${where} reconciliation.${key}`);
        }
        assert.equal(typeof m.reconciliation.duplicateEffects, 'number', where);
        assert.equal(typeof m.retries, 'number', where);
        assert.equal(typeof m.deadLetters, 'number', where);
        assert.ok('maxConsumerLag' in m && 'recoveryMs' in m, where);
        if (architecture === 'event-driven') assert.equal(typeof m.maxConsumerLag, 'number', where);
        else assert.equal(m.maxConsumerLag, null, where);
        if (scenario.id === 'baseline') assert.equal(m.fault, null, where);
        else
          assert.ok(m.fault !== null && m.fault.endMs > m.fault.startMs, `${where}: the fault was injected`);
        // Neither system may lose an order it accepted.
        assert.equal(m.reconciliation.lost, 0, `${where} lost orders`);
        assert.ok(m.series.http.length > 0, where);
      }
    }
    for (const architecture of ARCHITECTURES) {
      assert.ok(result.capacity[architecture].steps.length > 0, `${architecture} capacity steps`);
      assert.ok('maxSustainedRate' in result.capacity[architecture], `${architecture} sustained rate`);
    }
    assert.match(output, /^sustained at p99 < 25 ms, event-driven: /m);
    assert.match(output, /^sustained at p99 < 25 ms, REST: /m);
    assert.equal(result.targets.length, 3);
    assert.deepEqual(result.problems, [], 'nothing went wrong besides requests');

    const html = await readFile(join(out, 'report.html'), 'utf8');
    assert.match(html, /<svg /);
    const svgs = await readdir(join(out, 'svg'));
    assert.ok(svgs.includes('slow-payment-http.svg') && svgs.includes('capacity.svg'), svgs.join(', '));
    assert.ok((await stat(join(out, 'svg', 'baseline-http.svg'))).size > 1_000);
  });
});
