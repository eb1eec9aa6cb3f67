/**
 * Where a V8 CPU profile (`node --cpu-prof`, a `.cpuprofile` file) spends its time, per source
 * file: each sample's time goes to the function on top of the stack at that moment (self time),
 * and functions are grouped by the file they are in.
 */

/** The parts of a `.cpuprofile` document this module reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly url: string; readonly functionName: string };
  }[];
  /** The node on top of the stack at each sample. */
  readonly samples: readonly number[];
  /** µs since the previous sample, one per sample. */
  readonly timeDeltas: readonly number[];
}

/** One file's share of the samples. */
export interface FileSelfTime {
  /** The script's URL or path; `(native)`, `(garbage collector)`, `(idle)`… for V8's own nodes. */
  readonly file: string;
  readonly selfMicros: number;
  /** Of the busy time: every sample but `(idle)`. */
  readonly share: number;
}

/** The node's file: its script URL without `file://`, or its function name for V8's own nodes. */
function fileOf(frame: CpuProfile['nodes'][number]['callFrame']): string {
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  return frame.url.startsWith('file://') ? decodeURIComponent(frame.url.slice('file://'.length)) : frame.url;
}

/**
 * Self time per file over `profiles` (several processes' profiles add up), largest first,
 * at most `top` entries; time the process spent waiting (`(idle)`) is left out. Throws a `RangeError` when a profile's samples and time deltas differ
 * in number or a sample names no node.
 */
export function selfTimeByFile(profiles: readonly CpuProfile[], top: number): FileSelfTime[] {
  const totals = new Map<string, number>();
  let all = 0;
  for (const profile of profiles) {
    if (profile.samples.length !== profile.timeDeltas.length) {
      throw new RangeError(
        `a profile with ${profile.samples.length} samples but ${profile.timeDeltas.length} time deltas`,
      );
    }
    const files = new Map(profile.nodes.map((node) => [node.id, fileOf(node.callFrame)]));
    profile.samples.forEach((id, i) => {
      const file = files.get(id);
      if (file === undefined) throw new RangeError(`a sample of node ${id}, which the profile does not have`);
      if (file === '(idle)') return;
      const micros = Math.max(0, profile.timeDeltas[i]!);
      totals.set(file, (totals.get(file) ?? 0) + micros);
      all += micros;
    });
  }
  return [...totals]
    .map(([file, selfMicros]) => ({ file, selfMicros, share: all === 0 ? 0 : selfMicros / all }))
    .sort((a, b) => b.selfMicros - a.selfMicros)
    .slice(0, top);
}

/** Shortens an absolute path to its part below `root`, for printing. */
export function relativeTo(root: string, file: string): string {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return file.startsWith(prefix) ? file.slice(prefix.length) : file;
}
