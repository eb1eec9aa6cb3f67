import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openEventLog } from '@herald/core';
import type { CloudEvent, EventLog, StoredEvent } from '@herald/core';
import type { RedriveOutcome, RedriveRecord } from '@herald/core/ops';
import { UsageError } from '../src/arguments.ts';
import {
  formatDeadLetterRows,
  formatDiscardOutcome,
  formatEntry,
  formatOutcome,
  parseDiscardArguments,
  parseRedriveArguments,
} from '../src/dlq-command.ts';
import { runHerald, uniqueName } from './run-herald.ts';

const encoder = new TextEncoder();
const DLQ = 'orders.dead-letter';

/** What `deadLetter()` parks: the original event plus dl* failure metadata. */
function parked(id: string, originalOffset: number, extra: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source: '/checkout',
    type: 'dev.herald.orders.order-placed.v1',
    partitionkey: `key-${id}`,
    datacontenttype: 'application/json',
    data: encoder.encode(`{"order":"${id}"}`),
    ...extra,
    extensions: {
      tenant: 'acme',
      dlerror: `tax service rejects ${id}`,
      dlcode: 'Error',
      dlattempts: '5',
      dlgroup: 'billing.invoices',
      dltopic: 'orders',
      dlpartition: '0',
      dloffset: String(originalOffset),
      dlfirstfailure: '2025-01-31T12:00:00.000Z',
      dllastfailure: '2025-01-31T12:00:03.000Z',
      ...extra.extensions,
    },
  };
}

/** A memory log with `orders` and `orders.dead-letter` (one partition each) holding two entries. */
async function logWithDeadLetters(): Promise<{ url: string; log: EventLog }> {
  const url = `memory:${uniqueName()}`;
  const log = await openEventLog(url);
  await log.createTopic('orders', { partitions: 1 });
  await log.createTopic(DLQ, { partitions: 1 });
  await log.createTopic('payments', { partitions: 1 });
  await log.append('payments', {
    specversion: '1.0',
    id: 'p-1',
    source: '/pay',
    type: 'dev.herald.payments.paid.v1',
  });
  await log.append(DLQ, parked('order-1', 3));
  await log.append(
    DLQ,
    parked('order-2', 4, { datacontenttype: 'application/octet-stream', data: new Uint8Array([0xff, 0x00]) }),
  );
  return { url, log };
}

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a UsageError');
}

