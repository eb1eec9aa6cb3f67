// Herald as a user gets it: every publishable package is built and packed, the tarballs are
// installed into a scratch project outside the repository (no workspace links, third-party
// dependencies from the registry), and that project type-checks against the installed
// declarations and runs: a producer and a consumer group on the embedded log and on Kafka, the
// installed `herald` command, and every entry point on an older Node.js.
//
// One pack and one install are shared by the tests below. Children are stopped when they fall
// silent (see runChild), not after a guessed duration.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  TEST_BROKERS,
  brokerUnavailable,
  deleteNamespace,
  reportUnavailable,
  uniqueNamespace,
} from '../../packages/kafka/test/kafka-test-broker.ts';
import { REPOSITORY } from '../build/build-packages.ts';
import { type Tarball, packPackages } from '../build/pack-packages.ts';

/** How long a child may go without writing a line before it counts as stuck. */
const SILENCE_MS = 60_000;
/** Node.js 24, the repository's pinned one: the scratch project's npm and programs run on it. */
const NODE = process.execPath;
const BIN = join(REPOSITORY, 'node_modules', '.bin');
/** The system's Node.js, older than Herald needs on the machines this suite was written for. */
const OLD_NODE = '/usr/bin/node';
const EVENTS = 5;

interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end and returns its exit code and output. A child that writes nothing
 * for `SILENCE_MS` is killed and the result says so: npm is run with `--loglevel=http` so that
 * each download is a line of progress, the program prints a line per event.
 */
function runChild(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, PATH: `${BIN}:${process.env['PATH'] ?? ''}`, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    let silent = false;
    let timer = setTimeout(stop, SILENCE_MS);
    function stop(): void {
      silent = true;
      child.kill('SIGKILL');
    }
    function progress(): void {
      clearTimeout(timer);
      timer = setTimeout(stop, SILENCE_MS);
    }
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      progress();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      progress();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (silent) stderr += `\n[killed: no output for ${String(SILENCE_MS)} ms]`;
      resolve({ code, stdout, stderr });
    });
  });
}

function assertExit(result: ChildResult, what: string): void {
  assert.equal(
    result.code,
    0,
    `${what} exited with ${String(result.code)}\n${result.stdout}\n${result.stderr}`,
  );
}

/** The program a user would write: publishes EVENTS orders, consumes them in a group, prints them. */
const PROGRAM = `import { createProducer, createRouter, defineEvent, openEventLog } from '@herald/core';
import { z } from 'zod';

const OrderPlaced = defineEvent({
  type: 'dev.herald.packaging.order-placed.v1',
  schema: z.object({ orderId: z.string(), total: z.number().int() }),
});
const COUNT = ${String(EVENTS)};
const url = process.argv[2];
if (url === undefined) throw new Error('usage: node app.ts <log url>');

await using log = await openEventLog(url);
await log.createTopic('orders', { partitions: 2 });
const producer = createProducer({ log, source: '/packaging' });
for (let i = 1; i <= COUNT; i++) {
  const { partition, offset } = await producer.publish(
    'orders',
    OrderPlaced,
    { orderId: \`o-\${i}\`, total: i * 100 },
    { key: \`o-\${i}\` },
  );
  console.log(\`published o-\${i} at \${partition}/\${offset}\`);
}

const done = new AbortController();
const consumed: string[] = [];
const router = createRouter({ log, group: 'packaging.check', topics: ['orders'] });
router.on(OrderPlaced, (order) => {
  const orderId: string = order.orderId;
  consumed.push(orderId);
  console.log(\`consumed \${orderId}\`);
  if (consumed.length === COUNT) done.abort();
});
await router.run({ signal: done.signal });
console.log(JSON.stringify({ consumed: consumed.toSorted() }));

/** Never called: the installed declarations must refuse data that does not match the schema. */
export function wrongData(): void {
  // @ts-expect-error orderId is a string in OrderPlaced's schema.
  void producer.publish('orders', OrderPlaced, { orderId: 1, total: 1 });
}
`;

