// The API reference: TypeDoc over every public entry of every published package, as their
// package.json `exports` name them, written to docs/api/ (git-ignored). Warnings are errors: an
// exported symbol whose type names something not exported, or a `{@link}` that resolves to
// nothing, fails the run, so the reference cannot drift from the declarations.
//
// Run: npm run docs:api [-- --out <folder>]
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Application, Converter, LogLevel, ReflectionKind } from 'typedoc';

const REPO = resolve(import.meta.dirname, '..');

interface PackageJson {
  readonly name: string;
  readonly private?: boolean;
  readonly exports?: Readonly<Record<string, unknown>>;
}

/** One public entry: `@herald/core/backend` and the source file that implements it. */
export interface ApiEntry {
  readonly name: string;
  readonly file: string;
  /** The file as TypeDoc identifies it: `<package name>:<path in the package>`. */
  readonly key: string;
}

/**
 * The source file of an `exports` target: the target itself when it is a `.ts` source, else the
 * `src/` file a built `dist/` file (`.js` or `.d.ts`) was compiled from.
 */
function sourceOf(packageDir: string, target: unknown): string | undefined {
  const path =
    typeof target === 'string'
      ? target
      : typeof target === 'object' && target !== null
        ? (['source', 'types', 'import', 'default'] as const)
            .map((c) => (target as Record<string, unknown>)[c])
            .find((v): v is string => typeof v === 'string')
        : undefined;
  if (path === undefined) return undefined;
  const candidates = [path, path.replace(/^\.\/dist\//, './src/').replace(/(\.d)?\.(ts|js)$/, '.ts')];
  return candidates.map((c) => join(packageDir, c)).find((c) => c.endsWith('.ts') && existsSync(c));
}

/** Every public entry of every `@herald/*` package, in a stable order. */
export function apiEntries(repo = REPO): ApiEntry[] {
  const entries: ApiEntry[] = [];
  for (const dir of readdirSync(join(repo, 'packages')).toSorted()) {
    const packageDir = join(repo, 'packages', dir);
    const manifest = join(packageDir, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as PackageJson;
    if (!pkg.name.startsWith('@herald/') || pkg.exports === undefined) continue;
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (subpath.includes('*') || subpath === './package.json') continue;
      const file = sourceOf(packageDir, target);
      if (file === undefined) throw new Error(`${pkg.name}: no TypeScript source for export "${subpath}"`);
      const name = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      entries.push({ name, file, key: `${pkg.name}:${relative(packageDir, file)}` });
    }
  }
  return entries;
}

/**
 * Builds the reference of the packages under `repo` (default: this repository), compiled with
 * its tsconfig.docs.json (else tsconfig.json), into `out`. Resolves with the number of errors and warnings TypeDoc logged;
 * anything but 0 means nothing was written.
 */
export async function buildApiReference(out: string, repo = REPO): Promise<number> {
  const entries = apiEntries(repo);
  const app = await Application.bootstrapWithPlugins({
    entryPoints: entries.map((e) => e.file),
    entryPointStrategy: 'resolve',
    // The packages' sources only (tests and apps are not documented, and need not be compiled).
    tsconfig: existsSync(join(repo, 'tsconfig.docs.json'))
      ? join(repo, 'tsconfig.docs.json')
      : join(repo, 'tsconfig.json'),
    out,
    name: 'Herald',
    readme: 'none',
    excludePrivate: true,
    excludeInternal: true,
    treatWarningsAsErrors: true,
    treatValidationWarningsAsErrors: true,
    validation: { notExported: true, invalidLink: true, rewrittenLink: true, notDocumented: false },
    logLevel: LogLevel.Warn,
    githubPages: false,
    disableSources: true,
  });
  // Name each module after its import specifier (`@herald/core/backend`), not its file path.
  const byKey = new Map(entries.map((e) => [e.key, e.name]));
  const named = new Set<string>();
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return;
    const id = context.project.getSymbolIdFromReflection(reflection);
    const name = id === undefined ? undefined : byKey.get(`${id.packageName}:${id.packagePath}`);
    if (name === undefined) return;
    reflection.name = name;
    named.add(name);
  });
  const project = await app.convert();
  if (project === undefined) return Math.max(1, app.logger.errorCount + app.logger.warningCount);
  // With one entry, TypeDoc makes the project itself that module.
  if (entries.length === 1) project.name = entries[0]!.name;
  const unnamed = entries.length === 1 ? [] : entries.filter((e) => !named.has(e.name));
  if (unnamed.length > 0) throw new Error(`modules not found for ${unnamed.map((e) => e.name).join(', ')}`);
  app.validate(project);
  if (app.logger.hasErrors() || app.logger.hasWarnings()) {
    return app.logger.errorCount + app.logger.warningCount;
  }
  await app.generateDocs(project, out);
  return app.logger.errorCount + app.logger.warningCount;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(REPO, 'docs', 'api') } } });
  const out = resolve(values.out);
  const problems = await buildApiReference(out);
  if (problems > 0) {
    console.error(`API reference: ${problems} problem(s) above; nothing written`);
    process.exitCode = 1;
  } else {
    const shown = relative(process.cwd(), out);
    console.log(`API reference written to ${shown.startsWith('..') ? out : shown || '.'}`);
  }
}
