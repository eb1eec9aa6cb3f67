// `npm run build`: turns every publishable workspace under packages/ into the form npm ships, in a
// staged folder per package (.herald/dist/<folder>/), leaving the sources and their package.json
// untouched: the repository keeps running TypeScript directly (ADR 0019).
//
// What a staged package holds:
//   src/**/*.js, *.d.ts, *.js.map   compiled by tsc (relative `.ts` imports rewritten to `.js`),
//                                   source maps with the TypeScript inlined
//   entries/<subpath>.js            one per `exports` subpath: checks the Node.js version, then
//                                   loads the compiled module (see writeEntry)
//   bin/*.js                        the package's commands, their `.ts` imports rewritten
//   package.json                    exports with `types` + `import`, files, engines, bin
//   README.md, CHANGELOG.md, LICENSE
//   whatever else the source package.json lists in `files`, copied as it is (templates, assets)
//
// Which packages: every folder of packages/ with a package.json that is not `"private": true`.
// Nothing here names a package, so a new workspace is built as soon as it exists.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root. */
export const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));
/** Where the staged packages are written: .herald/dist/<package folder>/. Git-, lint- and format-ignored. */
export const DIST = join(REPOSITORY, '.herald', 'dist');
const BUILD = join(REPOSITORY, '.herald', 'build');
/** The Node.js version check copied into every staged package (see packages/core/src/node-version.js). */
const NODE_VERSION_GUARD = join(REPOSITORY, 'packages', 'core', 'src', 'node-version.js');

/** A workspace package.json, as far as the build reads it. */
interface SourceManifest {
  name: string;
  version: string;
  description?: string;
  private?: boolean;
  license?: string;
  type?: string;
  bin?: string | Record<string, string>;
  exports?: string | Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, unknown>;
  [field: string]: unknown;
}

/** One package to build: its folder under packages/ and its manifest. */
export interface Workspace {
  /** The folder name under packages/ (also the staged folder's name). */
  readonly folder: string;
  /** Absolute path of the package's source folder. */
  readonly directory: string;
  readonly manifest: SourceManifest;
}

/** A staged package, ready for `npm pack`. */
export interface StagedPackage {
  readonly name: string;
  readonly version: string;
  /** Absolute path of the staged folder. */
  readonly directory: string;
}

/** Every folder of packages/ with a package.json that is not private, in name order. */
export function publishableWorkspaces(): Workspace[] {
  const packages = join(REPOSITORY, 'packages');
  return readdirSync(packages)
    .sort()
    .map((folder) => ({ folder, directory: join(packages, folder) }))
    .filter(({ directory }) => existsSync(join(directory, 'package.json')))
    .map(({ folder, directory }) => ({
      folder,
      directory,
      manifest: JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as SourceManifest,
    }))
    .filter(({ manifest }) => manifest.private !== true);
}

/** The `engines.node` range of the repository's package.json; every staged package gets it. */
function nodeEngines(): string {
  const root = JSON.parse(readFileSync(join(REPOSITORY, 'package.json'), 'utf8')) as {
    engines?: { node?: string };
  };
  const range = root.engines?.node;
  if (range === undefined) throw new Error('package.json has no engines.node to give the built packages');
  return range;
}

/**
 * Builds every publishable workspace into DIST and returns the staged packages. Throws with the
 * compiler's output when tsc fails, and names the package and file when one lacks a README.md or
 * CHANGELOG.md.
 */
export async function buildPackages(log: (line: string) => void = () => undefined): Promise<StagedPackage[]> {
  const workspaces = publishableWorkspaces();
  for (const workspace of workspaces) {
    for (const file of ['README.md', 'CHANGELOG.md']) {
      if (!existsSync(join(workspace.directory, file))) {
        throw new Error(
          `${workspace.manifest.name} has no ${file} (packages/${workspace.folder}/${file}); every published package needs one`,
        );
      }
    }
    const changelog = readFileSync(join(workspace.directory, 'CHANGELOG.md'), 'utf8');
    if (!changelog.split('\n').some((line) => line.startsWith(`## ${workspace.manifest.version}`))) {
      throw new Error(
        `${workspace.manifest.name} ${workspace.manifest.version} has no "## ${workspace.manifest.version}" section in packages/${workspace.folder}/CHANGELOG.md`,
      );
    }
  }
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(BUILD, { recursive: true });
  log(`compiling ${workspaces.map((workspace) => workspace.manifest.name).join(', ')}`);
  compile(workspaces);
  const staged: StagedPackage[] = [];
  for (const workspace of workspaces) {
    staged.push(await stage(workspace));
    log(`staged ${workspace.manifest.name} in ${relative(REPOSITORY, join(DIST, workspace.folder))}`);
  }
  return staged;
}

