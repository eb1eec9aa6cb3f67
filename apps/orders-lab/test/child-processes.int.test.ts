// The systems the lab starts never outlive it: a parent that is SIGKILLed (no hook of its own
// runs) or dies of an uncaught exception leaves no process behind, the REST baseline's five
// services included. Real processes, read from /proc (Linux).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';

const PARENT = new URL('./fixtures/systems-parent.ts', import.meta.url).pathname;

/** A process, told apart from a later one with the same pid by its start time. */
interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly startTime: string;
  readonly state: string;
}

async function readProc(pid: number): Promise<Proc | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain anything: fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]! };
  } catch {
    return undefined;
  }
}

async function allProcs(): Promise<Proc[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const procs = await Promise.all(pids.map(readProc));
  return procs.filter((p): p is Proc => p !== undefined);
}

/** Every live descendant of `root`. */
async function descendants(root: number): Promise<Proc[]> {
  const procs = await allProcs();
  const found: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

/** Whether `proc` still runs (a zombie has ended; a new process on its pid is another one). */
async function alive(proc: Proc): Promise<boolean> {
  const now = await readProc(proc.pid);
  return now !== undefined && now.startTime === proc.startTime && now.state !== 'Z';
}

/**
 * Waits until none of `procs` runs. Fails when none of them ended during `stallMs`: progress,
 * not a total time, bounds the wait.
 */
async function waitAllEnded(procs: readonly Proc[], stallMs: number): Promise<void> {
  let left = procs;
  let progressAt = performance.now();
  while (left.length > 0) {
    const still = (await Promise.all(left.map(async (p) => ((await alive(p)) ? p : undefined)))).filter(
      (p): p is Proc => p !== undefined,
    );
    if (still.length < left.length) progressAt = performance.now();
    left = still;
    if (left.length > 0 && performance.now() - progressAt > stallMs) {
      assert.fail(
        `still running after ${stallMs} ms without one ending: ${left.map((p) => p.pid).join(', ')}`,
      );
    }
    await sleep(50);
  }
}

/** Starts the fixture parent and resolves once both systems answer; `startupMs` is how long that took. */
async function startParent(then: 'wait' | 'throw', dataDir: string) {
  const started = performance.now();
  const parent = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', PARENT, then, dataDir], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let errors = '';
  parent.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = once(parent, 'exit');
  const lines = createInterface({ input: parent.stdout });
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    exited.then(() => undefined),
  ]);
  assert.ok(first !== undefined, `the parent ended before both systems were ready:\n${errors}`);
  return { parent, exited, startupMs: performance.now() - started, errors: () => errors };
}

describe('the systems the lab starts', { skip: process.platform !== 'linux', timeout: 900_000 }, () => {
  let dataDir = '';
  let parent: ChildProcess | undefined;
  beforeEach(async () => {
    parent = undefined;
    dataDir = await mkdtemp(join(tmpdir(), 'herald-lab-parent-'));
  });
  afterEach(async () => {
    parent?.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('all end when their parent is SIGKILLed: the event-driven system and the REST launcher with its five services', async () => {
    const started = await startParent('wait', dataDir);
    parent = started.parent;
    const procs = await descendants(parent.pid!);
    // main.ts; the launcher and its five services.
    assert.equal(procs.length, 7, `descendants: ${JSON.stringify(procs)}`);
    parent.kill('SIGKILL');
    await started.exited;
    await waitAllEnded(procs, 2 * started.startupMs);
  });

  it('all end when their parent dies of an uncaught exception', async () => {
    const started = await startParent('throw', dataDir);
    parent = started.parent;
    const procs = await descendants(parent.pid!);
    assert.equal(procs.length, 7, `descendants: ${JSON.stringify(procs)}`);
    parent.stdin!.write('fail now\n');
    const [code] = (await started.exited) as [number | null];
    assert.equal(code, 1);
    assert.match(started.errors(), /the parent fails/);
    await waitAllEnded(procs, 2 * started.startupMs);
  });
});
