import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUDIT_EVENT_TYPE,
  AUDIT_TOPIC,
  appendAudit,
  auditEvent,
  auditRecordOf,
  ensureAuditTopic,
  readAuditTrail,
} from '../src/audit-trail.ts';
import type { AuditEntry } from '../src/audit-trail.ts';
import { openMemoryLog } from '../src/memory.ts';
import { MemoryStore } from './runtime/fixtures/memory-store.ts';

const entry = (n: number, outcome: AuditEntry['outcome'] = 'done'): AuditEntry => ({
  action: 'group.reset',
  actor: 'alice',
  role: 'operator',
  target: `billing.invoices-${n}`,
  after: [{ topic: 'orders', partition: 0, committed: 0 }],
  outcome,
  at: new Date(Date.UTC(2026, 11, 7, 12, 0, n)).toISOString(),
});

describe('the audit trail in the log', () => {
  it('makes one CloudEvent per entry: type herald.audit.v1, the target as subject, the entry as JSON', () => {
    const event = auditEvent(entry(1));
    assert.equal(event.type, AUDIT_EVENT_TYPE);
    assert.equal(event.subject, 'billing.invoices-1');
    assert.equal(event.time, entry(1).at);
    assert.equal(event.datacontenttype, 'application/json');
    assert.deepEqual(JSON.parse(new TextDecoder().decode(event.data)), entry(1));
  });

  it('appends straight to a log, creating the topic, and reads back newest first, page by page', async () => {
    await using log = await openMemoryLog();
    assert.deepEqual(await readAuditTrail(log), { entries: [], next: undefined });
    for (let n = 1; n <= 5; n++) await appendAudit({ log }, entry(n, n === 3 ? 'refused' : 'done'));
    assert.equal((await log.describeTopic(AUDIT_TOPIC)).partitions, 1);
    const first = await readAuditTrail(log, { limit: 2 });
    assert.deepEqual(
      first.entries.map((e) => e.target),
      ['billing.invoices-5', 'billing.invoices-4'],
    );
    const second = await readAuditTrail(log, { limit: 2, before: first.next! });
    assert.deepEqual(
      second.entries.map((e) => [e.target, e.outcome]),
      [
        ['billing.invoices-3', 'refused'],
        ['billing.invoices-2', 'done'],
      ],
    );
    const last = await readAuditTrail(log, { limit: 2, before: second.next! });
    assert.deepEqual([last.entries.map((e) => e.target), last.next], [['billing.invoices-1'], undefined]);
  });

  it('commits an entry emitted in a transaction with it, and not at all when it rolls back', async () => {
    await using log = await openMemoryLog();
    const store = new MemoryStore(log);
    await ensureAuditTopic(log);
    await store.transaction(async (tx) => {
      await tx.put('groups', 'g', { reset: true });
      await appendAudit({ tx }, entry(1));
    });
    await assert.rejects(
      store.transaction(async (tx) => {
        await appendAudit({ tx }, entry(2));
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    const { entries } = await readAuditTrail(log);
    assert.deepEqual(
      entries.map((e) => e.target),
      ['billing.invoices-1'],
    );
  });

  it('passes over records of the topic that are not audit entries', async () => {
    await using log = await openMemoryLog();
    await appendAudit({ log }, entry(1));
    await log.append(AUDIT_TOPIC, { ...auditEvent(entry(2)), type: 'something.else.v1' });
    const [stored] = await log.read(AUDIT_TOPIC, { partition: 0, from: { offset: 1 } });
    assert.equal(auditRecordOf(stored!), undefined);
    assert.deepEqual(
      (await readAuditTrail(log)).entries.map((e) => e.target),
      ['billing.invoices-1'],
    );
  });
});
