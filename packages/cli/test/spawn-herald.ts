// Runs the real `herald` executable as a child process, for the integration tests.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/herald.js', import.meta.url));

/** What one herald process printed and how it exited. */
export interface HeraldProcessResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `herald <args>` with `HERALD_LOG=<log>` on the Node running the tests. */
export async function spawnHerald(
  args: readonly string[],
  log: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<HeraldProcessResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, HERALD_LOG: log, ...extraEnv };
  delete env['HERALD_DEBUG'];
  if (extraEnv['HERALD_ACTOR'] === undefined) delete env['HERALD_ACTOR'];
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

/** A fresh folder with a database path (and its `sqlite:` URL), removed by `dispose`. */
export function tempDatabase(): { path: string; url: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  const path = join(dir, 'herald.db');
  return {
    path,
    url: `sqlite:${path}`,
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}
