import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../src/arguments.ts';
import { formatResetPlan, parseGroupsResetArguments } from '../src/groups-reset-command.ts';
import { runHerald } from './run-herald.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a UsageError');
}

describe('parseGroupsResetArguments', () => {
  it('reads each kind of target', () => {
    assert.deepEqual(parseGroupsResetArguments(['billing', '--to-earliest'], NOW), {
      group: 'billing',
      to: 'earliest',
      dryRun: false,
      yes: false,
      json: false,
    });
    assert.deepEqual(parseGroupsResetArguments(['billing', '--to-latest', '--dry-run', '--json'], NOW), {
      group: 'billing',
      to: 'latest',
      dryRun: true,
      yes: false,
      json: true,
    });
    assert.deepEqual(parseGroupsResetArguments(['billing', '--to-time', '2h'], NOW)?.to, {
      timestamp: NOW - 7_200_000,
    });
    assert.deepEqual(parseGroupsResetArguments(['billing', '--to-time', '2025-01-31T00:00:00Z'], NOW)?.to, {
      timestamp: Date.parse('2025-01-31T00:00:00Z'),
    });
  });

  it('takes several --to-offset values and resets only the topics they name', () => {
    assert.deepEqual(
      parseGroupsResetArguments(['billing', '--to-offset', 'orders:0:5', '--to-offset', 'orders:1:0'], NOW),
      {
        group: 'billing',
        to: {
          offsets: [
            { topic: 'orders', partition: 0, offset: 5 },
            { topic: 'orders', partition: 1, offset: 0 },
          ],
        },
        topics: ['orders'],
        dryRun: false,
        yes: false,
        json: false,
      },
    );
  });

  it('limits the reset to --topic values', () => {
    assert.deepEqual(
      parseGroupsResetArguments(['billing', '--to-earliest', '--topic', 'orders', '--topic', 'refunds'], NOW)
        ?.topics,
      ['orders', 'refunds'],
    );
  });

  it('returns undefined for --help', () => {
    assert.equal(parseGroupsResetArguments(['--help'], NOW), undefined);
  });

  it('refuses a missing or doubled target and inconsistent options', () => {
    for (const [args, message] of [
      [[], /^missing <group>$/],
      [['billing'], /^missing target: --to-earliest, --to-latest, --to-time or --to-offset$/],
      [
        ['billing', '--to-earliest', '--to-time', '1h'],
        /^choose one target, not --to-earliest and --to-time$/,
      ],
      [['billing', '--to-time', 'soon'], /^--to-time must be an ISO timestamp/],
      [['billing', '--to-offset', 'orders:1'], /^--to-offset takes <topic>:<partition>:<offset>/],
      [['billing', '--to-offset', 'orders:1:1', '--to-offset', 'orders:1:2'], /names orders:1 twice/],
      [
        ['billing', '--to-offset', 'orders:1:1', '--topic', 'refunds'],
        /--to-offset names topic "orders", which --topic leaves out/,
      ],
      [['billing', 'other', '--to-latest'], /^unexpected argument "other"$/],
    ] as const) {
      assert.match(
        usageMessage(() => parseGroupsResetArguments(args, NOW)),
        message,
        args.join(' '),
      );
    }
  });
});

describe('formatResetPlan', () => {
  const plan = [
    { topic: 'orders', partition: 0, from: 7, to: 2 },
    { topic: 'orders', partition: 1, from: null, to: 0 },
  ];

  it('prints where each partition was and where it will start, and that going back is a replay', () => {
    assert.equal(
      formatResetPlan('billing', plan, false),
      [
        'reset group "billing":',
        'TOPIC   PARTITION  FROM  TO',
        'orders  0          7     2',
        'orders  1          -     0',
        'events between TO and FROM are read again as a replay: declared effects are not performed a second time',
      ].join('\n'),
    );
  });

  it('says a dry run changed nothing', () => {
    assert.match(
      formatResetPlan('billing', plan, true),
      /^dry run: group "billing" would move as follows \(nothing was changed\)\n/,
    );
    assert.equal(
      formatResetPlan('billing', [{ topic: 'orders', partition: 0, from: 1, to: 5 }], true).includes(
        'replay',
      ),
      false,
    );
    assert.equal(formatResetPlan('billing', [], true), 'dry run: nothing to reset in group "billing"');
  });
});

describe('herald groups reset (memory log)', () => {
  it('says clearly that a backend without resetGroup cannot reset groups', async () => {
    const result = await runHerald(['groups', 'reset', 'billing', '--to-earliest', '--yes']);
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^herald: the log at HERALD_LOG=memory:\S+ cannot reset consumer groups: its backend has no resetGroup\n$/,
    );
  });

  it('checks the command line before opening the log', async () => {
    const result = await runHerald(['groups', 'reset', 'billing'], { log: 'bogus://x' });
    assert.deepEqual(result, {
      status: 2,
      stdout: '',
      stderr: `herald: missing target: --to-earliest, --to-latest, --to-time or --to-offset (see 'herald groups reset --help')\n`,
    });
  });

  it('still describes a group named "reset" after --', async () => {
    const result = await runHerald(['groups', '--', 'reset']);
    assert.deepEqual(result, {
      status: 1,
      stdout: '',
      stderr: `herald: no consumer group "reset" (see 'herald groups')\n`,
    });
  });
});