/**
 * The embedded log's checkpoint thread starts from the installed package: it loads its worker
 * module by URL, which the build must leave pointing at a file that exists. (When the worker
 * cannot start, the log silently falls back to SQLite's own checkpoints, so only the count shows it.)
 */
const CHECKPOINT_PROGRAM = `import { openSqliteLog } from '@herald/sqlite';

await using log = await openSqliteLog({ path: './checkpoints.db' });
await log.createTopic('t', { partitions: 1 });
let appended = 0;
// Appends until a checkpoint ran: a slow machine makes this longer, never wrong.
while (log.stats().checkpoints === 0) {
  if (appended >= 100_000) throw new Error('no checkpoint ran on the checkpoint thread after 100,000 appends');
  const batch = Array.from({ length: 100 }, (_, i) => ({
    specversion: '1.0' as const,
    id: \`e\${appended + i}\`,
    source: '/packaging',
    type: 'dev.herald.packaging.tick.v1',
    datacontenttype: 'application/json',
    data: new TextEncoder().encode('{}'),
  }));
  await log.appendBatch('t', batch);
  appended += batch.length;
  console.log(\`appended \${appended}\`);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(\`checkpoints \${log.stats().checkpoints}\`);
`;

/** Imports each specifier given and prints, per specifier, the error message or null. Runs on any Node.js. */
const PROBE = `const results = {};
for (const specifier of process.argv.slice(2)) {
  try {
    await import(specifier);
    results[specifier] = null;
  } catch (error) {
    results[specifier] = error instanceof Error ? error.message : String(error);
  }
}
process.stdout.write(JSON.stringify(results));
`;

