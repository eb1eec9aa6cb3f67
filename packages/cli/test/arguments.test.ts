import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  UsageError,
  expectPositionals,
  parseCommandLine,
  parseDuration,
  parseInteger,
  parsePosition,
  parseSince,
  parseTimestamp,
  parseTopicPosition,
  printable,
} from '../src/arguments.ts';

const OPTIONS = { limit: { type: 'string' }, json: { type: 'boolean' } } as const;

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a UsageError');
}

describe('parseCommandLine', () => {
  it('returns option values and positionals', () => {
    const { values, positionals } = parseCommandLine(
      'herald x',
      ['a', '--limit', '5', '--json', 'b'],
      OPTIONS,
    );
    assert.deepEqual({ ...values }, { limit: '5', json: true });
    assert.deepEqual(positionals, ['a', 'b']);
  });

  it('names an unknown option in one short sentence', () => {
    assert.equal(
      usageMessage(() => parseCommandLine('herald x', ['--nope'], OPTIONS)),
      'unknown option --nope',
    );
    assert.equal(
      usageMessage(() => parseCommandLine('herald x', ['-q'], OPTIONS)),
      'unknown option -q',
    );
  });

  it('says when an option lacks its value or takes none', () => {
    assert.equal(
      usageMessage(() => parseCommandLine('herald x', ['--limit'], OPTIONS)),
      'option --limit needs a value',
    );
    assert.equal(
      usageMessage(() => parseCommandLine('herald x', ['--json=yes'], OPTIONS)),
      'option --json does not take a value',
    );
  });

  it('explains how to pass a value that starts with a dash', () => {
    const message = usageMessage(() => parseCommandLine('herald x', ['--limit', '-1'], OPTIONS));
    assert.match(message, /--limit=<value>/);
    assert.doesNotMatch(message, /\n/);
  });

  it('records which command the mistake belongs to', () => {
    try {
      parseCommandLine('herald tail', ['--nope'], OPTIONS);
      assert.fail('expected a UsageError');
    } catch (error) {
      assert.ok(error instanceof UsageError);
      assert.equal(error.command, 'herald tail');
    }
  });
});

describe('expectPositionals', () => {
  it('names the first missing argument', () => {
    assert.equal(
      usageMessage(() => expectPositionals('herald x', [], ['<topic>'])),
      'missing <topic>',
    );
  });

  it('refuses extra arguments', () => {
    assert.equal(
      usageMessage(() => expectPositionals('herald x', ['a', 'b'], ['<topic>'])),
      'unexpected argument "b"',
    );
  });

  it('accepts optional arguments being absent', () => {
    assert.deepEqual(expectPositionals('herald x', [], ['<group>?']), []);
    assert.deepEqual(expectPositionals('herald x', ['g'], ['<group>?']), ['g']);
  });
});

describe('parseInteger', () => {
  it('parses decimal integers at or above the minimum', () => {
    assert.equal(parseInteger('herald x', '--n', '0', 0), 0);
    assert.equal(parseInteger('herald x', '--n', '42', 1), 42);
  });

  it('refuses signs, fractions, exponents, words and values below the minimum', () => {
    for (const value of ['-1', '+1', '1.5', '1e3', 'ten', '', ' 1', '0x10']) {
      assert.throws(() => parseInteger('herald x', '--n', value, 0), UsageError, value);
    }
    assert.equal(
      usageMessage(() => parseInteger('herald x', '--n', '0', 1)),
      '--n must be a positive integer, got "0"',
    );
  });

  it('refuses integers too large to represent exactly', () => {
    assert.throws(() => parseInteger('herald x', '--n', '9007199254740993', 0), UsageError);
  });
});

describe('parseDuration', () => {
  it('reads single and combined units', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
  });

  it('is undefined for anything else', () => {
    for (const value of ['10', 'm', '10 m', '-10m', '10M', '1.5h', '2w', ''])
      assert.equal(parseDuration(value), undefined, value);
  });
});

describe('parseSince', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('counts durations back from now', () => {
    assert.equal(parseSince('herald tail', '10m', now), now - 600_000);
    assert.equal(parseSince('herald tail', '2h', now), now - 7_200_000);
  });

  it('reads ISO timestamps with a zone exactly', () => {
    assert.equal(parseSince('herald tail', '2025-01-31T12:00:00Z', now), Date.parse('2025-01-31T12:00:00Z'));
    assert.equal(
      parseSince('herald tail', '2025-01-31T12:00:00.250+02:00', now),
      Date.parse('2025-01-31T10:00:00.250Z'),
    );
    assert.equal(parseSince('herald tail', '2025-01-31', now), Date.parse('2025-01-31'));
  });

  it('refuses values Date.parse would guess at', () => {
    for (const value of ['1', 'yesterday', 'June 1', '2025-13-45', '2025-01-31T25:00:00Z']) {
      assert.match(
        usageMessage(() => parseSince('herald tail', value, now)),
        /--since must be an ISO timestamp/,
        value,
      );
    }
  });
});

describe('parseTimestamp', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('reads durations and ISO timestamps like --since, naming its own option when it refuses', () => {
    assert.equal(parseTimestamp('herald groups reset', '--to-time', '1h30m', now), now - 5_400_000);
    assert.equal(
      parseTimestamp('herald groups reset', '--to-time', '2025-01-31T12:00:00Z', now),
      Date.parse('2025-01-31T12:00:00Z'),
    );
    assert.match(
      usageMessage(() => parseTimestamp('herald groups reset', '--to-time', 'noon', now)),
      /^--to-time must be an ISO timestamp .*got "noon"$/,
    );
  });
});

describe('parsePosition', () => {
  it('reads <partition>:<offset>', () => {
    assert.deepEqual(parsePosition('herald dlq show', '0:42'), { partition: 0, offset: 42 });
    assert.deepEqual(parsePosition('herald dlq show', '12:0'), { partition: 12, offset: 0 });
  });

  it('refuses anything else, quoting it', () => {
    for (const value of ['0', '0:', ':1', '-1:2', '0:1.5', '0:1:2', 'a:b', '', '99999999999999999:1']) {
      assert.match(
        usageMessage(() => parsePosition('herald dlq show', value)),
        /^expected <partition>:<offset> such as 0:42, got "/,
        value,
      );
    }
  });
});

describe('parseTopicPosition', () => {
  it('reads <topic>:<partition>:<offset>, the topic being everything before the last two numbers', () => {
    assert.deepEqual(parseTopicPosition('herald groups reset', '--to-offset', 'orders:1:7'), {
      topic: 'orders',
      partition: 1,
      offset: 7,
    });
    assert.deepEqual(parseTopicPosition('herald groups reset', '--to-offset', 'orders.dead-letter:0:0'), {
      topic: 'orders.dead-letter',
      partition: 0,
      offset: 0,
    });
  });

  it('refuses a value without topic, partition and offset', () => {
    for (const value of ['orders:1', ':1:2', 'orders:x:1', 'orders:1:-1', '1:2']) {
      assert.match(
        usageMessage(() => parseTopicPosition('herald groups reset', '--to-offset', value)),
        /^--to-offset takes <topic>:<partition>:<offset> such as orders:0:42, got "/,
        value,
      );
    }
  });
});

describe('printable', () => {
  it('leaves ordinary text, including non-ASCII, untouched', () => {
    assert.equal(printable('orders/2@17 café ✓'), 'orders/2@17 café ✓');
  });

  it('escapes terminal control characters and line breaks', () => {
    assert.equal(printable('a\u001b[31mb\nc\u0000\u009b\u2028'), 'a\\x1b[31mb\\x0ac\\x00\\x9b\\u2028');
  });
});