describe('parseRedriveArguments', () => {
  it('reads positions and options', () => {
    assert.deepEqual(
      parseRedriveArguments([
        DLQ,
        '0:3',
        '1:7',
        '--max-redrives',
        '5',
        '--dry-run',
        '--again',
        '--actor',
        'alice',
        '--idempotency-key',
        'ticket-9',
        '--best-effort',
        '--json',
      ]),
      {
        topic: DLQ,
        positions: [
          { partition: 0, offset: 3 },
          { partition: 1, offset: 7 },
        ],
        again: true,
        maxRedrives: 5,
        dryRun: true,
        yes: false,
        force: false,
        bestEffort: true,
        json: true,
        actor: 'alice',
        idempotencyKey: 'ticket-9',
      },
    );
  });

  it('takes --all instead of positions, with the default cap of 3', () => {
    assert.deepEqual(parseRedriveArguments([DLQ, '--all', '--yes']), {
      topic: DLQ,
      positions: 'all',
      again: false,
      maxRedrives: 3,
      dryRun: false,
      yes: true,
      force: false,
      bestEffort: false,
      json: false,
    });
  });

  it('returns undefined for --help', () => {
    assert.equal(parseRedriveArguments(['--help']), undefined);
  });

  it('refuses command lines that say too little or too much', () => {
    for (const [args, message] of [
      [[], /^missing <dlq-topic>$/],
      [[DLQ], /^missing <partition>:<offset> \(or --all/],
      [[DLQ, '0:1', '--all'], /either <partition>:<offset> positions or --all, not both/],
      [[DLQ, '--all', '--again'], /--again needs positions/],
      [[DLQ, '0-1'], /expected <partition>:<offset> such as 0:42, got "0-1"/],
      [[DLQ, '0:1', '--max-redrives', '0'], /--max-redrives must be a positive integer/],
      [[DLQ, '0:1', '--actor', ' '], /--actor must not be empty/],
      [[DLQ, '0:1', '--idempotency-key', ''], /--idempotency-key must not be empty/],
    ] as const) {
      assert.match(
        usageMessage(() => parseRedriveArguments(args)),
        message,
        args.join(' '),
      );
    }
  });
});

describe('parseDiscardArguments', () => {
  it('reads positions, a reason and the options', () => {
    assert.deepEqual(
      parseDiscardArguments([DLQ, '0:3', '1:7', '--reason', 'refunded by hand', '--dry-run', '--json']),
      {
        topic: DLQ,
        positions: [
          { partition: 0, offset: 3 },
          { partition: 1, offset: 7 },
        ],
        reason: 'refunded by hand',
        dryRun: true,
        json: true,
      },
    );
    assert.equal(parseDiscardArguments(['--help']), undefined);
  });

  it('refuses a discard without positions, and an empty reason', () => {
    assert.match(
      usageMessage(() => parseDiscardArguments([DLQ])),
      /missing <partition>:<offset>/,
    );
    assert.match(
      usageMessage(() => parseDiscardArguments([DLQ, '0:1', '--reason', ' '])),
      /--reason must not be empty/,
    );
    assert.match(
      usageMessage(() => parseDiscardArguments([DLQ, '--all'])),
      /--all/,
    );
  });

  it('says which key a discard released and how many events follow', () => {
    const base = { partition: 0, offset: 3, eventId: 'order-1', type: 't.v1', topic: 'orders' } as const;
    const released = {
      group: 'billing.invoices',
      topic: 'orders',
      partition: 0,
      key: 'customer-7',
      count: 2,
    };
    assert.equal(
      formatDiscardOutcome(DLQ, { ...base, status: 'discarded', released }),
      'discarded orders.dead-letter 0:3 (order-1); key customer-7 of group billing.invoices released, 2 parked events to handle in order',
    );
    assert.equal(
      formatDiscardOutcome(DLQ, { ...base, status: 'discarded' }),
      'discarded orders.dead-letter 0:3 (order-1)',
    );
    assert.equal(
      formatDiscardOutcome(DLQ, {
        ...base,
        status: 'duplicate',
        discarded: { at: '2026-01-01T00:00:00.000Z', actor: 'alice' },
      }),
      'already discarded orders.dead-letter 0:3 (order-1) at 2026-01-01T00:00:00.000Z by alice',
    );
  });
});

describe('herald dlq (memory log)', () => {
  it('lists dead-letter topics with their entries, and says when there are none', async () => {
    const { url, log } = await logWithDeadLetters();
    try {
      const table = await runHerald(['dlq', 'list'], { log: url });
      assert.deepEqual(table, {
        status: 0,
        stdout: 'TOPIC               ENTRIES  REDRIVEN\norders.dead-letter  2        -\n',
        stderr: '',
      });
      const json = await runHerald(['dlq', 'list', '--json'], { log: url });
      assert.deepEqual(JSON.parse(json.stdout), [{ topic: DLQ, entries: 2, redriven: null }]);
    } finally {
      await log.close();
    }
    assert.deepEqual(await runHerald(['dlq', 'list']), {
      status: 0,
      stdout: 'no dead-letter topics (topics named <topic>.dead-letter)\n',
      stderr: '',
    });
  });

  it('lists the entries of one topic with their failure', async () => {
    const { url, log } = await logWithDeadLetters();
    try {
      const table = await runHerald(['dlq', 'list', DLQ], { log: url });
      assert.equal(table.status, 0, table.stderr);
      const lines = table.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^POSITION +ID +TYPE +DLCODE +ATTEMPTS +REDRIVES +ERROR$/);
      assert.match(
        lines[1]!,
        /^0:0 +order-1 +dev\.herald\.orders\.order-placed\.v1 +Error +5 +- +tax service rejects order-1$/,
      );
      assert.match(lines[2]!, /^0:1 +order-2 /);
      const json = await runHerald(['dlq', 'list', DLQ, '--json'], { log: url });
      assert.deepEqual((JSON.parse(json.stdout) as unknown[])[0], {
        partition: 0,
        offset: 0,
        id: 'order-1',
        type: 'dev.herald.orders.order-placed.v1',
        code: 'Error',
        attempts: 5,
        error: 'tax service rejects order-1',
        redrives: null,
        discarded: null,
      });
    } finally {
      await log.close();
    }
  });

  it('shows one entry with its attributes, failure and data', async () => {
    const { url, log } = await logWithDeadLetters();
    try {
      const text = await runHerald(['dlq', 'show', DLQ, '0:0'], { log: url });
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /^entry +orders\.dead-letter 0:0\n/);
      assert.match(text.stdout, /\nid +order-1\n/);
      assert.match(text.stdout, /\ntenant +acme\n/);
      assert.match(text.stdout, /\nfailed in +group billing\.invoices, orders 0:3\n/);
      assert.match(text.stdout, /\ndlerror:\n {2}tax service rejects order-1\n/);
      assert.match(text.stdout, /\nredrives: unknown \(this log has no store\)\n/);
      assert.match(
        text.stdout,
        /\ndata \(19 bytes of application\/json, JSON\):\n {2}\{\n {4}"order": "order-1"\n {2}\}\n$/,
      );

      const binary = await runHerald(['dlq', 'show', DLQ, '0:1'], { log: url });
      assert.match(binary.stdout, /\ndata \(2 bytes of application\/octet-stream, base64\):\n {2}\/wA=\n$/);

      const json = JSON.parse(
        (await runHerald(['dlq', 'show', DLQ, '0:1', '--json'], { log: url })).stdout,
      ) as {
        event: Record<string, unknown>;
        deadLetter: Record<string, unknown>;
        redrive: unknown;
      };
      assert.equal(json.event['id'], 'order-2');
      assert.equal(json.event['data_base64'], '/wA=');
      assert.equal(json.deadLetter['topic'], 'orders');
      assert.equal(json.deadLetter['offset'], 4);
      assert.equal(json.redrive, null);
    } finally {
      await log.close();
    }
  });

  it('refuses to redrive without a store unless asked for best effort, appending nothing', async () => {
    const { url, log } = await logWithDeadLetters();
    try {
      const result = await runHerald(['dlq', 'redrive', DLQ, '0:0'], { log: url });
      assert.equal(result.status, 2);
      assert.equal(result.stdout, '');
      assert.match(
        result.stderr,
        /^herald: HERALD_LOG=memory:\S+ has no store to count, cap, deduplicate and audit redrives: set HERALD_STORE .*, or add --best-effort to redrive without one/,
      );
      assert.deepEqual(await log.read('orders', { partition: 0, from: 'earliest' }), []);
      const dryRun = await runHerald(['dlq', 'redrive', DLQ, '0:0', '--dry-run'], { log: url });
      assert.equal(dryRun.status, 0, dryRun.stderr);
      assert.match(dryRun.stdout, /^would redrive orders\.dead-letter 0:0/);
    } finally {
      await log.close();
    }
  });

  it('redrives best effort without a store when asked, warning that nothing is counted or deduplicated', async () => {
    const { url, log } = await logWithDeadLetters();
    try {
      const result = await runHerald(['dlq', 'redrive', DLQ, '0:0', '--best-effort'], { log: url });
      assert.equal(result.status, 0, result.stderr);
      assert.match(
        result.stderr,
        /^herald: warning: HERALD_LOG=memory:\S+ has no store: this redrive is best effort/,
      );
      assert.equal(
        result.stdout,
        'redriven orders.dead-letter 0:0 (order-1) to orders partition 0 offset 0 (dlredrive=1)\n',
      );
      const [again] = await log.read('orders', { partition: 0, from: 'earliest' });
      assert.equal(again?.id, 'order-1');
      assert.deepEqual(again?.extensions, { tenant: 'acme', dlredrive: '1' });
    } finally {
      await log.close();
    }
  });

  it('fails with status 1 for an unknown topic or a position without an entry', async () => {
    const { url, log } = await logWithDeadLetters();
    try {
      const unknown = await runHerald(['dlq', 'show', 'nope.dead-letter', '0:0'], { log: url });
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /^herald: topic "nope\.dead-letter" does not exist/);
      const missing = await runHerald(['dlq', 'show', DLQ, '0:9'], { log: url });
      assert.deepEqual(missing, {
        status: 1,
        stdout: '',
        stderr: 'herald: orders.dead-letter has no entry at 0:9\n',
      });
      const notDead = await runHerald(['dlq', 'redrive', 'payments', '0:0', '--best-effort'], { log: url });
      assert.equal(notDead.status, 1);
      assert.match(
        notDead.stderr,
        /\nherald: payments 0:0 \(event p-1\) is not a dead-letter entry: it has no dltopic attribute\n$/,
      );
    } finally {
      await log.close();
    }
  });

  it('refuses a wrong command line with status 2 before opening the log', async () => {
    for (const [argv, message] of [
      [['dlq'], `herald: missing subcommand: list, show, redrive or discard (see 'herald dlq --help')\n`],
      [
        ['dlq', 'purge'],
        `herald: unknown subcommand "purge": expected list, show, redrive or discard (see 'herald dlq --help')\n`,
      ],
      [['dlq', 'show', DLQ], `herald: missing <partition>:<offset> (see 'herald dlq show --help')\n`],
      [['dlq', 'list', 'a', 'b'], `herald: unexpected argument "b" (see 'herald dlq list --help')\n`],
      [
        ['dlq', 'redrive', DLQ],
        `herald: missing <partition>:<offset> (or --all for every entry never redriven) (see 'herald dlq redrive --help')\n`,
      ],
    ] as const) {
      assert.deepEqual(
        await runHerald(argv, { log: 'bogus://x' }),
        { status: 2, stdout: '', stderr: message },
        argv.join(' '),
      );
    }
  });
});

