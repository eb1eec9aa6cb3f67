import { mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where benchmark databases live: `.cache/bench-tmp` under the repository (ignored by git),
 * or `HERALD_BENCH_DIR`. Deliberately not `:memory:` and not `os.tmpdir()`, which is tmpfs on
 * many machines: a durable log has to be measured against a real disk and real fsyncs.
 */
export const BENCH_ROOT =
  process.env['HERALD_BENCH_DIR'] ?? fileURLToPath(new URL('../../.cache/bench-tmp', import.meta.url));

/** A fresh, empty directory for one round; disposing it deletes it with everything inside. */
export interface BenchDir extends Disposable {
  readonly path: string;
  /** A path inside the directory. */
  file(name: string): string;
}

/**
 * Creates a fresh directory under {@link BENCH_ROOT} for one round.
 *
 * @example
 * using dir = benchDir('append');
 * const log = await openSqliteLog({ path: dir.file('log.db'), synchronous: 'full' });
 */
export function benchDir(label: string): BenchDir {
  mkdirSync(BENCH_ROOT, { recursive: true });
  const path = mkdtempSync(join(BENCH_ROOT, `${label}-`));
  return {
    path,
    file: (name) => join(path, name),
    [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }),
  };
}

const FILESYSTEMS: Readonly<Record<number, string>> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6a656a63: 'virtiofs',
};

/** The file-system type of {@link BENCH_ROOT} (`ext4`, `tmpfs`, …, or its magic number). */
export function benchFilesystem(): string {
  mkdirSync(BENCH_ROOT, { recursive: true });
  const type = statfsSync(BENCH_ROOT).type;
  return FILESYSTEMS[type] ?? `0x${type.toString(16)}`;
}
