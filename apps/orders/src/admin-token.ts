// The admin token generated when HERALD_ADMIN_TOKEN is unset never goes to the output (logs
// are collected, shared, kept): it is written to a file only the OS user can read, and the
// banner names the file.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where a generated admin token is written when HERALD_ADMIN_TOKEN_FILE does not say. */
export const DEFAULT_ADMIN_TOKEN_FILE = '.herald/admin-token';

/**
 * Writes `token` to `path` with mode 0600 (also when the file existed with another mode) and
 * returns `path`. Throws when it cannot: an admin API whose token nobody can read is no use.
 */
export function saveGeneratedToken(token: string, path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