describe('formatting', () => {
  const stored = (event: CloudEvent, offset: number): StoredEvent => ({
    ...event,
    topic: DLQ,
    partition: 0,
    offset,
    timestamp: Date.parse('2025-01-31T12:00:04Z'),
  });

  it('cuts long errors in the entry table and escapes control characters', () => {
    const table = formatDeadLetterRows([
      {
        partition: 0,
        offset: 1,
        id: 'x\u001b[31m',
        type: 't',
        code: undefined,
        attempts: undefined,
        error: `${'e'.repeat(100)}\nmore`,
        redrives: 2,
      },
    ]);
    const row = table.split('\n')[1]!;
    assert.ok(row.includes('x\\x1b[31m'), row);
    assert.match(row, / - +- +2 +e{59}…$/);
  });

  it('shows the redrive history of an entry from its record', () => {
    const record: RedriveRecord = {
      deadLetterTopic: DLQ,
      partition: 0,
      offset: 0,
      eventId: 'order-1',
      topic: 'orders',
      count: 1,
      redrives: [
        {
          n: 1,
          idempotencyKey: `${DLQ}/0/0/0`,
          at: '2025-02-01T09:00:00.000Z',
          actor: 'alice@ops',
          appended: { topic: 'orders', partition: 0, offset: 12 },
        },
      ],
    };
    const text = formatEntry(
      stored(parked('order-1', 3, { extensions: { dlredrive: '1' } }), 0),
      record,
      true,
    );
    assert.match(text, /\nredriven before +dlredrive=1 when parked\n/);
    assert.match(text, /\nredrives: 1\n {2}#1 +2025-02-01T09:00:00\.000Z +by alice@ops +to orders 0:12\n/);
    assert.doesNotMatch(text, /\ndlredrive /, 'dl* attributes are listed as attributes');
    assert.match(formatEntry(stored(parked('order-1', 3), 0), undefined, true), /\nredrives: none\n/);
  });

  it('words each outcome of a redrive', () => {
    const base = {
      partition: 0,
      offset: 4,
      eventId: 'order-1',
      type: 't',
      topic: 'orders',
      idempotencyKey: 'k',
    };
    const appended = { topic: 'orders', partition: 2, offset: 9 };
    const cases: [RedriveOutcome, string][] = [
      [
        { ...base, status: 'redriven', count: 1, appended },
        'redriven orders.dead-letter 0:4 (order-1) to orders partition 2 offset 9 (redrive 1 of at most 3)',
      ],
      [
        { ...base, status: 'planned', count: 2 },
        'would redrive orders.dead-letter 0:4 (order-1) to orders (redrive 2 of at most 3)',
      ],
      [
        { ...base, status: 'duplicate', count: 1, appended },
        'already redriven orders.dead-letter 0:4 (order-1) to orders partition 2 offset 9 by the same request before (redrive 1 of at most 3); --again redrives it once more',
      ],
      [
        { ...base, status: 'refused', count: 3, reason: 'it reached the redrive cap (3 of 3)' },
        'refused orders.dead-letter 0:4 (order-1): it reached the redrive cap (3 of 3)',
      ],
    ];
    for (const [outcome, line] of cases) assert.equal(formatOutcome(DLQ, outcome, 3, true), line);
  });
});
