import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertTopicName,
  checkCommitOffset,
  checkPartition,
  checkPartitionCount,
  checkReadLimit,
  checkReadOptions,
  checkReadPosition,
  checkRetention,
  checkStartPosition,
  isTopicName,
} from '@herald/core/backend';
import { isHeraldError } from '../../src/errors.ts';
import type { HeraldErrorCode } from '../../src/errors.ts';
import type { ReadOptions } from '../../src/event-log.ts';

function heraldError(code: HeraldErrorCode, message?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isHeraldError(error, code), `expected ${code}, got ${String(error)}`);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  };
}

const invalid = (message?: RegExp) => heraldError('INVALID_ARGUMENT', message);

void describe('topic names', () => {
  void it('accepts 1 to 249 letters, digits, ".", "_" and "-"', () => {
    for (const name of ['orders', 'Orders.v1_dead-letter', 'a', 'x'.repeat(249), '...']) {
      assert.equal(isTopicName(name), true, name);
      assertTopicName(name);
    }
  });

  void it('refuses other characters, empty and overlong names, "." and "..", and non-strings', () => {
    for (const name of ['', 'has space', 'slash/name', 'ümlaut', 'x'.repeat(250), '.', '..', 42, undefined]) {
      assert.equal(isTopicName(name), false, String(name));
      assert.throws(
        () => assertTopicName(name),
        invalid(/invalid topic name .*use 1 to 249 letters/),
        String(name),
      );
    }
  });

  void it('refuses names longer than the room a backend leaves after its prefix, and says how long they may be', () => {
    assert.equal(isTopicName('x'.repeat(240), 240), true);
    assert.throws(() => assertTopicName('x'.repeat(241), 240), invalid(/use 1 to 240 letters/));
  });

  void it('names the refused topic in the details', () => {
    assert.throws(
      () => assertTopicName('has space'),
      (error) => isHeraldError(error, 'INVALID_ARGUMENT') && error.details['topic'] === 'has space',
    );
  });
});

void describe('topic settings', () => {
  void it('accepts partition counts from 1 to 10 000', () => {
    assert.equal(checkPartitionCount(1), 1);
    assert.equal(checkPartitionCount(10_000), 10_000);
  });

  void it('refuses partition counts that are not integers from 1 to 10 000', () => {
    for (const partitions of [0, -1, 1.5, 10_001, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => checkPartitionCount(partitions),
        invalid(/partitions must be an integer from 1 to 10000/),
      );
    }
  });

  void it('keeps only the retention limits that are set', () => {
    assert.deepEqual(checkRetention(undefined), {});
    assert.deepEqual(checkRetention({}), {});
    assert.deepEqual(checkRetention({ ms: 60_000 }), { ms: 60_000 });
    assert.deepEqual(checkRetention({ ms: 1, bytes: 1_000 }), { ms: 1, bytes: 1_000 });
  });

  void it('refuses retention limits that are not positive integers, naming the field', () => {
    assert.throws(() => checkRetention({ ms: 0 }), invalid(/^retention\.ms must be a positive integer/));
    assert.throws(
      () => checkRetention({ bytes: -5 }),
      invalid(/^retention\.bytes must be a positive integer/),
    );
    assert.throws(() => checkRetention({ ms: 1.5 }), invalid(/retention\.ms/));
  });
});

void describe('partitions and positions', () => {
  void it('accepts a partition index within the topic', () => {
    assert.equal(checkPartition('orders', 0, 3), 0);
    assert.equal(checkPartition('orders', 2, 3), 2);
  });

  void it('refuses a partition outside the topic, saying which partitions it has', () => {
    for (const partition of [-1, 3, 1.5, Number.NaN]) {
      assert.throws(
        () => checkPartition('orders', partition, 3),
        invalid(/topic "orders" has partitions 0\.\.2, not/),
      );
    }
  });

  void it('accepts earliest, latest and timestamps as start positions, and offsets only as read positions', () => {
    for (const position of ['earliest', 'latest', { timestamp: 0 }] as const) {
      assert.equal(checkStartPosition(position), position);
      assert.equal(checkReadPosition(position), position);
    }
    assert.deepEqual(checkReadPosition({ offset: 7 }), { offset: 7 });
    assert.throws(
      () => checkStartPosition({ offset: 7 }),
      invalid(/expected 'earliest', 'latest' or \{ timestamp \}/),
    );
  });

  void it('refuses positions that name no place', () => {
    for (const position of ['start', null, {}, { timestamp: Number.NaN }, { offset: -1 }, { offset: 0.5 }]) {
      assert.throws(() => checkReadPosition(position), invalid(/invalid position/), JSON.stringify(position));
    }
  });

  void it('reads 500 events when no limit is given, and refuses limits that are not positive integers', () => {
    assert.equal(checkReadLimit(undefined), 500);
    assert.equal(checkReadLimit(1), 1);
    for (const limit of [0, -1, 2.5, Number.NaN]) {
      assert.throws(() => checkReadLimit(limit), invalid(/limit must be a positive integer/));
    }
  });

  void it('checks read options partition first, then position, then limit', () => {
    const options = (overrides: Partial<ReadOptions>): ReadOptions => ({
      partition: 0,
      from: 'earliest',
      ...overrides,
    });
    assert.deepEqual(checkReadOptions('orders', options({}), 2), {
      partition: 0,
      from: 'earliest',
      limit: 500,
    });
    assert.throws(
      () => checkReadOptions('orders', options({ partition: 5, from: { offset: -1 }, limit: 0 }), 2),
      invalid(/has partitions/),
    );
    assert.throws(
      () => checkReadOptions('orders', options({ from: { offset: -1 }, limit: 0 }), 2),
      invalid(/position/),
    );
    assert.throws(() => checkReadOptions('orders', options({ limit: 0 }), 2), invalid(/limit/));
  });

  void it('accepts commit offsets from 0 up to the high watermark, which means everything was handled', () => {
    assert.equal(checkCommitOffset({ topic: 'orders', partition: 1, offset: 0 }), 0);
    assert.equal(checkCommitOffset({ topic: 'orders', partition: 1, offset: 10 }, 10), 10);
    assert.equal(checkCommitOffset({ topic: 'orders', partition: 1, offset: 1e9 }), 1e9);
  });

  void it('refuses commit offsets that are negative, fractional or beyond the high watermark', () => {
    for (const offset of [-1, 0.5, Number.NaN, 11]) {
      assert.throws(
        () => checkCommitOffset({ topic: 'orders', partition: 1, offset }, 10),
        invalid(/^orders\/1 has no offset .*: positions are integers from 0 to 10$/),
        String(offset),
      );
    }
  });
});
