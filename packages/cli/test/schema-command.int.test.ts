import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SUBJECT } from './fixtures/shipping-system.ts';

// Runs the real `herald` executable: one scenario on each log (the registry in a SQLite file, and
// on a Kafka broker), registering a system's schemas and using the stored-events check as a CI
// gate (its exit status); then, on SQLite, AsyncAPI generation and two processes registering at
// once.

const BIN = fileURLToPath(new URL('../bin/herald.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `herald <args>` in its own process with `HERALD_LOG=<logUrl>`. */
async function herald(logUrl: string, args: readonly string[], input = ''): Promise<Result> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}`,
    HERALD_LOG: logUrl,
  };
  delete env['HERALD_DEBUG'];
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: FIXTURES,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input);
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

let workDir: string;

before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'herald-schema-int-'));
});

after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** A log the scenario runs on. */
interface LogUnderTest {
  readonly name: string;
  /** A fresh log (a new file, a new namespace) for one run of the scenario. */
  url(): string;
  readonly partitions: number;
  /**
   * The service the log needs, when it is one. Unreachable, the test fails in CI (`CI=true`), since
   * a CI run that skips it proves nothing, and is skipped elsewhere with the reason.
   */
  readonly service?: string;
}

const kafka = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0]!;
const LOGS: readonly LogUnderTest[] = [
  {
    name: 'a SQLite file',
    url: () => `sqlite:${join(workDir, `check-${randomBytes(4).toString('hex')}.db`)}`,
    partitions: 1,
  },
  {
    name: 'Kafka (HERALD_TEST_KAFKA; required in CI)',
    url: () => `kafka://${kafka}?namespace=schema${randomBytes(4).toString('hex')}.`,
    partitions: 2,
    service: `Kafka at ${kafka}`,
  },
];

for (const target of LOGS) {
  void describe(`herald schema on ${target.name} (real processes)`, () => {
    void it('registers a system module given by a relative path, lists it from another process, and fails the stored-events check with status 1 once an event a consumer cannot read is stored', async (t) => {
      const logUrl = target.url();
      const run = (...args: string[]) => herald(logUrl, args);
      if (target.service !== undefined) {
        const reachable = await run('topics', 'list');
        if (reachable.status !== 0) {
          if (process.env['CI'] === 'true') assert.fail(`no ${target.service}: ${reachable.stderr}`);
          return t.skip(`no ${target.service}`);
        }
      }
      const registered = await run(
        'schema',
        'register',
        '--system',
        'shipping-system.ts',
        '--type',
        `${SUBJECT}.v1`,
        '--type',
        `${SUBJECT}.v2`,
      );
      assert.equal(registered.status, 0, registered.stdout + registered.stderr);
      assert.equal(
        registered.stdout,
        `registered  ${SUBJECT}.v1  (BACKWARD)\nregistered  ${SUBJECT}.v2  (BACKWARD)\n`,
      );
      const listed = await run('schema', 'list', '--json');
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { subject: string; versions: { version: number }[] }[]).map((s) => [
          s.subject,
          s.versions.map((v) => v.version),
        ]),
        [[SUBJECT, [1, 2]]],
      );

      const created = await run('topics', 'create', 'parcels', '--partitions', String(target.partitions));
      assert.equal(created.status, 0, created.stderr);
      /** Publishes one event to `parcels`; where it was stored. */
      const publish = async (version: string, data: string) => {
        const published = await run(
          'publish',
          'parcels',
          '--json',
          '--type',
          `${SUBJECT}.${version}`,
          '--data',
          data,
        );
        assert.equal(published.status, 0, published.stderr);
        return JSON.parse(published.stdout) as { partition: number; offset: number };
      };
      await publish('v1', '{"parcelId":"a","weightGrams":1200}');
      const check = (...options: string[]) =>
        run('schema', 'check', '--system', 'shipping-system.ts', ...options);
      const passing = await check();
      assert.equal(passing.status, 0, passing.stdout + passing.stderr);
      assert.match(passing.stdout, /^OK: every consumer decodes all 1 retained events it would receive$/m);

      // A v2 event whose weight is a string: valid JSON, not a valid v2.
      const { partition, offset } = await publish('v2', '{"parcelId":"b","weightGrams":"heavy"}');
      const failing = await check();
      assert.equal(failing.status, 1, failing.stdout + failing.stderr);
      const at = `parcels/${partition}@${offset}`;
      assert.match(
        failing.stdout,
        new RegExp(
          `^billing\\.charges: ${at} .*\\.v2 \\(id [^)]+\\) read as .*\\.v3: VALIDATION_FAILED: .*weightGrams`,
          'm',
        ),
      );
      assert.match(
        failing.stdout,
        new RegExp(
          `^tracking\\.timeline: ${at} .*\\.v2 \\(id [^)]+\\) read as .*\\.v2: VALIDATION_FAILED: .*weightGrams`,
          'm',
        ),
      );
      assert.match(failing.stdout, /^FAILED: 2 stored events would not decode \(2 consumer groups\)$/m);
      assert.match(failing.stdout, /^billing\.charges: 1 of 1 .*\.v2 events would fail to decode$/m);

      // A sample of one event, twice with the same seed: the same verdict and the seed to repeat it.
      const sampled = await check('--sample', '1', '--seed', '3');
      const again = await check('--sample', '1', '--seed', '3');
      assert.match(
        sampled.stdout,
        /^sample: 1 of 2 retained events, seed 3 \(--sample 1 --seed 3 repeats it\)$/m,
      );
      assert.equal(again.stdout, sampled.stdout);
      assert.equal(again.status, sampled.status);
      const unseeded = await check('--sample', '1');
      assert.match(unseeded.stdout, /^sample: 1 of 2 retained events, seed \d+ /m);
    });
  });
}

void describe('herald asyncapi and concurrent registration (real processes, SQLite file)', () => {
  void it('writes the AsyncAPI document of the system to a file', async () => {
    const file = join(workDir, 'asyncapi.json');
    const result = await herald(`sqlite:${join(workDir, 'asyncapi.db')}`, [
      'asyncapi',
      '--system',
      'shipping-system.ts',
      '--output',
      file,
    ]);
    assert.equal(result.status, 0, result.stderr);
    const document = JSON.parse(readFileSync(file, 'utf8')) as {
      asyncapi: string;
      channels: Record<string, unknown>;
    };
    assert.deepEqual([document.asyncapi, Object.keys(document.channels)], ['3.0.0', ['parcels']]);
  });

  void it('lets one of two processes registering different schemas as one version win', async () => {
    const logUrl = `sqlite:${join(workDir, 'concurrent.db')}`;
    // The log file exists first: the race is over the registry, not over creating the file.
    assert.equal((await herald(logUrl, ['topics', 'list'])).status, 0);
    const type = 'dev.herald.cli-test.parcel-returned.v1';
    const a = join(workDir, 'a.json');
    const b = join(workDir, 'b.json');
    writeFileSync(a, JSON.stringify({ type: 'object', properties: { reason: { type: 'string' } } }));
    writeFileSync(b, JSON.stringify({ type: 'object', properties: { code: { type: 'integer' } } }));
    const results = await Promise.all(
      [a, b].map((file) => herald(logUrl, ['schema', 'register', '--type', type, '--schema', file])),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [0, 1], JSON.stringify(results));
    const refused = results.find((r) => r.status === 1);
    assert.match(refused?.stdout ?? '', /^refused {5}dev\.herald\.cli-test\.parcel-returned\.v1/);
    assert.match(refused?.stdout ?? '', /registered already with another schema/);
  });
});
