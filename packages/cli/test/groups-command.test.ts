import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openEventLog } from '@herald/core';
import type { GroupDescription } from '@herald/core';
import { formatParkedKeys } from '../src/groups-command.ts';
import { runHerald, uniqueName } from './run-herald.ts';

/** A log with topic `orders` (2 partitions, 3 events in partition 0) and group `billing.invoices` that committed 2 of them. */
async function logWithGroup(): Promise<{ url: string; close: () => Promise<void>; memberId: string }> {
  const url = `memory:${uniqueName()}`;
  const log = await openEventLog(url);
  await log.createTopic('orders', { partitions: 2 });
  for (let i = 0; i < 3; i++) {
    await log.append(
      'orders',
      { specversion: '1.0', id: `e-${i}`, source: '/t', type: 't.v1' },
      { partition: 0 },
    );
  }
  const subscription = await log.subscribe({ group: 'billing.invoices', topics: ['orders'] });
  let seen = 0;
  for await (const event of subscription) {
    seen += 1;
    if (seen === 2) {
      await subscription.commit(event);
      break;
    }
  }
  return { url, memberId: subscription.memberId, close: () => log.close() };
}

describe('herald groups', () => {
  it('lists groups with their members and total lag', async () => {
    const { url, close } = await logWithGroup();
    try {
      const table = await runHerald(['groups'], { log: url });
      assert.equal(table.status, 0, table.stderr);
      assert.equal(table.stdout, 'GROUP             MEMBERS  LAG\nbilling.invoices  1        1\n');
      const json = await runHerald(['groups', '--json'], { log: url });
      assert.deepEqual(JSON.parse(json.stdout), [{ group: 'billing.invoices', members: 1, lag: 1 }]);
    } finally {
      await close();
    }
  });

  it('describes members and, per partition, committed offset, latest and lag', async () => {
    const { url, close, memberId } = await logWithGroup();
    try {
      const json = await runHerald(['groups', 'billing.invoices', '--json'], { log: url });
      assert.equal(json.status, 0, json.stderr);
      const description = JSON.parse(json.stdout) as GroupDescription;
      assert.equal(description.group, 'billing.invoices');
      assert.deepEqual(
        description.members.map((m) => [m.memberId, m.partitions.length]),
        [[memberId, 2]],
      );
      const p0 = description.partitions.find((p) => p.topic === 'orders' && p.partition === 0);
      assert.deepEqual(p0, { topic: 'orders', partition: 0, committed: 2, latest: 3, lag: 1 });

      const table = await runHerald(['groups', 'billing.invoices'], { log: url });
      assert.equal(table.status, 0);
      assert.match(table.stdout, /^group +billing\.invoices\n\nMEMBER +CLIENT +LAST HEARTBEAT +PARTITIONS\n/);
      assert.ok(table.stdout.includes(memberId));
      assert.match(table.stdout, /orders\/0,orders\/1/);
      assert.match(table.stdout, /\nTOPIC +PARTITION +COMMITTED +LATEST +LAG\norders +0 +2 +3 +1\n/);
    } finally {
      await close();
    }
  });

  it('says when there are no groups', async () => {
    assert.deepEqual(await runHerald(['groups']), { status: 0, stdout: 'no consumer groups\n', stderr: '' });
    assert.deepEqual(await runHerald(['groups', '--json']), { status: 0, stdout: '[]\n', stderr: '' });
  });

  it('fails with status 1 for an unknown group', async () => {
    const result = await runHerald(['groups', 'nobody']);
    assert.deepEqual(result, {
      status: 1,
      stdout: '',
      stderr: `herald: no consumer group "nobody" (see 'herald groups')\n`,
    });
  });

  it('takes at most one group', async () => {
    const result = await runHerald(['groups', 'a', 'b']);
    assert.equal(result.status, 2);
    assert.equal(result.stderr, `herald: unexpected argument "b" (see 'herald groups --help')\n`);
  });
});

describe('formatParkedKeys', () => {
  it('lists each parked key with its dead letter and the events waiting, or says there is none', () => {
    assert.equal(formatParkedKeys([]), 'no parked keys');
    assert.equal(formatParkedKeys(null), 'parked keys: unknown (no store)');
    const text = formatParkedKeys([
      {
        group: 'billing.invoices',
        topic: 'orders',
        partition: 1,
        key: 'customer-7',
        eventId: 'order-1',
        offset: 4,
        deadLetter: { topic: 'orders.dead-letter', partition: 1, offset: 0 },
        parkedAt: '2026-12-07T10:00:00.000Z',
        count: 3,
      },
      {
        group: 'billing.invoices',
        topic: 'orders',
        partition: 0,
        key: 'customer-9',
        eventId: 'order-5',
        offset: 9,
        deadLetter: null,
        parkedAt: '2026-12-07T10:01:00.000Z',
        count: 1,
        released: { by: 'discard', at: '2026-12-07T11:00:00.000Z', actor: 'alice' },
      },
    ]);
    assert.match(text, /^parked keys: 2, 4 events waiting\n/);
    assert.match(
      text,
      /\norders +1 +customer-7 +3 +order-1 at orders\.dead-letter 1:0 +2026-12-07T10:00:00\.000Z +parked\n/,
    );
    assert.match(
      text,
      /\norders +0 +customer-9 +1 +order-5 +2026-12-07T10:01:00\.000Z +releasing \(discard\)$/,
    );
  });
});
