import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import type { CloudEvent, EventLog, StoredEvent } from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';
import { UsageError } from '../src/arguments.ts';
import { formatEventLine, isForeign, parseTailArguments, tailEvents } from '../src/tail-command.ts';
import type { TailOptions } from '../src/tail-command.ts';

const encoder = new TextEncoder();

function event(n: number, extra: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: '1.0',
    id: `e-${n}`,
    source: '/test',
    type: 'dev.herald.test.thing-happened.v1',
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify({ n })),
    ...extra,
  };
}

/** Appends events to the given partitions in this order, each in a later millisecond. */
async function appendInOrder(
  log: EventLog,
  topic: string,
  partitions: readonly number[],
  first = 0,
): Promise<void> {
  for (const [n, partition] of partitions.entries()) {
    await log.append(topic, event(first + n), { partition });
    await delay(2);
  }
}

async function collect(
  log: EventLog,
  topic: string,
  options: TailOptions,
  max = Infinity,
): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of tailEvents(log, topic, options)) {
    assert.ok(!isForeign(e), 'a foreign record on a log of CloudEvents');
    out.push(e);
    if (out.length >= max) break;
  }
  return out;
}

const ids = (events: readonly StoredEvent[]): string[] => events.map((e) => e.id);

describe('parseTailArguments', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('starts from the beginning without following by default', () => {
    assert.deepEqual(parseTailArguments(['orders'], now), {
      topic: 'orders',
      from: 'earliest',
      follow: false,
      json: false,
    });
  });

  it('reads every option', () => {
    assert.deepEqual(
      parseTailArguments(
        ['orders', '--offset', '7', '-f', '--limit', '3', '--json', '--partition', '2'],
        now,
      ),
      {
        topic: 'orders',
        from: { offset: 7 },
        follow: true,
        json: true,
        limit: 3,
        partition: 2,
      },
    );
    assert.deepEqual(parseTailArguments(['orders', '--from-end'], now)?.from, 'latest');
    assert.deepEqual(parseTailArguments(['orders', '--from-beginning'], now)?.from, 'earliest');
    assert.deepEqual(parseTailArguments(['orders', '--since', '10m'], now)?.from, {
      timestamp: now - 600_000,
    });
  });

  it('is undefined when help is asked for, even without a topic', () => {
    assert.equal(parseTailArguments(['--help'], now), undefined);
    assert.equal(parseTailArguments(['-h'], now), undefined);
  });

  it('refuses two start positions at once', () => {
    assert.throws(() => parseTailArguments(['orders', '--offset', '1', '--since', '1h'], now), {
      name: 'UsageError',
      message: 'choose one start position, not --offset and --since',
    });
  });

  it('refuses a missing topic, a zero limit and a negative offset', () => {
    for (const args of [[], ['orders', '--limit', '0'], ['orders', '--offset=-1'], ['a', 'b']]) {
      assert.throws(() => parseTailArguments(args, now), UsageError, args.join(' '));
    }
  });
});

