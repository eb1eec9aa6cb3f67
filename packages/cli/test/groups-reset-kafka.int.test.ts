// `herald groups reset` as a real process on a real Kafka broker (HERALD_TEST_KAFKA, default
// 127.0.0.1:19092), auditing into a Postgres HERALD_STORE (HERALD_TEST_POSTGRES, default
// postgres://postgres@127.0.0.1:5432/test); the test fails when one is missing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { openEventLog, openStore } from '@herald/core';
import type { CloudEvent, GroupDescription, GroupResetPlan } from '@herald/core';
import { AUDIT_COLLECTION } from '@herald/core/ops';
import { collect } from '@herald/testing';
import pg from 'pg';
import { spawnHerald } from './spawn-herald.ts';
import { deleteNamespace as deleteKafkaNamespace } from '../../kafka/test/kafka-test-broker.ts';

const KAFKA = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092').split(',')[0];
const TEST_POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const GROUP = 'billing.invoices';

const event = (n: number): CloudEvent => ({
  specversion: '1.0',
  id: `order-${n}`,
  source: '/checkout',
  type: 'dev.herald.orders.order-placed.v1',
});

interface ResetJson {
  readonly plan: GroupResetPlan[];
}

describe('herald groups reset (real process, Kafka)', { timeout: 600_000 }, () => {
  it('is refused while the group has a member, then rewinds it as a replay and audits the reset', async () => {
    const id = `cli${randomBytes(4).toString('hex')}`;
    const url = `kafka://${KAFKA}?namespace=${id}.`;
    const storeUrl = `${TEST_POSTGRES}${TEST_POSTGRES.includes('?') ? '&' : '?'}schema=${id}`;
    const env = { HERALD_STORE: storeUrl };
    const log = await openEventLog(url);
    try {
      await log.createTopic('orders', { partitions: 2 });
      for (let n = 0; n < 6; n++) await log.append('orders', event(n), { partition: n % 2 });
      const member = await log.subscribe({ group: GROUP, topics: ['orders'] });
      for (const received of await collect(member, 6, 60_000)) await member.commit(received);

      const refused = await spawnHerald(['groups', 'reset', GROUP, '--to-earliest', '--yes'], url, env);
      assert.equal(refused.status, 1);
      assert.match(
        refused.stderr,
        /^herald: cannot reset group "billing\.invoices" while it has live members: .*1 live member.*\n$/,
      );
      const dryRun = await spawnHerald(['groups', 'reset', GROUP, '--to-earliest', '--dry-run'], url, env);
      assert.equal(dryRun.status, 0, dryRun.stderr);
      assert.match(
        dryRun.stdout,
        /note: the group has 1 live member; a real reset is refused until it stops\n$/,
      );
      await member.close();

      const reset = await spawnHerald(
        ['groups', 'reset', GROUP, '--to-earliest', '--yes', '--json'],
        url,
        env,
      );
      assert.equal(reset.status, 0, reset.stderr);
      assert.deepEqual(
        (JSON.parse(reset.stdout) as ResetJson).plan.map((p) => [p.partition, p.from, p.to]),
        [
          [0, 3, 0],
          [1, 3, 0],
        ],
      );
      const shown = await spawnHerald(['groups', GROUP, '--json'], url);
      assert.equal(shown.status, 0, shown.stderr);
      assert.deepEqual(
        (JSON.parse(shown.stdout) as GroupDescription).partitions.map((p) => [p.committed, p.replayUntil]),
        [
          [0, 3],
          [0, 3],
        ],
      );

      const toOffset = await spawnHerald(
        ['groups', 'reset', GROUP, '--to-offset', 'orders:1:2', '--yes', '--json'],
        url,
        env,
      );
      assert.equal(toOffset.status, 0, toOffset.stderr);
      assert.deepEqual(
        (JSON.parse(toOffset.stdout) as ResetJson).plan.map((p) => [p.partition, p.from, p.to]),
        [[1, 0, 2]],
      );

      await using store = await openStore(storeUrl, { log });
      const audit = await store.list<{ action: string; group: string; plan: GroupResetPlan[] }>(
        AUDIT_COLLECTION,
      );
      assert.deepEqual(audit.map(({ value }) => [value.action, value.group, value.plan.length]).sort(), [
        ['groups.reset', GROUP, 1],
        ['groups.reset', GROUP, 2],
      ]);
    } finally {
      await log.close();
      const pool = new pg.Pool({ connectionString: TEST_POSTGRES, max: 1 });
      await pool.query(`DROP SCHEMA IF EXISTS "${id}" CASCADE`);
      await pool.end();
      await deleteKafkaNamespace(`${id}.`);
    }
  });
});
