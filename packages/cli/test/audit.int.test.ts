import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import type { AuditReport } from '@herald/core/ops';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { readAll, runAuditedWorkload } from '@herald/testing';
import { spawnHerald, tempDatabase } from './spawn-herald.ts';

// `herald audit` as a real process on a real SQLite file, after a real router (deadLetter, retry,
// idempotency) handled events through retries, dead letters, a redrive and a duplicate; then
// violations planted in the file one by one, each caught at its position.

async function audit(url: string, group: string): Promise<{ status: number | null; report: AuditReport }> {
  const result = await spawnHerald(['audit', group, '--json'], url);
  assert.equal(result.stderr, '', result.stderr);
  return { status: result.status, report: JSON.parse(result.stdout) as AuditReport };
}

/** Where the event with `id` is in `topic` (its first occurrence). */
async function positionOf(path: string, topic: string, id: string) {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  const event = (await readAll(log, topic)).find((e) => e.id === id);
  assert.ok(event !== undefined, `no event ${id}`);
  return { topic, partition: event.partition, offset: event.offset, eventId: id, key: event.partitionkey };
}

// The timeout guards against a hang, not a slow machine: each step is a process that exits.
void describe('herald audit (real process, SQLite file)', { timeout: 600_000 }, () => {
  void it('finds no violation after a router handled, retried, dead-lettered and redrove, then catches each planted violation', async () => {
    using db = tempDatabase();
    const workload = await (async () => {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      return await runAuditedWorkload(log, store);
    })();
    const { group, topic } = workload;

    const clean = await audit(db.url, group);
    assert.equal(clean.status, 0, JSON.stringify(clean.report.firstViolations));
    assert.equal(clean.report.verdict, 'ok');
    assert.deepEqual(
      {
        checked: clean.report.checked,
        handled: clean.report.handled,
        deadLettered: clean.report.deadLettered,
        duplicates: clean.report.duplicates,
        redriven: clean.report.redriven,
        parked: clean.report.parked,
      },
      {
        checked: workload.appended,
        handled: workload.handled,
        deadLettered: workload.deadLettered,
        duplicates: workload.duplicates,
        redriven: 1,
        parked: workload.parked,
      },
    );
    const text = await spawnHerald(['audit', group], db.url);
    assert.equal(text.status, 0);
    assert.match(text.stdout, /^group audit\.billing: OK, no violation\n/);
    assert.match(text.stdout, /\nparked \(behind a dead letter\) +2/);

    // (a) The committed offset moved past an event nobody handled.
    const skipped = await (async () => {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      const appended = await log.append(topic, {
        specversion: '1.0',
        id: 'never-handled',
        source: '/audit-test',
        type: 'dev.herald.test.audited.v1',
        partitionkey: 'key-0',
        data: new TextEncoder().encode('{"i":999}'),
      });
      await log.resetGroup(group, { to: 'latest' });
      return appended;
    })();
    const afterSkip = await audit(db.url, group);
    assert.equal(afterSkip.status, 1);
    assert.deepEqual(afterSkip.report.violations, {
      unhandled: 1,
      'handled-and-dead-lettered': 0,
      'dead-lettered-twice': 0,
      'out-of-order': 0,
    });
    assert.deepEqual(afterSkip.report.firstViolations, [
      {
        kind: 'unhandled',
        topic,
        partition: skipped.partition,
        offset: skipped.offset,
        eventId: 'never-handled',
        key: 'key-0',
      },
    ]);

    // (b) An inbox entry deleted.
    const lost = await positionOf(db.path, topic, 'audited-7');
    const inbox = new DatabaseSync(db.path);
    try {
      inbox.prepare('DELETE FROM herald_inbox WHERE group_name = ? AND event_id = ?').run(group, 'audited-7');
    } finally {
      inbox.close();
    }
    const afterDelete = await audit(db.url, group);
    assert.equal(afterDelete.status, 1);
    assert.equal(afterDelete.report.violations.unhandled, 2);
    assert.ok(
      afterDelete.report.firstViolations.some(
        (v) => v.kind === 'unhandled' && v.eventId === 'audited-7' && v.offset === lost.offset,
      ),
      JSON.stringify(afterDelete.report.firstViolations),
    );

    // (c) Handling order inverted for a key: audited-6 (key-0) recorded before audited-0.
    const earlier = await positionOf(db.path, topic, 'audited-0');
    const later = await positionOf(db.path, topic, 'audited-6');
    assert.equal(earlier.partition, later.partition, 'one key, one partition');
    const times = new DatabaseSync(db.path);
    try {
      const { handled_at: first } = times
        .prepare('SELECT handled_at FROM herald_inbox WHERE group_name = ? AND event_id = ?')
        .get(group, 'audited-0') as { handled_at: number };
      times
        .prepare('UPDATE herald_inbox SET handled_at = ? WHERE group_name = ? AND event_id = ?')
        .run(first - 1_000, group, 'audited-6');
    } finally {
      times.close();
    }
    const afterInversion = await audit(db.url, group);
    assert.equal(afterInversion.status, 1);
    assert.equal(afterInversion.report.violations['out-of-order'], 1);
    const inverted = afterInversion.report.firstViolations.find((v) => v.kind === 'out-of-order');
    assert.equal(inverted?.eventId, 'audited-6');
    assert.equal(inverted.offset, later.offset);
    assert.equal(inverted.key, 'key-0');
    assert.ok(
      inverted.handledBefore !== undefined && inverted.handledBefore.offset < later.offset,
      JSON.stringify(inverted),
    );

    const listed = await spawnHerald(['audit', group, '--max-violations', '1'], db.url);
    assert.equal(listed.status, 1);
    assert.match(listed.stdout, /^group audit\.billing: 3 violations\n/);
    assert.match(listed.stdout, /first 1 of 3 violations:\nKIND +POSITION +EVENT +KEY +DETAIL\nunhandled /);
  });

  void it('fails with a clear message for a group that does not exist', async () => {
    using db = tempDatabase();
    {
      await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
      await log.createTopic('orders', { partitions: 1 });
    }
    const result = await spawnHerald(['audit', 'nobody.here'], db.url);
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^herald: no consumer group "nobody\.here"\n$/);
  });
});
