import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/**
 * CPU time and memory of a system's whole process tree, from Linux's `/proc`: a system under
 * test is often several processes (a starter and its services), and its cost is theirs together.
 */

/** The fields of `/proc/<pid>/stat` this module uses; times in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** User-mode CPU time, in clock ticks. */
  readonly utime: number;
  /** Kernel-mode CPU time, in clock ticks. */
  readonly stime: number;
}

/**
 * Parses one `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may hold
 * spaces and parentheses itself, so fields are counted from the last `)`. Throws a `RangeError`
 * on a line that is not of that shape.
 *
 * @example parseProcStat('42 (node) S 1 42 42 0 -1 4194560 1 0 0 0 7 3 0 0').utime === 7
 */
export function parseProcStat(line: string): ProcStat {
  const close = line.lastIndexOf(')');
  const pid = Number(line.slice(0, line.indexOf(' ')));
  // After ") ": state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) minflt(10)
  // cminflt(11) majflt(12) cmajflt(13) utime(14) stime(15).
  const fields = close < 0 ? [] : line.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isSafeInteger(pid) || ![ppid, utime, stime].every(Number.isSafeInteger)) {
    throw new RangeError(`not a /proc/<pid>/stat line: ${line.slice(0, 80)}`);
  }
  return { pid, ppid, utime, stime };
}

/** `VmHWM` (peak resident set) of a `/proc/<pid>/status` text, in bytes; undefined when absent. */
export function parseVmHwm(status: string): number | undefined {
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  return match === null ? undefined : Number(match[1]) * 1024;
}

/** `roots` and every process below them in `table` (pid → parent pid), roots first. */
export function descendants(roots: readonly number[], table: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of table) {
    let list = children.get(ppid);
    if (list === undefined) children.set(ppid, (list = []));
    list.push(pid);
  }
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every common Linux). */
export const CLOCK_TICKS: number = (() => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const value = Number(result.stdout?.trim());
  return Number.isSafeInteger(value) && value > 0 ? value : 100;
})();

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // Gone meanwhile, or not Linux.
  }
}

/** Every live process's parent, read from `/proc`. */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat !== undefined) table.set(stat.pid, stat.ppid);
  }
  return table;
}

/**
 * CPU time the whole machine has spent busy so far, in µs: every CPU's user, nice, system, irq,
 * softirq and steal time from `/proc/stat` (idle and I/O wait left out). It takes in what no
 * process tree shows: a broker and a database the benchmark did not start. Undefined off Linux.
 */
export function machineBusyMicros(): number | undefined {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return undefined;
  }
  const fields = line?.startsWith('cpu ') ? line.trim().split(/\s+/).slice(1).map(Number) : [];
  // user nice system idle iowait irq softirq steal (guest time is counted in user already)
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
  const [user, nice, system, , , irq, softirq, steal] = fields as [number, ...number[]];
  return ((user + nice! + system! + irq! + softirq! + steal!) * 1e6) / CLOCK_TICKS;
}

/** The live processes of the trees under `roots`. */
export function processTree(roots: readonly number[]): number[] {
  return descendants(roots, processTable()).filter((pid) => readStat(pid) !== undefined);
}

/** What a process tree has used so far. */
export interface TreeUsage {
  readonly pids: readonly number[];
  /** User plus system CPU time of the live processes, in µs. */
  readonly cpuMicros: number;
  /** Sum of each process's peak resident set (`VmHWM`), in bytes. */
  readonly peakRssBytes: number;
}

/**
 * CPU time and peak memory of the trees under `roots` right now. CPU is per process, so take it
 * before and after a run and subtract; children that exit during the run take their time with them.
 */
export function treeUsage(roots: readonly number[]): TreeUsage {
  const pids = processTree(roots);
  let ticks = 0;
  let peakRssBytes = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat !== undefined) ticks += stat.utime + stat.stime;
    try {
      peakRssBytes += parseVmHwm(readFileSync(`/proc/${pid}/status`, 'utf8')) ?? 0;
    } catch {
      // Gone meanwhile.
    }
  }
  return { pids, cpuMicros: (ticks * 1e6) / CLOCK_TICKS, peakRssBytes };
}

/**
 * CPU time of a process tree that only ever grows: each read takes the live processes' times and
 * keeps, for a process gone since the last read, the time it had then. A child that exits in
 * the middle of a run (a crashed service) would otherwise take its CPU time with it and make the
 * difference between two reads negative; its time after the last read is lost, so read often.
 */
export class CpuMeter {
  readonly #roots: () => readonly number[];
  readonly #ticks = new Map<number, number>();

  constructor(roots: () => readonly number[]) {
    this.#roots = roots;
  }

  /** CPU µs of every process seen under the roots so far. */
  cpuMicros(): number {
    for (const pid of processTree(this.#roots())) {
      const stat = readStat(pid);
      if (stat !== undefined)
        this.#ticks.set(pid, Math.max(this.#ticks.get(pid) ?? 0, stat.utime + stat.stime));
    }
    let ticks = 0;
    for (const value of this.#ticks.values()) ticks += value;
    return (ticks * 1e6) / CLOCK_TICKS;
  }
}

/**
 * Sends `signal` to every process of the trees under `roots`, leaves first; never throws. Only
 * roots that are still this process's children count: a root that exited may have had its pid
 * given to some other process since, which is not ours to signal.
 */
export function signalTree(roots: readonly number[], signal: NodeJS.Signals): void {
  const table = processTable();
  const own = roots.filter((pid) => table.get(pid) === process.pid);
  for (const pid of descendants(own, table).reverse()) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
