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

// Runs the real `herald` executable against a real SQLite file: the registry in the log, the
// stored-events check as a CI gate (its exit status), AsyncAPI generation, and two processes
// registering at once.

const BIN = fileURLToPath(new URL('../bin/herald.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let workDir: string;
let logUrl: string;

async function herald(args: readonly string[], input = ''): Promise<Result> {
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

before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'herald-schema-int-'));
  logUrl = `sqlite:${join(workDir, 'herald.db')}`;
});

after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

void describe('herald schema and asyncapi (real processes, SQLite file)', () => {
  void it('registers a system module given by a relative path, and lists it from another process', async () => {
    const registered = await herald([
      'schema',
      'register',
      '--system',
      'shipping-system.ts',
      '--type',
      `${SUBJECT}.v1`,
      '--type',
      `${SUBJECT}.v2`,
    ]);
    assert.equal(registered.status, 0, registered.stderr);
    assert.equal(
      registered.stdout,
      `registered  ${SUBJECT}.v1  (BACKWARD)\nregistered  ${SUBJECT}.v2  (BACKWARD)\n`,
    );
    const listed = await herald(['schema', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { subject: string; versions: { version: number }[] }[]).map((s) => [
        s.subject,
        s.versions.map((v) => v.version),
      ]),
      [[SUBJECT, [1, 2]]],
    );
  });

  void it('fails the stored-events check with status 1 once an event a consumer cannot read is stored', async () => {
    await herald(['topics', 'create', 'parcels', '--partitions', '1']);
    const v1 = await herald([
      'publish',
      'parcels',
      '--type',
      `${SUBJECT}.v1`,
      '--data',
      '{"parcelId":"a","weightGrams":1200}',
    ]);
    assert.equal(v1.status, 0, v1.stderr);
    const passing = await herald(['schema', 'check', '--system', 'shipping-system.ts']);
    assert.equal(passing.status, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /^OK: every consumer decodes all 1 retained events it would receive$/m);

    // A v2 event whose weight is a string: valid JSON, not a valid v2.
    await herald([
      'publish',
      'parcels',
      '--type',
      `${SUBJECT}.v2`,
      '--data',
      '{"parcelId":"b","weightGrams":"heavy"}',
    ]);
    const failing = await herald(['schema', 'check', '--system', 'shipping-system.ts']);
    assert.equal(failing.status, 1);
    assert.match(
      failing.stdout,
      /^billing\.charges: parcels\/0@1 .*\.v2 \(id [^)]+\) read as .*\.v3: VALIDATION_FAILED: .*weightGrams/m,
    );
    assert.match(
      failing.stdout,
      /^tracking\.timeline: parcels\/0@1 .*\.v2 \(id [^)]+\) read as .*\.v2: VALIDATION_FAILED: .*weightGrams/m,
    );
    assert.match(failing.stdout, /^FAILED: 2 stored events would not decode \(2 consumer groups\)$/m);
    assert.match(failing.stdout, /^billing\.charges: 1 of 1 .*\.v2 events would fail to decode$/m);

    // A sample of one event, twice with the same seed: the same verdict and the seed to repeat it.
    const sampled = await herald([
      'schema',
      'check',
      '--system',
      'shipping-system.ts',
      '--sample',
      '1',
      '--seed',
      '3',
    ]);
    const again = await herald([
      'schema',
      'check',
      '--system',
      'shipping-system.ts',
      '--sample',
      '1',
      '--seed',
      '3',
    ]);
    assert.match(
      sampled.stdout,
      /^sample: 1 of 2 retained events, seed 3 \(--sample 1 --seed 3 repeats it\)$/m,
    );
    assert.equal(again.stdout, sampled.stdout);
    assert.equal(again.status, sampled.status);
    const unseeded = await herald(['schema', 'check', '--system', 'shipping-system.ts', '--sample', '1']);
    assert.match(unseeded.stdout, /^sample: 1 of 2 retained events, seed \d+ /m);
  });

  void it('writes the AsyncAPI document of the system to a file', async () => {
    const file = join(workDir, 'asyncapi.json');
    const result = await herald(['asyncapi', '--system', 'shipping-system.ts', '--output', file]);
    assert.equal(result.status, 0, result.stderr);
    const document = JSON.parse(readFileSync(file, 'utf8')) as {
      asyncapi: string;
      channels: Record<string, unknown>;
    };
    assert.deepEqual([document.asyncapi, Object.keys(document.channels)], ['3.0.0', ['parcels']]);
  });

  void it('lets one of two processes registering different schemas as one version win', async () => {
    const type = 'dev.herald.cli-test.parcel-returned.v1';
    const a = join(workDir, 'a.json');
    const b = join(workDir, 'b.json');
    writeFileSync(a, JSON.stringify({ type: 'object', properties: { reason: { type: 'string' } } }));
    writeFileSync(b, JSON.stringify({ type: 'object', properties: { code: { type: 'integer' } } }));
    const results = await Promise.all(
      [a, b].map((file) => herald(['schema', 'register', '--type', type, '--schema', file])),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [0, 1], JSON.stringify(results));
    const refused = results.find((r) => r.status === 1);
    assert.match(refused?.stdout ?? '', /^refused {5}dev\.herald\.cli-test\.parcel-returned\.v1/);
    assert.match(refused?.stdout ?? '', /registered already with another schema/);
  });
});

void describe('herald schema check on Kafka (HERALD_TEST_KAFKA; required in CI)', () => {
  void it('registers on the broker and fails the stored-events check once an event a consumer cannot read is stored', async (t) => {
    const kafka = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0]!;
    logUrl = `kafka://${kafka}?namespace=schema${randomBytes(4).toString('hex')}.`;
    const reachable = await herald(['topics', 'list']);
    if (reachable.status !== 0) {
      if (process.env['CI'] === 'true') assert.fail(`no Kafka at ${kafka}: ${reachable.stderr}`);
      return t.skip(`no Kafka at ${kafka}`);
    }
    const registered = await herald([
      'schema',
      'register',
      '--system',
      'shipping-system.ts',
      '--type',
      `${SUBJECT}.v1`,
      '--type',
      `${SUBJECT}.v2`,
    ]);
    assert.equal(registered.status, 0, registered.stdout + registered.stderr);
    assert.equal((await herald(['topics', 'create', 'parcels', '--partitions', '2'])).status, 0);
    const good = await herald([
      'publish',
      'parcels',
      '--type',
      `${SUBJECT}.v1`,
      '--data',
      '{"parcelId":"a","weightGrams":1200}',
    ]);
    assert.equal(good.status, 0, good.stderr);
    const passing = await herald(['schema', 'check', '--system', 'shipping-system.ts']);
    assert.equal(passing.status, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /^OK: every consumer decodes all 1 retained events it would receive$/m);
    await herald([
      'publish',
      'parcels',
      '--type',
      `${SUBJECT}.v2`,
      '--data',
      '{"parcelId":"b","weightGrams":"heavy"}',
    ]);
    const failing = await herald(['schema', 'check', '--system', 'shipping-system.ts']);
    assert.equal(failing.status, 1, failing.stdout + failing.stderr);
    assert.match(failing.stdout, /^FAILED: 2 stored events would not decode \(2 consumer groups\)$/m);
  });
});
