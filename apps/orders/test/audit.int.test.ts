// The guarantee auditor on the order system after faults: transient errors in inventory and
// payment (retried), then loyalty failing every call until its events are dead-lettered; once
// the system settled and stopped, `herald audit` runs as a real process for every consumer group
// on the system's SQLite file and finds no violation.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { AuditReport } from '@herald/core/ops';
import { deadLetterMetadataOf } from '@herald/core/ops';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import { TOPICS } from '@herald/orders-domain/events.ts';
import {
  apiOf,
  caughtUp,
  eventsOf,
  eventually,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';

/** The `herald` executable of the workspace's CLI package. */
const HERALD = fileURLToPath(new URL('../../../packages/cli/bin/herald.js', import.meta.url));

async function heraldAudit(
  logUrl: string,
  group: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HERALD_LOG: logUrl };
  delete env['HERALD_STORE'];
  const child = spawn(process.execPath, [HERALD, 'audit', group, '--json'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

const ALL_GROUPS = Object.values(GROUPS);

// The timeout guards against a hang: every wait below ends when the system settles.
void describe('herald audit on the order system after its faults', { timeout: 300_000 }, () => {
  void it('finds every event of every group handled or dead-lettered exactly once, keys in order', async () => {
    using folder = tempFolder();
    const system = await openTestSystem(folder, {
      faults: { inventory: { errorRate: 0.3 }, payment: { errorRate: 0.3 } },
    });
    let stopped = false;
    try {
      const app = apiOf(system);
      const orders: string[] = [];
      for (let i = 0; i < 6; i++) {
        const { orderId } = await placeOrder(app, {
          customerId: `audited-${i % 3}`,
          items: [{ sku: 'WIDGET', quantity: 1 }],
        });
        orders.push(orderId);
      }
      for (const orderId of orders) await settled(app, orderId, 120_000);

      // Loyalty fails every call: its retries run out and its events are dead-lettered.
      await system.faults.update('loyalty', { errorRate: 1 });
      const { orderId } = await placeOrder(app, {
        customerId: 'audited-dead-letter',
        items: [{ sku: 'WIDGET', quantity: 1 }],
      });
      await settled(app, orderId, 120_000);
      const deadLetterTopic = `${TOPICS.orders}.dead-letter`;
      await eventually(
        'a loyalty dead letter',
        async () =>
          (await system.log.listTopics()).some((t) => t.name === deadLetterTopic) &&
          (await eventsOf(system.log, deadLetterTopic)).some(
            (e) => deadLetterMetadataOf(e)?.group === GROUPS.loyalty,
          )
            ? true
            : undefined,
        120_000,
      );
      await system.faults.update('loyalty', { errorRate: 0 });
      await caughtUp(system.log, ALL_GROUPS, 120_000);
      await system.stop();
      stopped = true;

      const reports = new Map<string, AuditReport>();
      for (const group of ALL_GROUPS) {
        const result = await heraldAudit(folder.logUrl, group);
        assert.equal(result.stderr, '', `${group}: ${result.stderr}`);
        const report = JSON.parse(result.stdout) as AuditReport;
        assert.equal(result.status, 0, `${group}: ${JSON.stringify(report.firstViolations)}`);
        assert.equal(report.verdict, 'ok');
        assert.ok(report.checked > 0, `${group} checked nothing`);
        reports.set(group, report);
      }
      assert.ok((reports.get(GROUPS.loyalty)?.deadLettered ?? 0) >= 1, 'the loyalty dead letter is counted');
    } finally {
      if (!stopped) await system.stop();
    }
  });
});
