// Runs a guide's shell blocks in order, as a reader would type them, so that a guide's commands
// are tested in CI rather than copied into a test. The markdown stays readable: what the runner
// needs is in the fence's info string (renderers show only its first word) and in HTML comments.
//
//   ```sh                          run with bash (-euo pipefail) from the repository root; must exit 0
//   ```sh server ready=<text>      start in the background; go on once its output shows <text>
//   <!-- guide: stop -->           Ctrl-C to the server started last (of those still running)
//   <!-- guide: expect /re/ -->    the previous block's output must match the regular expression
//
// Every `export NAME=…` line of earlier blocks is run again before each block, so a block sees
// the variables the guide set, as one terminal session would. The caller's environment comes
// first: a guide writes `export KAFKA_URL="${KAFKA_URL:-kafka://localhost:9092}"` and the test
// points it at its own broker.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** One step of a guide, in document order. */
export type GuideStep =
  | { readonly kind: 'run'; readonly script: string; readonly line: number }
  | { readonly kind: 'server'; readonly script: string; readonly ready: string; readonly line: number }
  | { readonly kind: 'stop'; readonly line: number }
  | { readonly kind: 'expect'; readonly pattern: RegExp; readonly line: number };

/** The steps of a guide: its `sh` blocks and its `guide:` comments. Other blocks are prose. */
export function guideSteps(markdown: string): GuideStep[] {
  const steps: GuideStep[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^```sh(?:\s+(.*))?$/.exec(line);
    if (fence !== null) {
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && lines[j] !== '```'; j++) body.push(lines[j]!);
      assert.ok(j < lines.length, `line ${i + 1}: an sh block that never ends`);
      const info = fence[1] ?? '';
      const script = body.join('\n');
      if (/^server\b/.test(info)) {
        const ready = /ready=(?:"([^"]+)"|(\S+))/.exec(info);
        assert.ok(ready !== null, `line ${i + 1}: a server block needs ready=<text>`);
        steps.push({ kind: 'server', script, ready: ready[1] ?? ready[2]!, line: i + 1 });
      } else {
        steps.push({ kind: 'run', script, line: i + 1 });
      }
      i = j;
      continue;
    }
    const comment = /^<!-- guide: (stop|expect \/(.*)\/) -->$/.exec(line);
    if (comment !== null) {
      steps.push(
        comment[1] === 'stop'
          ? { kind: 'stop', line: i + 1 }
          : { kind: 'expect', pattern: new RegExp(comment[2]!), line: i + 1 },
      );
    }
  }
  return steps;
}

export interface GuideRunOptions {
  /** The repository root: where the guide's commands run. */
  readonly cwd: string;
  /** The environment the commands start from (the guide's `export … :-default` defer to it). */
  readonly env: NodeJS.ProcessEnv;
  /** Reports each step as it starts (test diagnostics). */
  readonly onStep?: (description: string) => void;
  /** How long a server may take to print its ready text; default 120 s. */
  readonly readyTimeoutMs?: number;
}

/** Runs every step of the guide at `path`; throws at the first step that fails, with its output. */
export async function runGuide(path: string, options: GuideRunOptions): Promise<void> {
  const steps = guideSteps(readFileSync(path, 'utf8'));
  assert.ok(steps.length > 0, `${path} has no sh blocks`);
  const exports: string[] = [];
  const servers: { child: ChildProcess; output: () => string; line: number }[] = [];
  let lastOutput = '';
  const prelude = () => ['set -euo pipefail', ...exports].join('\n');
  const bash = (script: string) =>
    spawn('bash', ['-c', `${prelude()}\n${script}`], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  try {
    for (const step of steps) {
      if (step.kind === 'run') {
        options.onStep?.(`line ${step.line}: ${step.script.split('\n')[0]}`);
        const child = bash(step.script);
        const output = collect(child);
        const [code] = (await once(child, 'close')) as [number | null];
        lastOutput = output();
        assert.equal(
          code,
          0,
          `the block at line ${step.line} exited with ${code}:\n${step.script}\n--- output\n${lastOutput}`,
        );
        exports.push(...step.script.split('\n').filter((l) => /^export [A-Z_][A-Z0-9_]*=/.test(l)));
      } else if (step.kind === 'server') {
        options.onStep?.(`line ${step.line}: start ${step.script.split('\n')[0]}`);
        const child = bash(step.script);
        const output = collect(child);
        servers.push({ child, output, line: step.line });
        await waitFor(child, output, step.ready, options.readyTimeoutMs ?? 120_000, step.line);
        lastOutput = output();
      } else if (step.kind === 'stop') {
        const server = servers.pop();
        assert.ok(server !== undefined, `line ${step.line}: no server to stop`);
        options.onStep?.(`line ${step.line}: Ctrl-C to the server of line ${server.line}`);
        const { child, output } = server;
        const closed = once(child, 'close');
        // The whole process group, as a terminal's Ctrl-C would: npm and the program under it.
        process.kill(-child.pid!, 'SIGINT');
        const [code, signal] = (await closed) as [number | null, NodeJS.Signals | null];
        lastOutput = output();
        // What a terminal shows after Ctrl-C: npm passes the signal on, waits for the program,
        // then ends by the same signal (status 130), the program itself having exited cleanly.
        assert.ok(
          code === 0 || code === 130 || signal === 'SIGINT',
          `the server stopped with ${code ?? signal} after Ctrl-C:\n${lastOutput}`,
        );
      } else {
        assert.match(lastOutput, step.pattern, `line ${step.line}: the output before it`);
      }
    }
  } finally {
    for (const server of servers) {
      try {
        process.kill(-server.child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

function collect(child: ChildProcess): () => string {
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return () => text;
}

/** Resolves once `output` contains `ready`; fails if the process exits first or nothing comes in time. */
async function waitFor(
  child: ChildProcess,
  output: () => string,
  ready: string,
  timeoutMs: number,
  line: number,
): Promise<void> {
  const started = Date.now();
  while (!output().includes(ready)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server of line ${line} exited before "${ready}":\n${output()}`);
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`the server of line ${line} did not print "${ready}" in ${timeoutMs} ms:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
