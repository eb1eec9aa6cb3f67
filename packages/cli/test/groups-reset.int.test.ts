import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { AUDIT_COLLECTION } from '@herald/core/ops';
import type { CloudEvent, GroupDescription, GroupResetPlan } from '@herald/core';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { run } from '../src/main.ts';
import { spawnHerald, tempDatabase } from './spawn-herald.ts';

// `herald groups reset` as a real process on a real SQLite file.

const GROUP = 'billing.invoices';

const event = (n: number): CloudEvent => ({
  specversion: '1.0',
  id: `order-${n}`,
  source: '/checkout',
  type: 'dev.herald.orders.order-placed.v1',
});

/**
 * `orders` with two partitions of three events each (the third of each appended after
 * `middle`), fully committed by GROUP.
 */
async function committedGroup(path: string): Promise<{ middle: number }> {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  await log.createTopic('orders', { partitions: 2 });
  for (let n = 0; n < 4; n++) await log.append('orders', event(n), { partition: n % 2 });
  await delay(20);
  const middle = Date.now();
  await delay(5);
  for (let n = 4; n < 6; n++) await log.append('orders', event(n), { partition: n % 2 });
  const subscription = await log.subscribe({ group: GROUP, topics: ['orders'] });
  let seen = 0;
  for await (const received of subscription) {
    await subscription.commit(received);
    if (++seen === 6) break;
  }
  await subscription.close();
  return { middle };
}

interface ResetJson {
  readonly group: string;
  readonly dryRun: boolean;
  readonly liveMembers: number;
  readonly plan: GroupResetPlan[];
}

async function reset(url: string, ...args: string[]): Promise<ResetJson> {
  const result = await spawnHerald(['groups', 'reset', GROUP, ...args, '--yes', '--json'], url);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  return JSON.parse(result.stdout) as ResetJson;
}

async function committed(url: string): Promise<(number | null)[]> {
  const result = await spawnHerald(['groups', GROUP, '--json'], url);
  const description = JSON.parse(result.stdout) as GroupDescription;
  return description.partitions
    .filter((p) => p.topic === 'orders')
    .sort((a, b) => a.partition - b.partition)
    .map((p) => p.committed);
}

const moves = (plan: readonly GroupResetPlan[]) => plan.map((p) => [p.partition, p.from, p.to]);