const rootManifest = JSON.parse(readFileSync(join(REPOSITORY, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

// Asked before the pack and install below keep the machine busy.
const kafkaUnavailable = await brokerUnavailable();

describe('Herald installed from its tarballs into a project outside the repository', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'herald-packaging-'));
  const project = join(scratch, 'project');
  let tarballs: Tarball[] = [];

  before(async () => {
    tarballs = await packPackages(join(scratch, 'tarballs'));
    const dependencies: Record<string, string> = {
      zod: rootManifest.dependencies['zod'] ?? 'latest',
    };
    for (const tarball of tarballs) dependencies[tarball.name] = `file:${tarball.file}`;
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify(
        {
          name: 'herald-packaging-check',
          private: true,
          type: 'module',
          dependencies,
          devDependencies: { '@types/node': rootManifest.devDependencies['@types/node'] ?? 'latest' },
        },
        undefined,
        2,
      )}\n`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      `${JSON.stringify(
        {
          compilerOptions: {
            target: 'es2024',
            lib: ['es2024', 'esnext.disposable'],
            module: 'nodenext',
            moduleResolution: 'nodenext',
            types: ['node'],
            strict: true,
            noEmit: true,
            // The installed declarations are checked too, not only the program's use of them.
            skipLibCheck: false,
          },
          include: ['app.ts', 'checkpoints.ts'],
        },
        undefined,
        2,
      )}\n`,
    );
    writeFileSync(join(project, 'app.ts'), PROGRAM);
    writeFileSync(join(project, 'checkpoints.ts'), CHECKPOINT_PROGRAM);
    writeFileSync(join(project, 'probe.mjs'), PROBE);
    const install = await runChild('npm', ['install', '--no-audit', '--no-fund', '--loglevel=http'], {
      cwd: project,
    });
    assertExit(install, 'npm install of the tarballs');
  });

  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('packs every publishable workspace under packages/, with JavaScript, declarations and no tests', async () => {
    const publishable = readdirSync(join(REPOSITORY, 'packages'))
      .map((folder) => join(REPOSITORY, 'packages', folder, 'package.json'))
      .flatMap((file) => {
        try {
          return [JSON.parse(readFileSync(file, 'utf8')) as { name: string; private?: boolean }];
        } catch {
          return [];
        }
      })
      .filter((manifest) => manifest.private !== true)
      .map((manifest) => manifest.name)
      .sort();
    assert.deepEqual(tarballs.map((tarball) => tarball.name).sort(), publishable);
    for (const tarball of tarballs) {
      const listing = await runChild('tar', ['tzf', tarball.file], { cwd: scratch });
      assertExit(listing, 'tar');
      const files = listing.stdout.split('\n').filter(Boolean);
      const manifest = JSON.parse(
        readFileSync(join(REPOSITORY, 'node_modules', ...tarball.name.split('/'), 'package.json'), 'utf8'),
      ) as { exports?: Record<string, unknown>; bin?: Record<string, string> };
      if (manifest.exports !== undefined) {
        assert.ok(files.includes('package/entries/index.js'), `${tarball.name} has entries/index.js`);
        assert.ok(files.includes('package/src/index.d.ts'), `${tarball.name} has src/index.d.ts`);
      } else {
        // A command only (create-herald): its bins, and no library entry.
        for (const bin of Object.values(manifest.bin ?? {}))
          assert.ok(files.includes(`package/${bin.replace(/^\.\//, '')}`), `${tarball.name} has ${bin}`);
      }
      assert.ok(
        files.includes('package/README.md') && files.includes('package/CHANGELOG.md'),
        `${tarball.name} has README and CHANGELOG`,
      );
      assert.deepEqual(
        // A scaffold's template is the user's project to be: its sources and tests are the point.
        files.filter(
          (file) => !file.startsWith('package/template/') && /\.test\.|\/test\/|(?<!\.d)\.ts$/.test(file),
        ),
        [],
        `${tarball.name} ships no tests and no TypeScript sources`,
      );
    }
  });

  it('ships source maps that carry their TypeScript and name files inside the package', () => {
    const core = join(project, 'node_modules', '@herald', 'core', 'src');
    const map = JSON.parse(readFileSync(join(core, 'index.js.map'), 'utf8')) as {
      sources: string[];
      sourcesContent?: string[];
    };
    assert.deepEqual(map.sources, ['index.ts']);
    assert.match(map.sourcesContent?.[0] ?? '', /\bHeraldError\b/);
    assert.match(readFileSync(join(core, 'index.js'), 'utf8'), /\/\/# sourceMappingURL=index\.js\.map\s*$/);
  });

  it('type-checks a strict TypeScript program against the installed declarations', async () => {
    const tsc = await runChild(
      NODE,
      [join(REPOSITORY, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      {
        cwd: project,
      },
    );
    assertExit(tsc, 'tsc');
  });

  it('publishes and consumes in a consumer group on the embedded log, then lists the topic with the installed herald command', async () => {
    const url = 'sqlite:./orders.db';
    const run = await runChild(NODE, ['app.ts', url], { cwd: project });
    assertExit(run, 'the program');
    const last = run.stdout.trim().split('\n').at(-1) ?? '';
    assert.deepEqual(JSON.parse(last), { consumed: ['o-1', 'o-2', 'o-3', 'o-4', 'o-5'] });

    const topics = await runChild('npx', ['--no-install', 'herald', 'topics', 'list', '--json'], {
      cwd: project,
      env: { HERALD_LOG: url },
    });
    assertExit(topics, 'herald topics list');
    assert.deepEqual(JSON.parse(topics.stdout), [{ name: 'orders', partitions: 2, retention: {} }]);
  });

  it('npm create herald, run from its tarball, scaffolds a service whose tests and type-check pass on Herald installed from the tarballs', async () => {
    const creator = tarballs.find((tarball) => tarball.name === 'create-herald');
    assert.ok(creator !== undefined, 'create-herald was not packed');
    const created = await runChild(
      'npm',
      [
        'exec',
        '--yes',
        '--loglevel=http',
        `--package=${creator.file}`,
        '--',
        'create-herald',
        'first-service',
      ],
      { cwd: scratch },
    );
    assertExit(created, 'npm exec create-herald');
    const service = join(scratch, 'first-service');
    // The scaffold names the published versions; here they come from the tarballs instead.
    const heraldTarballs = tarballs
      .filter((tarball) => tarball.name.startsWith('@herald/'))
      .map((t) => t.file);
    const install = await runChild(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=http', ...heraldTarballs],
      {
        cwd: service,
      },
    );
    assertExit(install, 'npm install in the scaffolded service');
    assertExit(await runChild('npm', ['test'], { cwd: service }), "the scaffolded service's npm test");
    assertExit(
      await runChild('npm', ['run', 'typecheck'], { cwd: service }),
      "the scaffolded service's type-check",
    );
  });

  it("runs the embedded log's checkpoints on their own thread from the installed package", async () => {
    const run = await runChild(NODE, ['checkpoints.ts'], { cwd: project });
    assertExit(run, 'the checkpoint program');
    assert.match(run.stdout, /^checkpoints [1-9]\d*$/m);
  });

  it('refuses an older Node.js at every entry point with one sentence that names the Node.js it needs', async (t) => {
    const old = await runChild(OLD_NODE, ['--version'], { cwd: project }).catch(() => undefined);
    const major = Number(/^v(\d+)/.exec(old?.stdout ?? '')?.[1]);
    if (old === undefined || !(major < 24)) {
      t.skip(`${OLD_NODE} is not a Node.js older than 24 here (${old?.stdout.trim() ?? 'missing'})`);
      return;
    }
    const sentence = (what: string) =>
      new RegExp(
        `^${what.replaceAll('/', '\\/')} needs Node\\.js 24\\.6\\.0 or newer and this is Node\\.js ${old.stdout.trim().slice(1).replaceAll('.', '\\.')}: install Node\\.js 24 LTS from https://nodejs\\.org/`,
      );
    const specifiers: string[] = [];
    for (const tarball of tarballs) {
      const manifest = JSON.parse(
        readFileSync(join(project, 'node_modules', ...tarball.name.split('/'), 'package.json'), 'utf8'),
      ) as { exports: Record<string, { import: string }> };
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        if (target.import.startsWith('./entries/'))
          specifiers.push(subpath === '.' ? tarball.name : `${tarball.name}/${subpath.slice(2)}`);
      }
    }
    const probe = await runChild(OLD_NODE, ['probe.mjs', ...specifiers], { cwd: project });
    assertExit(probe, 'the import probe');
    const messages = JSON.parse(probe.stdout) as Record<string, string | null>;
    for (const specifier of specifiers) {
      assert.match(
        messages[specifier] ?? 'loaded without complaint',
        sentence(specifier),
        `importing ${specifier}`,
      );
    }

    const cli = await runChild(OLD_NODE, [join('node_modules', '.bin', 'herald'), 'topics', 'list'], {
      cwd: project,
    });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, sentence('herald'));
    assert.equal(cli.stderr.trim().split('\n').length, 1, 'one line');
  });

  describe('with @herald/kafka against the test broker', () => {
    if (kafkaUnavailable !== undefined) {
      reportUnavailable('the installed @herald/kafka', kafkaUnavailable);
      return;
    }
    const namespace = uniqueNamespace();
    after(() => deleteNamespace(namespace));

    it('publishes and consumes in a consumer group on Kafka through the installed package', async () => {
      const brokers = TEST_BROKERS.join(',');
      const run = await runChild(NODE, ['app.ts', `kafka://${brokers}?namespace=${namespace}`], {
        cwd: project,
      });
      assertExit(run, 'the program on Kafka');
      const last = run.stdout.trim().split('\n').at(-1) ?? '';
      assert.deepEqual(JSON.parse(last), { consumed: ['o-1', 'o-2', 'o-3', 'o-4', 'o-5'] });
    });
  });
});