/**
 * One tsc run over the sources of every publishable package (rootDir packages/, outDir DIST), so
 * a package importing `@herald/core` compiles against core's sources and keeps the bare specifier.
 * The bins are plain JavaScript compiled with allowJs only so that tsc rewrites their `.ts` imports.
 */
function compile(workspaces: readonly Workspace[]): void {
  const tsconfig = join(BUILD, 'tsconfig.json');
  const fromBuild = (path: string): string => relative(BUILD, path).split('\\').join('/');
  writeFileSync(
    tsconfig,
    `${JSON.stringify(
      {
        extends: fromBuild(join(REPOSITORY, 'tsconfig.json')),
        compilerOptions: {
          noEmit: false,
          rewriteRelativeImportExtensions: true,
          declaration: true,
          sourceMap: true,
          inlineSources: true,
          allowJs: true,
          rootDir: fromBuild(join(REPOSITORY, 'packages')),
          outDir: fromBuild(DIST),
        },
        include: workspaces.flatMap((workspace) => [
          `${fromBuild(workspace.directory)}/src/**/*.ts`,
          `${fromBuild(workspace.directory)}/bin/**/*.js`,
        ]),
      },
      undefined,
      2,
    )}\n`,
  );
  const tsc = join(REPOSITORY, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', tsconfig], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`tsc failed (exit ${String(result.status)}):\n${result.stdout}${result.stderr}`);
  }
}

