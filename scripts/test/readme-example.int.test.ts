// The README's "In code" example, as a reader copies it: run twice on the same embedded log
// file, each run appends its order and consumes it, and the second run finds the topic the
// first created instead of failing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { REPOSITORY } from '../build/build-packages.ts';

/** The first ```ts block after the "## In code" heading of the README. */
function readmeExample(): string {
  const readme = readFileSync(join(REPOSITORY, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## In code'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match !== null, 'the README has no ts block under "## In code"');
  return match[1]!;
}

/**
 * Runs the example until it prints the line of the order it consumed, then stops it (the
 * example consumes forever); resolves with that line. Fails if it exits first.
 */
function runUntilConsumed(file: string, logUrl: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', file], {
      env: { ...process.env, HERALD_LOG: logUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let consumed: string | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (consumed === undefined && /^o-1 at \d+\/\d+ handled$/.test(line)) {
        consumed = line;
        child.kill('SIGTERM');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (consumed !== undefined) resolve(consumed);
      else reject(new Error(`the example exited (${String(code)}) before consuming its order:\n${stderr}`));
    });
  });
}

void describe("the README's code example", () => {
  // Inside the repository (git-ignored), so that `@herald/core` and `zod` resolve as for a user.
  const folder = join(REPOSITORY, '.herald', 'readme-example');
  const logs = mkdtempSync(join(tmpdir(), 'herald-readme-'));
  after(() => {
    rmSync(folder, { recursive: true, force: true });
    rmSync(logs, { recursive: true, force: true });
  });

  void it('runs, and runs again on the same log file, each time consuming the order it appended', async () => {
    mkdirSync(folder, { recursive: true });
    const file = join(folder, 'example.ts');
    writeFileSync(file, readmeExample());
    const logUrl = `sqlite:${join(logs, 'herald.db')}`;
    const first = await runUntilConsumed(file, logUrl);
    const second = await runUntilConsumed(file, logUrl);
    // The same key, so the same partition; the group committed the first order, so the second
    // run consumes the one it appended: a later offset.
    const [partition1, offset1] = first.split(' ')[2]!.split('/').map(Number);
    const [partition2, offset2] = second.split(' ')[2]!.split('/').map(Number);
    assert.equal(partition2, partition1, `${first} then ${second}`);
    assert.equal(offset2, offset1! + 1, `${first} then ${second}`);
  });
});
