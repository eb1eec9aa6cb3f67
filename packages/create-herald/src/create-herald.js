// Scaffolds a Herald service project from ../template. Plain JavaScript: this package runs from
// npm's cache, where Node does not strip TypeScript types.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const TEMPLATE = fileURLToPath(new URL('../template/', import.meta.url));

/**
 * A project name: lower-case letters, digits and single hyphens, starting with a letter, at most
 * 50 characters. It is the package name and the prefix of the consumer group and event types,
 * so it is kept to what is valid in all three.
 */
export const NAME_PATTERN = /^[a-z](?:-?[a-z0-9])*$/;
const MAX_NAME_LENGTH = 50;

const USAGE = `usage: npm create herald <folder>

Creates a Herald service project in <folder> (new or empty); its name is the folder's name.`;

/** Why a name is not a project name, or undefined when it is one. */
export function nameProblem(name) {
  if (name.length > MAX_NAME_LENGTH) return `"${name}" is longer than ${MAX_NAME_LENGTH} characters`;
  if (!NAME_PATTERN.test(name)) {
    return `"${name}" is not a valid project name: use lower-case letters, digits and single hyphens, starting with a letter (e.g. shipping-service)`;
  }
  return undefined;
}

/** Template files whose names npm would drop from a package are stored with `_` for `.`. */
const targetName = (name) => (name.startsWith('_') ? `.${name.slice(1)}` : name);

/** Every file of the template, as paths relative to it. */
async function templateFiles(folder = TEMPLATE) {
  const files = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...(await templateFiles(path)));
    else files.push(relative(TEMPLATE, path));
  }
  return files.toSorted();
}

/** Entries of `folder`, or undefined when it does not exist; throws when it is not a folder. */
async function entriesOf(folder) {
  try {
    if (!(await stat(folder)).isDirectory()) throw new ScaffoldError(`${folder} exists and is not a folder`);
  } catch (error) {
    if (error instanceof ScaffoldError) throw error;
    if (error?.code === 'ENOENT') return undefined;
    throw error;
  }
  return readdir(folder);
}

/** A refusal to scaffold, with the sentence the user sees. */
export class ScaffoldError extends Error {
  name = 'ScaffoldError';
}

/**
 * Writes a new project into `folder` (created if missing; an existing one must be empty), named
 * after the folder. All or nothing: the files are written into a temporary sibling folder that
 * is renamed into place at the end, so a failure leaves no half-written project.
 *
 * @returns the project's name and the files written, relative to the folder
 */
export async function scaffold(folder) {
  const target = resolve(folder);
  const name = basename(target);
  const problem = nameProblem(name);
  if (problem !== undefined) throw new ScaffoldError(problem);
  const existing = await entriesOf(target);
  if (existing !== undefined && existing.length > 0) {
    throw new ScaffoldError(`${target} is not empty: choose a new folder or an empty one`);
  }
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const staging = join(parent, `.${name}.create-herald-${randomBytes(4).toString('hex')}`);
  const written = [];
  try {
    await mkdir(staging);
    for (const file of await templateFiles()) {
      const out = join(dirname(file), targetName(basename(file)));
      const text = await readFile(join(TEMPLATE, file), 'utf8');
      await mkdir(join(staging, dirname(out)), { recursive: true });
      await writeFile(join(staging, out), text.replaceAll('{{name}}', name));
      written.push(out.split('\\').join('/'));
    }
    if (existing !== undefined) await rmdir(target); // empty, checked above
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return { name, files: written };
}

/** The command: returns the exit code. */
export async function main(args) {
  const positional = args.filter((a) => !a.startsWith('-'));
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positional.length !== 1 || positional.length !== args.length) {
    process.stderr.write(`${USAGE}\n`);
    return 1;
  }
  const folder = positional[0];
  let result;
  try {
    result = await scaffold(folder);
  } catch (error) {
    if (!(error instanceof ScaffoldError)) throw error;
    process.stderr.write(`create-herald: ${error.message}\n`);
    return 1;
  }
  const shown = relative(process.cwd(), resolve(folder));
  const cd = shown === '' ? '' : `  cd ${shown}\n`;
  process.stdout.write(
    `Created ${result.name} in ${shown || '.'}: ${result.files.length} files.\n\n` +
      `${cd}  npm install && npm start\n  npm test\n`,
  );
  return 0;
}
