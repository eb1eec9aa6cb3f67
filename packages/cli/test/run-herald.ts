import { randomUUID } from 'node:crypto';
import { run } from '../src/main.ts';

/** What one in-process `run` printed and returned. */
export interface HeraldRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** `HERALD_LOG`; the default is a memory broker private to this call. */
  readonly log?: string;
  /** `HERALD_STORE`, when the log is not the store. */
  readonly store?: string;
  /** Bytes piped into standard input; undefined means a terminal (nothing piped). */
  readonly stdin?: string | Uint8Array;
  readonly now?: number;
  readonly signal?: AbortSignal;
}

/** Runs herald in-process, capturing its output. */
export async function runHerald(argv: readonly string[], options: RunOptions = {}): Promise<HeraldRun> {
  let stdout = '';
  let stderr = '';
  const { stdin } = options;
  const status = await run(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {
      HERALD_LOG: options.log ?? `memory:${uniqueName()}`,
      ...(options.store === undefined ? {} : { HERALD_STORE: options.store }),
    },
    readStdin: () => Promise.resolve(typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin),
    ...(options.now === undefined ? {} : { now: () => options.now! }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { status, stdout, stderr };
}

/** A fresh name for a memory broker, so tests never share state by accident. */
export function uniqueName(): string {
  return `cli-test-${randomUUID()}`;
}
