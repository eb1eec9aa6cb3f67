// Running a system under test as a child process: start it, wait until it answers a readiness
// URL, keep the end of its output for error messages, stop it with SIGTERM (SIGKILL after a
// grace period). Also: finding free loopback ports for it. Not domain code: test support that
// the lab and the REST baseline's tests both use, kept here so neither depends on the other.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A started child process. */
export interface ChildSystem extends AsyncDisposable {
  readonly name: string;
  readonly process: ChildProcess;
  /** The last few KB of its stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartChildOptions {
  readonly name: string;
  /** A script run by this Node (`process.execPath`), with `--disable-warning=ExperimentalWarning`. */
  readonly script: string;
  readonly args?: readonly string[];
  /** Node options placed before the script, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Polled until it answers 2xx. */
  readonly readyUrl: string;
  readonly readyTimeoutMs?: number;
}

const OUTPUT_KEPT = 16 * 1024;

/** Starts `script` and resolves once `readyUrl` answers; throws with its output if it does not. */
export async function startChildSystem(options: StartChildOptions): Promise<ChildSystem> {
  const child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      ...(options.nodeArgs ?? []),
      options.script,
      ...(options.args ?? []),
    ],
    { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = once(child, 'exit').then(() => undefined);
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 15_000) =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    })());
  const system: ChildSystem = {
    name: options.name,
    process: child,
    output: () => output,
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };

  const deadline = performance.now() + (options.readyTimeoutMs ?? 30_000);
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${options.name} exited (${child.signalCode ?? child.exitCode}) before it was ready:\n${output}`,
      );
    }
    try {
      const response = await fetch(options.readyUrl, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return system;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  await stop(2_000);
  throw new Error(`${options.name} was not ready at ${options.readyUrl} in time:\n${output}`);
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * The first of `count` consecutive loopback ports that are free right now (another process may
 * still take one before the caller binds it; callers start soon after).
 */
export async function findFreePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let port = base; port < base + count && free; port++) free = await portIsFree(port);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found on 127.0.0.1`);
}

/** The environment of this process without variables that would change a child's behaviour. */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('OTEL_') || key.startsWith('HERALD_') || key === 'NODE_OPTIONS' || key === 'PORT')
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}