/** Writes the staged folder of one compiled package: entries, declarations fixed up, package.json, docs. */
async function stage(workspace: Workspace): Promise<StagedPackage> {
  const { manifest, directory, folder } = workspace;
  const target = join(DIST, folder);
  mkdirSync(target, { recursive: true });
  for (const file of walk(join(target, 'src'))) {
    if (file.endsWith('.d.ts')) rewriteDeclarationImports(file);
  }
  // Plain JavaScript sources (and their hand-written declarations) ship as written: they are
  // the modules an old Node.js must still be able to parse.
  for (const file of walk(join(directory, 'src'))) {
    if (file.endsWith('.js') || (file.endsWith('.d.ts') && existsSync(file.replace(/\.d\.ts$/, '.js')))) {
      const copy = join(target, relative(directory, file));
      mkdirSync(dirname(copy), { recursive: true });
      copyFileSync(file, copy);
    }
  }
  for (const file of walk(join(target, 'bin'))) {
    if (file.endsWith('.d.ts')) rmSync(file);
  }
  for (const file of [...walk(join(target, 'src')), ...walk(join(target, 'bin'))]) {
    if (file.endsWith('.js.map')) relocateSourceMap(file, directory, target);
  }
  mkdirSync(join(target, 'entries'), { recursive: true });
  copyFileSync(NODE_VERSION_GUARD, join(target, 'entries', 'node-version.js'));

  const exports: Record<string, { types: string; import: string }> = {};
  for (const [subpath, source] of Object.entries(exportMap(manifest))) {
    if (source.endsWith('.js')) {
      exports[subpath] = { types: source.replace(/\.js$/, '.d.ts'), import: source };
      continue;
    }
    if (!source.startsWith('./src/') || !source.endsWith('.ts')) {
      throw new Error(
        `${manifest.name}: export "${subpath}" points at ${source}; the build expects ./src/**/*.ts`,
      );
    }
    const compiled = source.replace(/\.ts$/, '.js');
    const entry = `./entries/${subpath === '.' ? 'index' : subpath.slice(2).replaceAll('/', '-')}.js`;
    await writeEntry(
      join(target, entry),
      subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
      join(target, compiled),
    );
    exports[subpath] = { types: source.replace(/\.ts$/, '.d.ts'), import: entry };
  }

  // Anything else the source package.json lists in `files` (templates, schemas) ships as it is.
  const assets = (Array.isArray(manifest.files) ? (manifest.files as unknown[]) : [])
    .filter((file): file is string => typeof file === 'string')
    .map((file) => file.replace(/^\.\//, '').replace(/\/$/, ''))
    .filter((file) => !['src', 'bin', 'entries', 'README.md', 'CHANGELOG.md'].includes(file));
  for (const asset of assets) {
    if (!existsSync(join(directory, asset))) {
      throw new Error(`${manifest.name}: "files" lists ${asset}, which is not in packages/${folder}`);
    }
    cpSync(join(directory, asset), join(target, asset), { recursive: true });
  }

  const published: Record<string, unknown> = {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    type: 'module',
    license: manifest.license,
    engines: { node: nodeEngines() },
    exports,
    ...(manifest.bin === undefined ? {} : { bin: binMap(manifest) }),
    files: ['src', 'entries', ...(manifest.bin === undefined ? [] : ['bin']), ...assets, 'CHANGELOG.md'],
    ...(manifest.dependencies === undefined ? {} : { dependencies: manifest.dependencies }),
    ...(manifest.peerDependencies === undefined ? {} : { peerDependencies: manifest.peerDependencies }),
    ...(manifest.peerDependenciesMeta === undefined
      ? {}
      : { peerDependenciesMeta: manifest.peerDependenciesMeta }),
    publishConfig: { access: 'public' },
  };
  writeFileSync(join(target, 'package.json'), `${JSON.stringify(published, undefined, 2)}\n`);
  copyFileSync(join(directory, 'README.md'), join(target, 'README.md'));
  copyFileSync(join(directory, 'CHANGELOG.md'), join(target, 'CHANGELOG.md'));
  copyFileSync(join(REPOSITORY, 'LICENSE'), join(target, 'LICENSE'));
  return { name: manifest.name, version: manifest.version, directory: target };
}

/** The `exports` of a manifest as subpath → file (string shorthand and `default`/`import` conditions). */
function exportMap(manifest: SourceManifest): Record<string, string> {
  const exports = manifest.exports;
  if (exports === undefined) return {};
  if (typeof exports === 'string') return { '.': exports };
  const map: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(exports)) {
    const file = typeof target === 'string' ? target : (target['import'] ?? target['default']);
    if (file === undefined)
      throw new Error(`${manifest.name}: export "${subpath}" has no import or default condition`);
    map[subpath] = file;
  }
  return map;
}

/** The `bin` of a manifest with every command pointing at its staged JavaScript file. */
function binMap(manifest: SourceManifest): Record<string, string> {
  const bin = manifest.bin;
  const entries = typeof bin === 'string' ? { [manifest.name.replace(/^@[^/]+\//, '')]: bin } : (bin ?? {});
  return Object.fromEntries(
    Object.entries(entries).map(([command, file]) => {
      if (!file.startsWith('./bin/') || !file.endsWith('.js')) {
        throw new Error(`${manifest.name}: bin "${command}" points at ${file}; the build expects ./bin/*.js`);
      }
      return [command, file];
    }),
  );
}

/**
 * Writes the module an `exports` subpath loads. ES modules are linked as a whole graph before any
 * of them runs, so a check merely imported first cannot stop Node 20 from failing on
 * `node:sqlite` or newer syntax: the entry checks, then loads the compiled module dynamically and
 * re-exports its names (read from the compiled module itself, so the list cannot drift).
 */
async function writeEntry(entry: string, specifier: string, compiled: string): Promise<void> {
  const module = (await import(pathToFileURL(compiled).href)) as Record<string, unknown>;
  const names = Object.keys(module).filter((name) => name !== 'default');
  if (names.includes('loaded'))
    throw new Error(`${specifier}: an export named "loaded" clashes with the entry's own name`);
  const path = relative(dirname(entry), compiled).split('\\').join('/');
  const lines = [
    `// ${specifier}: checks the Node.js version before anything that needs a newer one is loaded.`,
    `import { assertSupportedNode } from './node-version.js';`,
    '',
    `assertSupportedNode(${JSON.stringify(specifier)});`,
    `const loaded = await import(${JSON.stringify(path.startsWith('.') ? path : `./${path}`)});`,
  ];
  if (names.length > 0) lines.push(`export const { ${names.join(', ')} } = loaded;`);
  if ('default' in module) lines.push('export default loaded.default;');
  mkdirSync(dirname(entry), { recursive: true });
  writeFileSync(entry, `${lines.join('\n')}\n`);
}

/**
 * tsc keeps `./x.ts` in the declarations it emits; a project without allowImportingTsExtensions
 * rejects those, and the tarball has no .ts files. Points them at the `.js` files that exist.
 */
function rewriteDeclarationImports(file: string): void {
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(/(["'])(\.{1,2}\/[^"']*?)(?<!\.d)\.ts\1/g, '$1$2.js$1');
  if (rewritten !== text) writeFileSync(file, rewritten);
}

/**
 * tsc writes a map's `sources` relative to where it compiled (`../../../../packages/x/src/a.ts`).
 * Points them at where the file would be inside the package (`a.ts`), so a debugger shows
 * `node_modules/@herald/x/src/a.ts` with the inlined TypeScript rather than a path of this
 * repository.
 */
function relocateSourceMap(file: string, source: string, target: string): void {
  const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourceRoot?: string };
  map.sources = map.sources.map((original) => {
    const inPackage = relative(source, resolve(dirname(file), map.sourceRoot ?? '', original));
    if (inPackage.startsWith('..')) return original;
    return relative(dirname(file), join(target, inPackage)).split('\\').join('/');
  });
  delete map.sourceRoot;
  writeFileSync(file, JSON.stringify(map));
}

/** Every file under a folder (none when it does not exist). */
function walk(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

if (import.meta.main) {
  const staged = await buildPackages((line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`built ${String(staged.length)} packages into ${relative(REPOSITORY, DIST)}\n`);
}
