// A size-limited filesystem for disk-full tests (Linux): a tmpfs of a few MiB mounted by the test (root
// is needed), and a filler file that takes all of its free space but `leaveBytes`.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk extends AsyncDisposable {
  readonly dir: string;
  /** Fills the disk until at most `leaveBytes` are free. */
  fill(leaveBytes?: number): void;
  /** Frees what `fill` took. */
  free(): void;
  /** Bytes free now. */
  freeBytes(): number;
}

/** Why a small disk cannot be mounted here, or undefined when it can. */
export function smallDiskUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a size-limited tmpfs needs root';
  return undefined;
}

export function mountSmallDisk(sizeMiB = 8): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'herald-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
  const filler = join(dir, 'filler');
  const freeBytes = () => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    freeBytes,
    fill(leaveBytes = 0) {
      const fd = openSync(filler, 'a');
      try {
        const chunk = Buffer.alloc(64 * 1024, 1);
        while (freeBytes() > leaveBytes) {
          const size = Math.min(chunk.length, Math.max(4096, freeBytes() - leaveBytes));
          try {
            writeSync(fd, chunk, 0, size);
          } catch {
            break;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    async [Symbol.asyncDispose]() {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
