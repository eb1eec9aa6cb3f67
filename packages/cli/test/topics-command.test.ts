import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runHerald, uniqueName } from './run-herald.ts';

describe('herald topics', () => {
  it('creates a topic that list and describe then show', async () => {
    const log = `memory:${uniqueName()}`;
    const created = await runHerald(
      ['topics', 'create', 'orders', '--partitions', '3', '--retention-ms', '60000'],
      { log },
    );
    assert.deepEqual(created, {
      status: 0,
      stdout: 'created topic orders with 3 partitions, retention ms=60000\n',
      stderr: '',
    });

    const list = await runHerald(['topics', 'list'], { log });
    assert.equal(list.status, 0);
    assert.equal(
      list.stdout,
      'TOPIC   PARTITIONS  RETENTION_MS  RETENTION_BYTES\norders  3           60000         -\n',
    );

    const listed = await runHerald(['topics', 'list', '--json'], { log });
    assert.deepEqual(JSON.parse(listed.stdout), [
      { name: 'orders', partitions: 3, retention: { ms: 60000 } },
    ]);

    const described = await runHerald(['topics', 'describe', 'orders', '--json'], { log });
    const description = JSON.parse(described.stdout) as { partitionInfo: unknown[] };
    assert.deepEqual(description.partitionInfo, [
      { partition: 0, earliest: 0, latest: 0 },
      { partition: 1, earliest: 0, latest: 0 },
      { partition: 2, earliest: 0, latest: 0 },
    ]);
  });

  it('describes each partition with its earliest and latest offsets and event count', async () => {
    const log = `memory:${uniqueName()}`;
    await runHerald(['topics', 'create', 'orders', '--partitions', '2'], { log });
    for (let i = 0; i < 3; i++) {
      await runHerald(['publish', 'orders', '--type', 't.v1', '--key', 'same', '--data', '{}'], { log });
    }
    const { status, stdout } = await runHerald(['topics', 'describe', 'orders'], { log });
    assert.equal(status, 0);
    const [header, table] = stdout.split('\n\n');
    assert.match(header ?? '', /^topic +orders\npartitions +2\nretention +forever$/);
    const rows = (table ?? '')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s+/).map(Number));
    assert.equal(rows.length, 2);
    assert.deepEqual(rows.map((r) => r[3]).sort(), [0, 3], 'one key: all three events in one partition');
    for (const [, earliest, latest, events] of rows) assert.equal(events, latest! - earliest!);
  });

  it('says "no topics" when there are none', async () => {
    assert.deepEqual(await runHerald(['topics', 'list']), { status: 0, stdout: 'no topics\n', stderr: '' });
  });

  it('refuses a missing or bad partition count with status 2', async () => {
    for (const [argv, message] of [
      [['topics', 'create', 'orders'], 'missing --partitions <n>'],
      [
        ['topics', 'create', 'orders', '--partitions', '0'],
        '--partitions must be a positive integer, got "0"',
      ],
      [
        ['topics', 'create', 'orders', '--partitions', 'two'],
        '--partitions must be a positive integer, got "two"',
      ],
      [['topics', 'create', '--partitions', '2'], 'missing <name>'],
      [
        ['topics', 'create', 'o', '--partitions', '1', '--retention-bytes', '-5'],
        'option --retention-bytes needs a value',
      ],
      [['topics'], 'missing subcommand: create, list or describe'],
    ] as const) {
      const result = await runHerald(argv);
      assert.equal(result.status, 2, argv.join(' '));
      assert.ok(result.stderr.startsWith(`herald: ${message}`), result.stderr);
      assert.match(result.stderr, /\(see 'herald topics( create)? --help'\)\n$/);
    }
  });

  it('fails with status 1 for an existing topic and for an unknown one', async () => {
    const log = `memory:${uniqueName()}`;
    await runHerald(['topics', 'create', 'orders', '--partitions', '1'], { log });
    const again = await runHerald(['topics', 'create', 'orders', '--partitions', '1'], { log });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^herald: .*orders.*\n$/);

    const unknown = await runHerald(['topics', 'describe', 'nope'], { log });
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /^herald: .*"nope".* \(see 'herald topics list'\)\n$/);
  });
});
