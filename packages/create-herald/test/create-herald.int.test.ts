// `npm create herald` as a user runs it: the bin in a child process, a real folder, and the
// generated project's own scripts run by npm on Node 24.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const REPO = join(PACKAGE, '..', '..');
const BIN = join(PACKAGE, 'bin', 'create-herald.js');
/**
 * The environment of the project's scripts: this Node first on PATH, so npm and the scripts run
 * on Node 24, and without the test runner's own marker, so the project's `node --test` reports
 * as it would in a terminal.
 */
const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
};
delete ENV['NODE_TEST_CONTEXT'];
// The project's defaults are under test: a log or store chosen for this run must not leak in.
delete ENV['HERALD_LOG'];
delete ENV['HERALD_STORE'];

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the bin with `node` (this Node unless given) in `cwd`; never throws on a non-zero exit. */
async function createHerald(cwd: string, args: readonly string[], node = process.execPath): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(node, [BIN, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every file under `folder`, relative, sorted. */
async function filesIn(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(folder.length + 1))
    .toSorted();
}

const versionOf = async (workspace: string): Promise<string> =>
  (JSON.parse(await readFile(join(REPO, workspace, 'package.json'), 'utf8')) as { version: string }).version;

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'create-herald-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('create-herald', () => {
  it('writes a project named after its folder, with the two commands in its README', async () => {
    const outcome = await createHerald(scratch, ['shipping-service']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stdout, /Created shipping-service in shipping-service: 11 files/);
    const project = join(scratch, 'shipping-service');
    assert.deepEqual(await filesIn(project), [
      '.gitignore',
      '.npmrc',
      'README.md',
      'package.json',
      'src/consumer.ts',
      'src/events.ts',
      'src/main.ts',
      'src/producer.ts',
      'src/topics.ts',
      'test/shipping.test.ts',
      'tsconfig.json',
    ]);
    for (const file of await filesIn(project)) {
      const text = await readFile(join(project, file), 'utf8');
      assert.doesNotMatch(text, /\{\{|\}\}/, `${file} has a placeholder left`);
    }
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as {
      name: string;
      type: string;
      engines: { node: string };
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    assert.equal(pkg.name, 'shipping-service');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.engines.node, '>=24.6');
    assert.ok(pkg.scripts['start'] !== undefined && pkg.scripts['test'] !== undefined);
    // The template names Herald's versions literally: a release that bumps them must bump these.
    assert.deepEqual(pkg.dependencies, {
      '@herald/core': await versionOf('packages/core'),
      '@herald/sqlite': await versionOf('packages/sqlite'),
      zod: (
        JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { dependencies: { zod: string } }
      ).dependencies.zod,
    });
    const tsconfig = JSON.parse(await readFile(join(project, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: { strict: boolean };
    };
    assert.equal(tsconfig.compilerOptions.strict, true);
    const readme = await readFile(join(project, 'README.md'), 'utf8');
    assert.match(readme, /^# shipping-service$/m);
    assert.match(readme, /npm install && npm start/);
    assert.match(readme, /npm test/);
    assert.match(await readFile(join(project, 'src', 'consumer.ts'), 'utf8'), /'shipping-service\.shipping'/);
  });

  it('writes into an existing empty folder', async () => {
    await mkdir(join(scratch, 'empty-one'));
    const outcome = await createHerald(scratch, ['empty-one']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.ok(existsSync(join(scratch, 'empty-one', 'package.json')));
  });

  it('refuses a folder that is not empty and leaves it as it was', async () => {
    const folder = join(scratch, 'taken');
    await mkdir(folder);
    await writeFile(join(folder, 'notes.txt'), 'mine');
    const outcome = await createHerald(scratch, ['taken']);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /taken is not empty: choose a new folder or an empty one/);
    assert.deepEqual(await readdir(folder), ['notes.txt']);
  });

  it('refuses a name that is not a valid project name and writes nothing', async () => {
    const before = await readdir(scratch);
    for (const name of ['Shipping', 'my_service', '9lives', 'double--hyphen', 'trailing-', 'x'.repeat(51)]) {
      const outcome = await createHerald(scratch, [name]);
      assert.equal(outcome.code, 1, name);
      assert.match(
        outcome.stderr,
        /^create-herald: .* (is not a valid project name|is longer than 50 characters)/,
        name,
      );
      assert.deepEqual(await readdir(scratch), before, `${name} left something behind`);
    }
  });

  it('runs from its packed tarball as npm create runs it', async () => {
    const packed = join(scratch, 'packed');
    await mkdir(packed);
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', packed], {
      cwd: PACKAGE,
      env: ENV,
    });
    const tarball = join(packed, stdout.trim().split('\n').at(-1)!);
    const { stdout: created } = await run(
      'npm',
      ['exec', '--yes', `--package=${tarball}`, '--', 'create-herald', 'from-tarball'],
      { cwd: packed, env: ENV },
    );
    assert.match(created, /Created from-tarball in from-tarball: 11 files/);
    const files = await filesIn(join(packed, 'from-tarball'));
    assert.ok(files.includes('.gitignore') && files.includes('.npmrc') && files.includes('src/consumer.ts'));
  });

  it('prints its usage and exits 1 without a folder', async () => {
    const outcome = await createHerald(scratch, []);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /^usage: npm create herald <folder>/);
  });

  it('says in one sentence which Node it needs when run by an older one', async (t) => {
    const old = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
    const version = old === undefined ? undefined : (await run(old, ['--version'])).stdout.trim();
    if (old === undefined || version === undefined || Number(/^v(\d+)/.exec(version)?.[1]) >= 24) {
      t.skip('no Node older than 24 on this machine');
      return;
    }
    const outcome = await createHerald(scratch, ['too-old'], old);
    assert.equal(outcome.code, 1);
    assert.equal(
      outcome.stderr.trim(),
      `create-herald needs Node.js 24.6 or newer (this is ${version}): install it from https://nodejs.org or with your version manager (e.g. \`nvm install 24\`), then run \`npm create herald\` again.`,
    );
    assert.equal(existsSync(join(scratch, 'too-old')), false);
  });
});

