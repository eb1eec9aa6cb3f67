import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { BENCH_ROOT, benchFilesystem } from './bench-dir.ts';

/** Facts about the machine a result was measured on; a ratio is only comparable with them. */
export interface MachineFacts {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryMb: number;
  readonly os: string;
  readonly node: string;
  /** The SQLite compiled into this Node, from `SELECT sqlite_version()`. */
  readonly sqlite: string;
  readonly benchDir: string;
  /** `tmpfs` here would make every fsync free: such a result says nothing about durability. */
  readonly benchFilesystem: string;
}

/** Collects {@link MachineFacts} for the current process. */
export function machineFacts(): MachineFacts {
  const db = new DatabaseSync(':memory:');
  try {
    const row = db.prepare('SELECT sqlite_version() AS version').get() as { version: string };
    return {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      memoryMb: Math.round(totalmem() / 2 ** 20),
      os: `${process.platform} ${release()} ${process.arch}`,
      node: process.version,
      sqlite: row.version,
      benchDir: BENCH_ROOT,
      benchFilesystem: benchFilesystem(),
    };
  } finally {
    db.close();
  }
}
