import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { openEventLog } from '@herald/core';
import type { CloudEvent, GroupDescription } from '@herald/core';

// Runs the real `herald` executable as a child process against a real SQLite file.

const BIN = fileURLToPath(new URL('../bin/herald.js', import.meta.url));
const NODE_24_DIR = dirname(process.execPath);

interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface SpawnOptions {
  readonly log?: string | undefined;
  readonly cwd?: string;
  readonly input?: string;
}

let workDir: string;
let logUrl: string;

function childEnv(log: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${NODE_24_DIR}${delimiter}${process.env['PATH'] ?? ''}`,
  };
  delete env['HERALD_LOG'];
  delete env['HERALD_DEBUG'];
  if (log !== undefined) env['HERALD_LOG'] = log;
  return env;
}

function start(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? workDir,
    env: childEnv('log' in options ? options.log : logUrl),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

async function herald(args: readonly string[], options: SpawnOptions = {}): Promise<Result> {
  const child = start(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.end(options.input);
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

async function ok(args: readonly string[], options: SpawnOptions = {}): Promise<string> {
  const result = await herald(args, options);
  assert.equal(result.status, 0, `herald ${args.join(' ')} failed: ${result.stderr}`);
  assert.equal(result.stderr, '');
  return result.stdout;
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Asserts one line on stderr, `herald: ` first, no stack trace. */
function assertOneLineError(result: Result, status: number, message: RegExp): void {
  assert.equal(result.status, status, `status of ${JSON.stringify(result)}`);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^herald: [^\n]+\n$/);
  assert.match(result.stderr, message);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  logUrl = `sqlite:${join(workDir, 'herald.db')}`;
});

after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('herald (real process, SQLite file)', () => {
  it('creates, lists and describes topics', async () => {
    assert.match(
      await ok(['topics', 'create', 'orders', '--partitions', '3']),
      /^created topic orders with 3 partitions/,
    );
    await ok([
      'topics',
      'create',
      'audit',
      '--partitions',
      '1',
      '--retention-ms',
      '3600000',
      '--retention-bytes',
      '1048576',
    ]);

    assert.deepEqual(JSON.parse(await ok(['topics', 'list', '--json'])), [
      { name: 'audit', partitions: 1, retention: { ms: 3_600_000, bytes: 1_048_576 } },
      { name: 'orders', partitions: 3, retention: {} },
    ]);
    assert.match(
      await ok(['topics', 'list']),
      /^TOPIC +PARTITIONS +RETENTION_MS +RETENTION_BYTES\naudit +1 +3600000 +1048576\norders +3 +- +-\n$/,
    );

    const described = await ok(['topics', 'describe', 'orders']);
    assert.match(
      described,
      /^topic +orders\npartitions +3\nretention +forever\n\nPARTITION +EARLIEST +LATEST +EVENTS\n0 +0 +0 +0\n1 +0 +0 +0\n2 +0 +0 +0\n$/,
    );
  });

  it('opens the default log under the working directory when HERALD_LOG is unset', async () => {
    const cwd = join(workDir, 'default-url');
    mkdirSync(cwd);
    await ok(['topics', 'create', 'here', '--partitions', '1'], { cwd, log: undefined });
    assert.ok(existsSync(join(cwd, '.herald', 'herald.db')));
    assert.match(await ok(['topics', 'list'], { cwd, log: undefined }), /\nhere +1 /);
  });

  it('publishes with --data and from stdin, and tail --json returns every attribute and position', async () => {
    const first = JSON.parse(
      await ok([
        'publish',
        'orders',
        '--type',
        'dev.herald.orders.order-placed.v1',
        '--key',
        'order-7',
        '--subject',
        'order-7',
        '--source',
        '/checkout',
        '--data',
        '{"orderId":"order-7","total":1200}',
        '--json',
      ]),
    ) as { id: string; topic: string; partition: number; offset: number };
    const secondLine = await ok(
      ['publish', 'orders', '--type', 'dev.herald.orders.order-paid.v1', '--key', 'order-7'],
      {
        input: '{\n  "orderId": "order-7",\n  "note": "caf\u00e9"\n}\n',
      },
    );
    const second = /^published (\S+) to orders partition (\d+) offset (\d+)\n$/.exec(secondLine);
    assert.ok(second, secondLine);
    assert.equal(Number(second[2]), first.partition, 'same key, same partition');
    assert.equal(Number(second[3]), first.offset + 1);

    const events = jsonLines(await ok(['tail', 'orders', '--json']));
    assert.equal(events.length, 2);
    const [placed, paid] = events;
    assert.deepEqual(Object.keys(placed!).sort(), [
      'data',
      'datacontenttype',
      'id',
      'offset',
      'partition',
      'partitionkey',
      'source',
      'specversion',
      'subject',
      'time',
      'topic',
      'type',
    ]);
    assert.deepEqual(
      { ...placed, time: undefined },
      {
        specversion: '1.0',
        id: first.id,
        source: '/checkout',
        type: 'dev.herald.orders.order-placed.v1',
        subject: 'order-7',
        partitionkey: 'order-7',
        datacontenttype: 'application/json',
        data: { orderId: 'order-7', total: 1200 },
        topic: 'orders',
        partition: first.partition,
        offset: first.offset,
        time: undefined,
      },
    );
    assert.match(String(placed!['time']), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(paid!['id'], second[1]);
    assert.equal(paid!['source'], '/herald-cli');
    assert.deepEqual(paid!['data'], { orderId: 'order-7', note: 'caf\u00e9' });
    assert.equal(paid!['offset'], first.offset + 1);

    const human = await ok(['tail', 'orders']);
    assert.match(
      human,
      new RegExp(
        `^\\S+Z orders/${first.partition}@${first.offset} dev\\.herald\\.orders\\.order-placed\\.v1 key=order-7 \\{"orderId":"order-7","total":1200\\}\n`,
      ),
    );
  });

  it('stops after --limit events and reads only since a time or duration', async () => {
    const boundary = await seedClicks();

    const limited = jsonLines(await ok(['tail', 'clicks', '--json', '--limit', '2']));
    assert.deepEqual(
      limited.map((e) => e['data']),
      [{ n: 0 }, { n: 1 }],
    );

    const since = jsonLines(await ok(['tail', 'clicks', '--json', '--since', boundary]));
    assert.deepEqual(
      since.map((e) => e['data']),
      [{ n: 3 }, { n: 4 }],
    );
    assert.equal(jsonLines(await ok(['tail', 'clicks', '--json', '--since', '1h'])).length, 5);
    assert.equal(
      jsonLines(await ok(['tail', 'clicks', '--json', '--since', '2999-01-01T00:00:00Z'])).length,
      0,
    );
  });

  it('with --follow, prints events published after it started and exits 0 on SIGINT', async () => {
    await ok(['topics', 'create', 'live', '--partitions', '2']);
    await ok(['publish', 'live', '--type', 'dev.herald.test.before.v1', '--data', '"before"']);
    const child = start(['tail', 'live', '--follow', '--json']);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const closed = once(child, 'close');
    try {
      const waitFor = async (count: number): Promise<void> => {
        const deadline = Date.now() + 20_000;
        while (jsonLines(stdout).length < count && Date.now() < deadline && child.exitCode === null)
          await delay(25);
        assert.equal(jsonLines(stdout).length, count, `stdout: ${stdout}\nstderr: ${stderr}`);
      };
      await waitFor(1);
      await ok(['publish', 'live', '--type', 'dev.herald.test.after.v1', '--data', '"after"']);
      await waitFor(2);
      assert.deepEqual(
        jsonLines(stdout).map((e) => e['data']),
        ['before', 'after'],
      );
      assert.equal(child.exitCode, null, 'still following');
      child.kill('SIGINT');
      const [status, signal] = (await closed) as [number | null, string | null];
      assert.deepEqual({ status, signal, stderr }, { status: 0, signal: null, stderr: '' });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('shows consumer groups with members, committed offsets and lag, and tail never creates one', async () => {
    const before = JSON.parse(await ok(['groups', '--json'])) as unknown[];
    assert.deepEqual(before, [], 'tail and publish above created no group');

    await using consumer = await openEventLog(`${logUrl}?clientId=billing-worker`);
    const subscription = await consumer.subscribe({ group: 'billing.invoices', topics: ['orders'] });
    for await (const event of subscription) {
      await subscription.commit(event);
      break;
    }

    assert.deepEqual(JSON.parse(await ok(['groups', '--json'])), [
      { group: 'billing.invoices', members: 1, lag: 1 },
    ]);
    const description = JSON.parse(await ok(['groups', 'billing.invoices', '--json'])) as GroupDescription;
    assert.equal(description.members.length, 1);
    const [member] = description.members;
    assert.equal(member?.memberId, subscription.memberId);
    assert.equal(member?.clientId, 'billing-worker');
    assert.ok(Math.abs(Date.now() - (member?.lastHeartbeat ?? 0)) < 60_000);
    assert.equal(member?.partitions.length, 3);
    const busy = description.partitions.find((p) => p.committed !== null);
    assert.deepEqual(busy && { committed: busy.committed, latest: busy.latest, lag: busy.lag }, {
      committed: 1,
      latest: 2,
      lag: 1,
    });

    const table = await ok(['groups', 'billing.invoices']);
    assert.match(table, new RegExp(`\\n${subscription.memberId} +billing-worker +\\S+Z \\(`));
    assert.match(table, new RegExp(`\\norders +${busy?.partition} +1 +2 +1\\n`));

    await ok(['tail', 'orders', '--json']);
    assert.deepEqual(
      (JSON.parse(await ok(['groups', 'billing.invoices', '--json'])) as GroupDescription).partitions,
      description.partitions,
      'tail moved no committed offset',
    );
    await subscription.close();
    assert.deepEqual(JSON.parse(await ok(['groups', '--json'])), [
      { group: 'billing.invoices', members: 0, lag: 1 },
    ]);
  });

  it('reports failed operations on one line with status 1', async () => {
    const notADirectory = join(workDir, 'plain-file');
    writeFileSync(notADirectory, 'just a file');
    const notADatabase = join(workDir, 'garbage.db');
    writeFileSync(notADatabase, 'this is not an SQLite database, not even close '.repeat(100));
    const cases: [readonly string[], SpawnOptions, number, RegExp][] = [
      [['tail', 'nope'], {}, 1, /^herald: .*"nope".*\(see 'herald topics list'\)/],
      [['publish', 'nope', '--type', 't.v1', '--data', '{}'], {}, 1, /"nope"/],
      [['topics', 'describe', 'nope'], {}, 1, /"nope"/],
      [['topics', 'create', 'orders', '--partitions', '1'], {}, 1, /orders/],
      [
        ['topics', 'list'],
        { log: 'nosuch://x' },
        1,
        /^herald: cannot open HERALD_LOG=nosuch:\/\/x: unsupported log URL/,
      ],
      [['topics', 'list'], { log: 'sqlite:' }, 1, /^herald: cannot open HERALD_LOG=sqlite:: /],
      [
        ['topics', 'list'],
        { log: `sqlite:${join(notADirectory, 'x.db')}` },
        1,
        /^herald: cannot open HERALD_LOG=sqlite:/,
      ],
      [
        ['topics', 'list'],
        { log: `sqlite:${notADatabase}` },
        1,
        /^herald: cannot open HERALD_LOG=sqlite:.*garbage\.db: /,
      ],
      [['tail', 'orders', '--partition', '9'], {}, 1, /^herald: topic "orders" has no partition 9/],
      [['groups', 'nobody'], {}, 1, /^herald: no consumer group "nobody"/],
    ];
    for (const [args, options, status, message] of cases) {
      assertOneLineError(await herald(args, options), status, message);
    }
  });

  it('tail prints the events before a damaged one, then reports it on one line with status 1', async () => {
    const file = join(workDir, 'damaged.db');
    const log = `sqlite:${file}`;
    await ok(['topics', 'create', 'ledger', '--partitions', '1'], { log });
    for (const n of [0, 1, 2, 3]) {
      await ok(
        [
          'publish',
          'ledger',
          '--type',
          'ledger.entry.v1',
          '--data',
          `{"entry":"ENTRY-${n}-${'x'.repeat(40)}"}`,
        ],
        {
          log,
        },
      );
    }
    // Every copy of entry 2's data in the file (the live row is among them) gets a flipped bit.
    const bytes = readFileSync(file);
    for (let at = bytes.indexOf('ENTRY-2-'); at >= 0; at = bytes.indexOf('ENTRY-2-', at + 1)) {
      bytes[at + 20] = bytes[at + 20]! ^ 0x01;
    }
    writeFileSync(file, bytes);

    const result = await herald(['tail', 'ledger', '--offset', '0', '--json'], { log });
    assert.deepEqual(
      jsonLines(result.stdout).map((line) => line['offset']),
      [0, 1],
    );
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^herald: .*the event at ledger\/0 offset 2 fails its checksum.*will not be served\n$/,
    );
    assert.doesNotMatch(result.stdout, /ENTRY-2/);
  });

  it('reports a wrong command line on one line with status 2, before touching the log', async () => {
    const cases: [readonly string[], SpawnOptions, number, RegExp][] = [
      [
        ['publish', 'orders', '--type', 't.v1', '--data', '{"a":'],
        {},
        2,
        /^herald: --data is not valid JSON: /,
      ],
      [
        ['publish', 'orders', '--type', 't.v1'],
        { input: 'not json' },
        2,
        /^herald: standard input is not valid JSON: /,
      ],
      [['publish', 'orders', '--data', '{}'], {}, 2, /^herald: missing --type <type>/],
      [
        ['tail', 'orders', '--limit', 'many'],
        {},
        2,
        /^herald: --limit must be a positive integer, got "many"/,
      ],
      [['tail', 'orders', '--since', 'last tuesday'], {}, 2, /^herald: --since must be an ISO timestamp/],
      [['tail', 'orders', '--offset', '1', '--from-end'], {}, 2, /^herald: choose one start position/],
      [
        ['topics', 'create', 'x', '--partitions', '0'],
        {},
        2,
        /^herald: --partitions must be a positive integer/,
      ],
      [['launch'], {}, 2, /^herald: unknown command "launch"/],
      [
        ['tail', 'orders', '--colour'],
        {},
        2,
        /^herald: unknown option --colour \(see 'herald tail --help'\)/,
      ],
    ];
    for (const [args, options, status, message] of cases) {
      assertOneLineError(await herald(args, { ...options, log: 'nosuch://never-opened' }), status, message);
    }
  });

  it('runs as an executable through its shebang with Node 24 on PATH, printing help and version', async () => {
    const help = execFileSync(BIN, ['--help'], { env: childEnv(logUrl), encoding: 'utf8' });
    assert.match(help, /^Usage: herald <command>/);
    const version = execFileSync(BIN, ['--version'], { env: childEnv(logUrl), encoding: 'utf8' });
    assert.match(version, /^\d+\.\d+\.\d+\n$/);
  });

  it('tells users of an older Node to run it through npx or npm', async (t) => {
    const oldNode = findOldNode();
    if (oldNode === undefined) {
      t.skip('no Node older than 24 on PATH to try');
      return;
    }
    const child = spawn(oldNode, [BIN, '--help'], { env: childEnv(logUrl) });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [status] = (await once(child, 'close')) as [number | null];
    assert.equal(status, 1);
    assert.match(
      stderr,
      /^herald needs Node\.js 24\.6\.0 or newer and this is Node\.js \d+\.\d+\.\d+: inside the Herald repository run it through npm or npx, which use the Node\.js 24 that `npm install` pins, elsewhere install Node\.js 24 LTS from https:\/\/nodejs\.org\/\.\n$/,
    );
  });
});

/** A `node` older than 24 on PATH (outside node_modules), if there is one. */
function findOldNode(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' });
      if (Number(/^v(\d+)/.exec(version)?.[1]) < 24) return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}

/**
 * Creates topic `clicks` with events n=0..2, then n=3..4 appended after the returned ISO time.
 * Seeded through the library: publishing through the CLI is tested on its own.
 */
async function seedClicks(): Promise<string> {
  await using log = await openEventLog(logUrl);
  await log.createTopic('clicks', { partitions: 2 });
  const click = (n: number): CloudEvent => ({
    specversion: '1.0',
    id: `click-${n}`,
    source: '/web',
    type: 'dev.herald.web.clicked.v1',
    datacontenttype: 'application/json',
    data: new TextEncoder().encode(JSON.stringify({ n })),
  });
  // Each in a later millisecond, so that the merge of the two partitions has one right order.
  for (let n = 0; n < 3; n++) {
    await log.append('clicks', click(n), { partition: n % 2 });
    await delay(3);
  }
  await delay(20);
  const boundary = new Date().toISOString();
  await delay(20);
  for (let n = 3; n < 5; n++) {
    await log.append('clicks', click(n), { partition: n % 2 });
    await delay(3);
  }
  return boundary;
}
