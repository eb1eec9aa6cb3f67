import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { makeEvent } from '@herald/testing';
import { startAuditMetrics } from '../src/audit-metrics.ts';
import { openMemoryLog } from '../src/memory-log.ts';
import { inboxOnlyStore } from './fixtures/inbox-only-store.ts';

void describe('startAuditMetrics', () => {
  void it('exports the violations and the events checked of each group by its last audit', async () => {
    await using log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    for (let i = 0; i < 3; i++) await log.append('orders', makeEvent(i, 'a'));
    for (const group of ['billing.invoices', 'mail.sender']) {
      const subscription = await log.subscribe({ group, topics: ['orders'] });
      await subscription.commit([{ topic: 'orders', partition: 0, offset: 3 }]);
      await subscription.close();
    }
    const registry = new Registry();
    const handled = new Map([
      ['event-0', 1],
      ['event-1', 2],
      ['event-2', 3],
    ]);
    const audits = startAuditMetrics(
      log,
      [
        { group: 'billing.invoices', store: inboxOnlyStore(handled, 'billing.invoices') },
        // mail.sender lost the entry of event-1.
        {
          group: 'mail.sender',
          store: inboxOnlyStore(new Map([...handled].filter(([id]) => id !== 'event-1')), 'mail.sender'),
        },
      ],
      registry,
      { intervalMs: 3_600_000 },
    );
    try {
      const reports = await audits.audit();
      assert.deepEqual(
        reports.map((r) => [r.group, r.verdict]),
        [
          ['billing.invoices', 'ok'],
          ['mail.sender', 'violations'],
        ],
      );
      const text = await registry.metrics();
      assert.match(text, /^herald_audit_violations\{group="billing\.invoices"\} 0$/m);
      assert.match(text, /^herald_audit_violations\{group="mail\.sender"\} 1$/m);
      assert.match(text, /^herald_audit_events_checked\{group="mail\.sender"\} 3$/m);
    } finally {
      await audits.stop();
    }
  });

  void it('reports a failed audit to onError instead of failing the round', async () => {
    await using log = await openMemoryLog();
    const failures: string[] = [];
    const audits = startAuditMetrics(
      log,
      [{ group: 'nobody', store: inboxOnlyStore(new Map(), 'nobody') }],
      new Registry(),
      { intervalMs: 3_600_000, onError: (error, group) => failures.push(`${group}: ${String(error)}`) },
    );
    try {
      assert.deepEqual(await audits.audit(), []);
      assert.ok(failures.length >= 1 && failures.every((f) => f.startsWith('nobody: ')), failures.join());
    } finally {
      await audits.stop();
    }
  });
});
