// Running a system under test as a child process: start it, wait until it answers a readiness
// URL, keep the end of its output for error messages, stop it with SIGTERM (SIGKILL after a
// grace period). Also: finding free loopback ports for it. Not domain code: test support that
// the lab and the REST baseline's tests both use, kept here so neither depends on the other.
//
// A child never outlives the process that started it:
// - it runs in its own process group (with everything it starts), and `stop` signals the whole
//   group, so a launcher's own children go with it;
// - when this process exits without having stopped it (normal end, `process.exit`, an uncaught
//   exception), an `exit` hook SIGKILLs its group;
// - it gets an IPC channel: when this process dies in a way no hook sees (SIGKILL, a crash), the
//   channel closes, and the systems started here (`apps/orders/src/main.ts`, `service-main.ts`,
//   `start-rest-baseline.ts`) stop gracefully on that `disconnect` (`stopWhenParentGone` of
//   `../parent-process.ts`).
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
  /**
   * SIGTERM to its process group, then SIGKILL to the group after `graceMs`; resolves when it
   * exited (and whatever was left of its group was killed). Safe to call twice.
   */
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

/** Children started here and not yet exited: what the `exit` hook kills. */
const running = new Set<ChildSystem>();

/** Signals every process of `child`'s group; false when none was left. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    // ESRCH: the group is gone already.
    return false;
  }
}

let exitHooked = false;

function killAllOnExit(): void {
  for (const system of running) signalGroup(system.process, 'SIGKILL');
}

/**
 * Stops every child system started here that is still running, as `ChildSystem.stop` does, all
 * at once. For a process that is about to end (e.g. on SIGINT) and holds no other reference to
 * them.
 */
export async function stopChildSystems(graceMs?: number): Promise<void> {
  await Promise.allSettled([...running].map((system) => system.stop(graceMs)));
}

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
    {
      env: options.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: signals reach everything it started, and a Ctrl-C at a terminal
      // reaches only this process, which stops it.
      detached: true,
    },
  );
  if (child.pid === undefined) {
    const [error] = (await once(child, 'error')) as [Error];
    throw new Error(`${options.name} could not be started: ${error.message}`, { cause: error });
  }
  // The IPC channel is only there to close when this process dies: it must not keep it alive.
  child.channel?.unref();
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A signal that could not be sent: kept with its output rather than thrown.
  child.on('error', (error) => keep(Buffer.from(`\n${error.message}\n`)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 15_000) =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        signalGroup(child, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Whatever it started and left behind.
      signalGroup(child, 'SIGKILL');
      running.delete(system);
    })());
  const system: ChildSystem = {
    name: options.name,
    process: child,
    output: () => output,
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
  if (!exitHooked) process.on('exit', killAllOnExit);
  exitHooked = true;
  running.add(system);
  void exited.then(() => {
    if (stopping !== undefined) return;
    // It ended by itself: its group may still hold what it started.
    signalGroup(child, 'SIGKILL');
    running.delete(system);
  });

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

/** Ports this process has handed out already. */
const handedOut = new Set<number>();

/**
 * The first of `count` consecutive loopback ports that are free right now (another process may
 * still take one before the caller binds it; callers start soon after).
 */
export async function findFreePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    // Below Linux's ephemeral range (32768–60999): a port there can be taken as the local end of
    // any outgoing connection between this check and the child's listen.
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count));
    let free = true;
    for (let port = base; port < base + count && free; port++) {
      free = !handedOut.has(port) && (await portIsFree(port));
    }
    if (free) {
      // Two systems started at once in this process never get the same ports.
      for (let port = base; port < base + count; port++) handedOut.add(port);
      return base;
    }
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
