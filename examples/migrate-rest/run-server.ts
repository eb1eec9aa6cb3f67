// For the tests: runs a stage's server.ts, or one of its commands, as its own process, as the
// guide tells a reader to.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface RunningServer extends AsyncDisposable {
  readonly url: string;
  readonly process: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
}

/** Starts `script` on a free port and resolves once it printed the address it listens on. */
export async function runServer(script: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const look = (): void => {
      const found = /listening on (http:\/\/\S+)/.exec(output);
      if (found !== null) resolve(found[1]!);
    };
    child.stdout.on('data', look);
    child.once('exit', (code) =>
      reject(new Error(`${script} exited with ${code} before listening:\n${output}`)),
    );
  });
  return {
    url,
    process: child,
    output: () => output,
    async [Symbol.asyncDispose]() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs `script` with `args` as its own process, as the guide tells a reader to; resolves when it exits. */
export async function runCommand(
  script: string,
  args: readonly string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/**
 * Asks `read` until `done` holds for what it returns. No clock decides: it gives up only after
 * `attempts` reads (each `pauseMs` apart) saw no change at all, i.e. when nothing progresses.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { attempts = 400, pauseMs = 25 } = {},
): Promise<T> {
  let last = '';
  let still = 0;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    const seen = JSON.stringify(value);
    still = seen === last ? still + 1 : 0;
    last = seen;
    if (still > attempts) throw new Error(`no progress after ${attempts} reads; last: ${seen}`);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
