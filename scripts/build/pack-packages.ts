// `npm run pack`: builds every publishable package (build-packages.ts) and packs each staged
// folder with `npm pack` into one folder, .herald/packages/. What lands there is what a publish
// would upload: `npm publish .herald/packages/<tarball>`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPOSITORY, buildPackages } from './build-packages.ts';

/** Where the tarballs are written. */
export const TARBALLS = join(REPOSITORY, '.herald', 'packages');

/** A packed package: its name and the absolute path of its tarball. */
export interface Tarball {
  readonly name: string;
  readonly file: string;
}

/**
 * Builds and packs every publishable package into `destination` (emptied first) and returns the
 * tarballs. npm runs on the Node.js running this script, so the pinned Node is used from npm
 * scripts and tests alike.
 */
export async function packPackages(
  destination: string = TARBALLS,
  log: (line: string) => void = () => undefined,
): Promise<Tarball[]> {
  const staged = await buildPackages(log);
  rmSync(destination, { recursive: true, force: true });
  mkdirSync(destination, { recursive: true });
  const result = spawnSync(
    'npm',
    ['pack', '--json', '--pack-destination', destination, ...staged.map((pkg) => pkg.directory)],
    { encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } },
  );
  if (result.status !== 0) {
    throw new Error(`npm pack failed (exit ${String(result.status)}):\n${result.stderr}`);
  }
  const packed = JSON.parse(result.stdout) as { name: string; filename: string }[];
  const tarballs = packed.map((entry) => ({ name: entry.name, file: join(destination, entry.filename) }));
  for (const tarball of tarballs) log(`packed ${tarball.name} into ${relative(REPOSITORY, tarball.file)}`);
  return tarballs;
}

if (import.meta.main) {
  const tarballs = await packPackages(TARBALLS, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`${String(tarballs.length)} tarballs in ${relative(REPOSITORY, TARBALLS)}\n`);
}