describe('the generated project', () => {
  let project: string;

  before(async () => {
    const outcome = await createHerald(scratch, ['order-shipping']);
    assert.equal(outcome.code, 0, outcome.stderr);
    project = join(scratch, 'order-shipping');
    // Herald's packages are not installed from a registry here: the project's node_modules link
    // to this repository's workspaces and dependencies, as an install would place them.
    const links: Record<string, string> = {
      '@herald/core': join(REPO, 'packages', 'core'),
      '@herald/sqlite': join(REPO, 'packages', 'sqlite'),
      zod: join(REPO, 'node_modules', 'zod'),
      '@types/node': join(REPO, 'node_modules', '@types', 'node'),
      typescript: join(REPO, 'node_modules', 'typescript'),
      '.bin/tsc': join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'),
    };
    for (const [name, target] of Object.entries(links)) {
      const link = join(project, 'node_modules', name);
      await mkdir(dirname(link), { recursive: true });
      await symlink(target, link, name.startsWith('.bin/') ? 'file' : 'dir');
    }
  });

  /** Runs an npm script of the project on this Node; resolves with its outcome. */
  async function npm(script: string): Promise<Outcome> {
    try {
      const { stdout, stderr } = await run('npm', ['run', '--silent', script], {
        cwd: project,
        env: ENV,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('passes its own tests', async () => {
    const outcome = await npm('test');
    assert.equal(outcome.code, 0, `${outcome.stdout}\n${outcome.stderr}`);
    assert.match(outcome.stdout, /pass 2\n/);
    assert.match(outcome.stdout, /fail 0\n/);
  });

  it('type-checks with its strict tsconfig', async () => {
    const outcome = await npm('typecheck');
    assert.equal(outcome.code, 0, `${outcome.stdout}\n${outcome.stderr}`);
  });

  /**
   * The project's `start` script until it has shipped the order it placed, then SIGTERM.
   * Resolves with its output once it exited; fails if it exits before shipping. The script runs
   * through a shell as npm runs it, but in the shell's place, so the signal reaches Node itself.
   */
  async function startUntilShipped(): Promise<{ code: number | null; output: string }> {
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as {
      scripts: { start: string };
    };
    const child = spawn('sh', ['-c', `exec ${pkg.scripts.start}`], { cwd: project, env: ENV });
    let output = '';
    let signalled = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!signalled && /shipped order /.test(output)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.ok(signalled, `npm start exited (${code}) before shipping an order:\n${output}`);
    return { code, output };
  }

  it('starts, ships the order it placed, stops on SIGTERM, and does the same on a second run', async () => {
    for (const round of [1, 2]) {
      const { code, output } = await startUntilShipped();
      assert.equal(code, 0, `round ${round}:\n${output}`);
      assert.match(output, /order-shipping: order-shipping\.shipping is consuming/);
      assert.equal(output.match(/shipped order /g)?.length, 1, `round ${round}:\n${output}`);
    }
    assert.ok(existsSync(join(project, '.herald', 'herald.db')));
  });
});
