// A production install of the repository, `npm ci --omit=dev`, brings the Node.js the order
// system runs on (the `node` package is a runtime dependency, ADR 0027) and `npm start` runs
// the system from it: a copy of the tracked files in a temporary folder, installed without
// devDependencies, started, an order placed and confirmed, stopped.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../kafka/private-kafka.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  engines?: Record<string, string>;
}

void describe('a production install (npm ci --omit=dev)', { timeout: 600_000 }, () => {
  const folder = mkdtempSync(join(tmpdir(), 'herald-production-'));
  let system: ChildProcess | undefined;
  after(async () => {
    if (system?.exitCode === null) {
      system.kill('SIGTERM');
      await new Promise((resolve) => system!.once('close', resolve));
    }
    rmSync(folder, { recursive: true, force: true });
  });

  void it('keeps the pinned Node.js among the runtime dependencies, matching the engines range', () => {
    const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as PackageJson;
    const pinned = root.dependencies?.['node'];
    assert.match(pinned ?? '', /^\d+\.\d+\.\d+$/, 'the node package is pinned exactly in dependencies');
    assert.equal(root.devDependencies?.['node'], undefined);
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; version?: string }>;
    };
    assert.equal(lock.packages['node_modules/node']?.version, pinned);
    assert.equal(
      lock.packages['node_modules/node']?.dev,
      undefined,
      'the lockfile still marks node as dev-only',
    );
    const [major = 0, minor = 0] = (pinned ?? '').split('.').map(Number);
    const [minMajor = 0, minMinor = 0] = (root.engines?.['node'] ?? '')
      .replace('>=', '')
      .split('.')
      .map(Number);
    assert.ok(major > minMajor || (major === minMajor && minor >= minMinor), 'the pinned node meets engines');
  });

  void it('installs Node.js 24 and runs the order system with npm start', async () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f !== '');
    for (const file of files) {
      mkdirSync(dirname(join(folder, file)), { recursive: true });
      cpSync(join(REPO, file), join(folder, file));
    }
    await new Promise<void>((resolve, reject) =>
      execFile(
        'npm',
        ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'],
        { cwd: folder, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) =>
          error === null ? resolve() : reject(new Error(`npm ci --omit=dev failed:\n${stdout}${stderr}`)),
      ),
    );
    const node = join(folder, 'node_modules', '.bin', 'node');
    assert.match(execFileSync(node, ['--version'], { encoding: 'utf8' }), /^v24\./);
    // No devDependency came along: a sign that --omit=dev did what it says.
    assert.throws(() =>
      execFileSync(node, ['-e', "require.resolve('typescript')"], { cwd: folder, stdio: 'pipe' }),
    );

    const [port] = (await freePorts(1)) as [number];
    const api = `http://127.0.0.1:${port}`;
    system = spawn(node, ['--disable-warning=ExperimentalWarning', 'scripts/start.js'], {
      cwd: folder,
      env: {
        ...process.env,
        HERALD_LOG: `sqlite:${join(folder, 'herald.db')}`,
        PORT: String(port),
        OTEL_SDK_DISABLED: 'true',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    while ((await fetch(`${api}/readyz`).catch(() => undefined))?.ok !== true) {
      assert.equal(system.exitCode, null, 'the order system exited before it was ready');
      await sleep(200);
    }
    const placed = await fetch(`${api}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: 'ada',
        items: [{ sku: 'LAMP-01', quantity: 1 }],
        shippingCountry: 'DE',
      }),
    });
    assert.equal(placed.status, 202);
    const { orderId } = (await placed.json()) as { orderId: string };
    const final = (await (await fetch(`${api}/orders/${orderId}?wait=20`)).json()) as { status: string };
    assert.equal(final.status, 'confirmed');
  });
});
