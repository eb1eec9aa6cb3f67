// startChildSystem on real processes: a child that cannot be started is a clear error, and
// stopping a child ends everything it started, even what it left behind.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { cleanEnv, findFreePorts, startChildSystem } from '../src/testing/child-system.ts';

const LAUNCHER = new URL('./fixtures/careless-launcher.ts', import.meta.url).pathname;

/** Whether `pid` runs (a zombie has ended). */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('startChildSystem', { skip: process.platform !== 'linux', timeout: 120_000 }, () => {
  it('refuses a child it cannot start, saying which and why', async () => {
    await assert.rejects(
      startChildSystem({
        name: 'nowhere',
        script: LAUNCHER,
        env: cleanEnv({}),
        cwd: '/this/folder/does/not/exist',
        readyUrl: 'http://127.0.0.1:1/readyz',
      }),
      /^Error: nowhere could not be started: spawn .* ENOENT/,
    );
  });

  it('stops the child and every process of its group, even one it left behind ignoring SIGTERM', async () => {
    const port = await findFreePorts(1);
    const readyUrl = `http://127.0.0.1:${port}/readyz`;
    const system = await startChildSystem({
      name: 'careless launcher',
      script: LAUNCHER,
      args: [String(port)],
      env: cleanEnv({}),
      readyUrl,
    });
    const { grandchild } = (await (await fetch(readyUrl)).json()) as { grandchild: number };
    assert.equal(await running(grandchild), true);
    await system.stop();
    assert.equal(system.process.exitCode, 0, 'the child itself stopped on SIGTERM');
    // SIGKILL is not deferred: it only has to be delivered.
    while (await running(grandchild)) await sleep(20);
  });
});
