// Every example is run as its own process, as a reader would run it, and must print exactly
// its expected-output.txt: an example that drifts from the runtime fails CI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';

const examples = import.meta.dirname;
const repository = dirname(examples);

/** Example folders with no fixed output, each with the reason. */
const LIVE_DEMOS: Readonly<Record<string, string>> = {
  tour: 'a live demo: runs until stopped and prints the ids and positions of the orders it makes up',
};

const folders = (await readdir(examples, { withFileTypes: true }))
  .filter((entry) => entry.isDirectory() && existsSync(join(examples, entry.name, 'main.ts')))
  .map((entry) => entry.name)
  .sort();

/** Runs one example with the repository's Node, on a fresh temporary log (HERALD_LOG unset). */
function run(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env['HERALD_LOG'];
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(examples, name, 'main.ts')],
    { cwd: repository, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('examples', () => {
  it('include the five runtime examples', () => {
    for (const name of [
      'publish-and-consume',
      'retry-and-dead-letter',
      'idempotent-consumer',
      'outbox',
      'replay',
    ]) {
      assert.ok(folders.includes(name), `examples/${name}/main.ts is missing`);
    }
  });

  for (const name of folders) {
    const skip = LIVE_DEMOS[name];
    it(
      `${name} exits 0 and prints exactly its expected-output.txt`,
      skip === undefined ? {} : { skip },
      async () => {
        const expected = await readFile(join(examples, name, 'expected-output.txt'), 'utf8');
        const { code, stdout, stderr } = await run(name);
        assert.equal(code, 0, `examples/${name} exited with ${code}:\n${stderr}`);
        assert.equal(
          stdout,
          expected,
          `examples/${name} printed something else (stderr: ${stderr || 'empty'})`,
        );
      },
    );
  }
});