// The timeout guards against a hang, not against a slow machine: every step is a `herald`
// process that exits by itself, and a busy CI host may take minutes for all of them.
describe('herald groups reset (real process, SQLite file)', { timeout: 600_000 }, () => {
  it('refuses to reset without --yes when no terminal is there to ask, and changes nothing', async () => {
    using db = tempDatabase();
    await committedGroup(db.path);
    const refused = await spawnHerald(['groups', 'reset', GROUP, '--to-earliest'], db.url);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /needs confirming: add --yes/);
    assert.deepEqual(await committed(db.url), [3, 3]);
  });

  it('asks at a terminal: no changes nothing, yes resets', async () => {
    using db = tempDatabase();
    await committedGroup(db.path);
    const asked: string[] = [];
    const answering = (answer: boolean) => ({
      stdout: () => undefined,
      stderr: () => undefined,
      env: { HERALD_LOG: db.url },
      confirm: (question: string) => {
        asked.push(question);
        return Promise.resolve(answer);
      },
    });
    assert.equal(await run(['groups', 'reset', GROUP, '--to-earliest'], answering(false)), 1);
    assert.deepEqual(await committed(db.url), [3, 3], 'a no changed something');
    assert.equal(await run(['groups', 'reset', GROUP, '--to-earliest'], answering(true)), 0);
    assert.deepEqual(await committed(db.url), [0, 0]);
    assert.deepEqual(asked, Array(2).fill(`reset the committed positions of group "${GROUP}"? [y/N] `));
  });

  it('prints the plan of a dry run and changes nothing', async () => {
    using db = tempDatabase();
    await committedGroup(db.path);
    const plan = await reset(db.url, '--to-earliest', '--dry-run');
    assert.deepEqual(
      { ...plan, plan: moves(plan.plan) },
      {
        group: GROUP,
        dryRun: true,
        liveMembers: 0,
        plan: [
          [0, 3, 0],
          [1, 3, 0],
        ],
      },
    );
    assert.deepEqual(await committed(db.url), [3, 3]);
    const text = await spawnHerald(['groups', 'reset', GROUP, '--to-earliest', '--dry-run'], db.url);
    assert.equal(
      text.stdout,
      [
        `dry run: group "${GROUP}" would move as follows (nothing was changed)`,
        'TOPIC   PARTITION  FROM  TO',
        'orders  0          3     0',
        'orders  1          3     0',
        'events between TO and FROM are read again as a replay: declared effects would not be performed a second time',
        '',
      ].join('\n'),
    );
  });

  it('moves the group to exact offsets, a time, the end or the beginning, and audits each reset', async () => {
    using db = tempDatabase();
    const { middle } = await committedGroup(db.path);

    assert.deepEqual(moves((await reset(db.url, '--to-offset', 'orders:0:1')).plan), [[0, 3, 1]]);
    assert.deepEqual(await committed(db.url), [1, 3], 'the other partition moved');
    const description = JSON.parse(
      (await spawnHerald(['groups', GROUP, '--json'], db.url)).stdout,
    ) as GroupDescription;
    assert.equal(description.partitions.find((p) => p.partition === 0)?.replayUntil, 3);

    const atTime = await reset(db.url, '--to-time', new Date(middle).toISOString());
    assert.deepEqual(moves(atTime.plan), [
      [0, 1, 2],
      [1, 3, 2],
    ]);
    assert.deepEqual(moves((await reset(db.url, '--to-latest', '--topic', 'orders')).plan), [
      [0, 2, 3],
      [1, 2, 3],
    ]);
    assert.deepEqual(moves((await reset(db.url, '--to-time', '1h')).plan), [
      [0, 3, 0],
      [1, 3, 0],
    ]);
    assert.deepEqual(await committed(db.url), [0, 0]);

    const text = await spawnHerald(['groups', 'reset', GROUP, '--to-offset', 'orders:1:2', '--yes'], db.url);
    assert.equal(text.status, 0, text.stderr);
    assert.match(
      text.stdout,
      /^reset group "billing\.invoices":\nTOPIC +PARTITION +FROM +TO\norders +1 +0 +2\n$/,
    );

    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    const audit = (
      await store.list<{ action: string; group: string; actor: string; plan: GroupResetPlan[] }>(
        AUDIT_COLLECTION,
      )
    ).map((d) => d.value);
    assert.deepEqual(
      audit.map((a) => [a.action, a.group, a.plan.length]),
      [
        ['groups.reset', GROUP, 1],
        ['groups.reset', GROUP, 2],
        ['groups.reset', GROUP, 2],
        ['groups.reset', GROUP, 2],
        ['groups.reset', GROUP, 1],
      ],
    );
    assert.ok(audit.every((a) => a.actor.includes('@')));
  });

  it('is refused with a clear message while the group has a live member, and works once it left', async () => {
    using db = tempDatabase();
    await committedGroup(db.path);
    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const member = await log.subscribe({ group: GROUP, topics: ['orders'] });

    const refused = await spawnHerald(['groups', 'reset', GROUP, '--to-earliest', '--yes'], db.url);
    assert.equal(refused.status, 1);
    assert.equal(refused.stdout, '');
    assert.match(
      refused.stderr,
      /^herald: cannot reset group "billing\.invoices" while it has live members: .*1 live member.*\(see 'herald groups billing\.invoices'\)\n$/,
    );
    assert.deepEqual(await committed(db.url), [3, 3]);

    const dryRun = await spawnHerald(['groups', 'reset', GROUP, '--to-earliest', '--dry-run'], db.url);
    assert.equal(dryRun.status, 0, dryRun.stderr);
    assert.match(
      dryRun.stdout,
      /\nnote: the group has 1 live member; a real reset is refused until it stops\n$/,
    );

    await member.close();
    assert.deepEqual(moves((await reset(db.url, '--to-earliest')).plan), [
      [0, 3, 0],
      [1, 3, 0],
    ]);
  });

  it('says what is wrong with a group, a partition or a backend that cannot reset', async () => {
    using db = tempDatabase();
    await committedGroup(db.path);
    const cases: [readonly string[], string, RegExp][] = [
      [
        ['groups', 'reset', 'nobody', '--to-earliest', '--yes'],
        db.url,
        /^herald: group "nobody" has no committed positions \(see 'herald groups'\); name the topics to reset with --topic\n$/,
      ],
      [
        ['groups', 'reset', GROUP, '--to-offset', 'orders:5:0', '--yes'],
        db.url,
        /^herald: topic "orders" has no partition 5 \(it has 2\)\n$/,
      ],
      [
        ['groups', 'reset', GROUP, '--to-offset', 'orders:0:99', '--yes'],
        db.url,
        /^herald: orders\/0 has no offset 99: positions are integers from 0 to 3\n$/,
      ],
      [
        ['groups', 'reset', GROUP, '--to-latest', '--yes'],
        'memory:elsewhere',
        /^herald: the log at HERALD_LOG=memory:elsewhere cannot reset consumer groups: its backend has no resetGroup\n$/,
      ],
    ];
    for (const [args, url, message] of cases) {
      const result = await spawnHerald(args, url);
      assert.equal(result.status, 1, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message);
    }
    assert.deepEqual(await committed(db.url), [3, 3]);
  });
});