describe('tailEvents', () => {
  it('merges partitions in append order and keeps offset order within each', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('things', { partitions: 3 });
    await appendInOrder(log, 'things', [2, 0, 0, 1, 2, 1, 0]);
    const events = await collect(log, 'things', { from: 'earliest', follow: false });
    assert.deepEqual(ids(events), ['e-0', 'e-1', 'e-2', 'e-3', 'e-4', 'e-5', 'e-6']);
    for (let i = 1; i < events.length; i++) assert.ok(events[i - 1]!.timestamp <= events[i]!.timestamp);
  });

  it('reads partitions longer than one page without losing or reordering events', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('things', { partitions: 2 });
    await log.appendBatch(
      'things',
      Array.from({ length: 1203 }, (_, n) => event(n, { partitionkey: `k${n % 5}` })),
    );
    const events = await collect(log, 'things', { from: 'earliest', follow: false });
    assert.equal(events.length, 1203);
    assert.equal(new Set(ids(events)).size, 1203);
    for (const partition of [0, 1]) {
      const offsets = events.filter((e) => e.partition === partition).map((e) => e.offset);
      assert.deepEqual(offsets, [...offsets.keys()]);
    }
  });

  it('stops at the end the topic had when it started unless following', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('things', { partitions: 1 });
    await appendInOrder(log, 'things', [0, 0]);
    const events: StoredEvent[] = [];
    for await (const e of tailEvents(log, 'things', { from: 'earliest', follow: false })) {
      assert.ok(!isForeign(e));
      events.push(e);
      await log.append('things', event(100 + events.length));
    }
    assert.deepEqual(ids(events), ['e-0', 'e-1']);
  });

  it('starts at an offset in every partition, or in the one partition asked for', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('things', { partitions: 2 });
    await appendInOrder(log, 'things', [0, 1, 0, 1, 0]);
    assert.deepEqual(ids(await collect(log, 'things', { from: { offset: 1 }, follow: false })), [
      'e-2',
      'e-3',
      'e-4',
    ]);
    assert.deepEqual(
      ids(await collect(log, 'things', { from: { offset: 1 }, partition: 0, follow: false })),
      ['e-2', 'e-4'],
    );
  });

  it('starts at the first event appended at or after a timestamp', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('things', { partitions: 2 });
    await appendInOrder(log, 'things', [0, 1]);
    const since = Date.now();
    await delay(2);
    await appendInOrder(log, 'things', [1, 0], 10);
    const events = await collect(log, 'things', { from: { timestamp: since }, follow: false });
    assert.deepEqual(ids(events), ['e-10', 'e-11']);
  });

  it('prints nothing from the end without following', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('things', { partitions: 2 });
    await appendInOrder(log, 'things', [0, 1]);
    assert.deepEqual(await collect(log, 'things', { from: 'latest', follow: false }), []);
  });

  it('when following from the end, delivers only events appended later, until aborted', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('things', { partitions: 3 });
    await appendInOrder(log, 'things', [0, 1, 2]);
    const controller = new AbortController();
    const received: StoredEvent[] = [];
    const following = (async () => {
      for await (const e of tailEvents(log, 'things', {
        from: 'latest',
        follow: true,
        signal: controller.signal,
      })) {
        assert.ok(!isForeign(e));
        received.push(e);
      }
    })();
    await delay(100);
    await log.append('things', event(10), { partition: 1 });
    await log.append('things', event(11), { partition: 2 });
    const deadline = Date.now() + 10_000;
    while (received.length < 2 && Date.now() < deadline) await delay(20);
    controller.abort();
    await following;
    assert.deepEqual(ids(received), ['e-10', 'e-11']);
  });

  it('throws UNKNOWN_TOPIC for a missing topic and INVALID_ARGUMENT for a missing partition', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('things', { partitions: 2 });
    await assert.rejects(collect(log, 'nope', { from: 'earliest', follow: false }), (e) =>
      isHeraldError(e, 'UNKNOWN_TOPIC'),
    );
    await assert.rejects(
      collect(log, 'things', { from: 'earliest', partition: 2, follow: false }),
      (e) => isHeraldError(e, 'INVALID_ARGUMENT') && /has no partition 2/.test(e.message),
    );
  });
});

function withoutData(event: StoredEvent): StoredEvent {
  const { data: _data, ...rest } = event;
  return rest;
}

describe('formatEventLine', () => {
  const base: StoredEvent = {
    ...event(1),
    topic: 'things',
    partition: 2,
    offset: 17,
    timestamp: Date.parse('2025-01-31T12:00:00Z'),
  };

  it('shows append time, position, type, key and compact JSON data', () => {
    assert.equal(
      formatEventLine({ ...base, partitionkey: 'k-1', data: encoder.encode('{ "n" : 1 }') }),
      '2025-01-31T12:00:00.000Z things/2@17 dev.herald.test.thing-happened.v1 key=k-1 {"n":1}',
    );
  });

  it('describes data that is not JSON by its size', () => {
    assert.match(
      formatEventLine({ ...base, datacontenttype: 'image/png', data: new Uint8Array(3) }),
      / \(3 bytes of image\/png\)$/,
    );
    assert.match(formatEventLine(withoutData(base)), / \(no data\)$/);
  });

  it('cannot be used to send control sequences to the terminal', () => {
    const line = formatEventLine({
      ...base,
      type: 'x\u001b[2J',
      partitionkey: 'k\r',
      data: encoder.encode('"\\u001b[31m"'),
    });
    assert.ok(![...line].some((char) => char.charCodeAt(0) < 0x20), line);
  });
});
