import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openEventLog } from '@herald/core';
import type { StoredEvent } from '@herald/core';
import { runHerald, uniqueName } from './run-herald.ts';

const decoder = new TextDecoder();

async function withTopic(partitions = 2): Promise<string> {
  const log = `memory:${uniqueName()}`;
  const created = await runHerald(['topics', 'create', 'orders', '--partitions', String(partitions)], {
    log,
  });
  assert.equal(created.status, 0, created.stderr);
  return log;
}

async function storedEvents(log: string): Promise<StoredEvent[]> {
  await using reader = await openEventLog(log);
  const { partitionInfo } = await reader.describeTopic('orders');
  const events: StoredEvent[] = [];
  for (const { partition } of partitionInfo)
    events.push(...(await reader.read('orders', { partition, from: 'earliest' })));
  return events;
}

describe('herald publish', () => {
  it('appends a CloudEvent with JSON data and prints where it landed', async () => {
    const log = await withTopic();
    const now = Date.parse('2025-01-31T12:00:00Z');
    const result = await runHerald(
      [
        'publish',
        'orders',
        '--type',
        'dev.herald.orders.order-placed.v1',
        '--key',
        'o-1',
        '--subject',
        'o-1',
        '--data',
        '{"total": 12}',
      ],
      { log, now },
    );
    assert.equal(result.status, 0, result.stderr);
    const [event] = await storedEvents(log);
    assert.ok(event);
    assert.equal(
      result.stdout,
      `published ${event.id} to orders partition ${event.partition} offset ${event.offset}\n`,
    );
    assert.match(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(event.source, '/herald-cli');
    assert.equal(event.type, 'dev.herald.orders.order-placed.v1');
    assert.equal(event.partitionkey, 'o-1');
    assert.equal(event.subject, 'o-1');
    assert.equal(event.time, '2025-01-31T12:00:00.000Z');
    assert.equal(event.datacontenttype, 'application/json');
    assert.equal(decoder.decode(event.data), '{"total": 12}');
  });

  it('reads the data from standard input when --data is absent', async () => {
    const log = await withTopic();
    const result = await runHerald(['publish', 'orders', '--type', 't.v1', '--source', '/me', '--json'], {
      log,
      stdin: '\n  [1, 2, 3]\n',
    });
    assert.equal(result.status, 0, result.stderr);
    const [event] = await storedEvents(log);
    assert.deepEqual(JSON.parse(result.stdout), {
      id: event?.id,
      topic: 'orders',
      partition: event?.partition,
      offset: 0,
      timestamp: event?.timestamp,
    });
    assert.equal(event?.source, '/me');
    assert.equal(decoder.decode(event?.data), '[1, 2, 3]');
  });

  it('sends events with one key to one partition', async () => {
    const log = await withTopic(4);
    const partitions = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const { stdout } = await runHerald(
        ['publish', 'orders', '--type', 't.v1', '--key', 'same', '--data', String(i), '--json'],
        { log },
      );
      partitions.add((JSON.parse(stdout) as { partition: number }).partition);
    }
    assert.equal(partitions.size, 1);
  });

  it('accepts data starting with a dash through --data=', async () => {
    const log = await withTopic();
    const result = await runHerald(['publish', 'orders', '--type', 't.v1', '--data=-1'], { log });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(decoder.decode((await storedEvents(log))[0]?.data), '-1');
  });

  it('refuses bad input with one line and status 2, appending nothing', async () => {
    const log = await withTopic();
    for (const [argv, stdin, message] of [
      [
        ['--data', '{bad'],
        undefined,
        /^herald: --data is not valid JSON: .+ \(see 'herald publish --help'\)\n$/,
      ],
      [[], '{"a":', /^herald: standard input is not valid JSON: /],
      [[], '  \n', /^herald: no data: standard input is empty; it must be a JSON document/],
      [[], new Uint8Array([0x22, 0xff, 0x22]), /^herald: standard input is not UTF-8 text/],
      [[], undefined, /^herald: no data: pass --data <json> or pipe JSON into standard input/],
      [['--data', ''], undefined, /^herald: no data: --data is empty/],
    ] as const) {
      const result = await runHerald(['publish', 'orders', '--type', 't.v1', ...argv], {
        log,
        ...(stdin === undefined ? {} : { stdin }),
      });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.split('\n').length, 2, 'one line');
    }
    for (const [argv, message] of [
      [['publish', 'orders', '--data', '1'], /^herald: missing --type <type>/],
      [['publish', '--type', 't.v1', '--data', '1'], /^herald: missing <topic>/],
      [['publish', 'orders', '--type', ' ', '--data', '1'], /^herald: --type must not be empty/],
      [
        ['publish', 'orders', '--type', 't.v1', '--source', '', '--data', '1'],
        /^herald: --source must not be empty/,
      ],
    ] as const) {
      const result = await runHerald(argv, { log });
      assert.equal(result.status, 2, argv.join(' '));
      assert.match(result.stderr, message);
    }
    assert.deepEqual(await storedEvents(log), []);
  });

  it('fails with status 1 and a hint for an unknown topic', async () => {
    const log = await withTopic();
    const result = await runHerald(['publish', 'nope', '--type', 't.v1', '--data', '{}'], { log });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^herald: .*"nope".* \(see 'herald topics list'\)\n$/);
  });
});
