// The guarantee auditor on PostgresStore: a real router (deadLetter, retry, idempotency) handles
// events with its inbox on Postgres, through retries, dead letters, a redrive (emitted through the
// store's outbox and relayed) and a duplicate; `auditGroup` then reads the inbox's handling times
// from Postgres and finds no violation, and catches an entry deleted behind its back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openMemoryLog } from '@herald/core/memory';
import { auditGroup } from '@herald/core/ops';
import { openPostgresStore, startOutboxRelay } from '@herald/postgres';
import { runAuditedWorkload } from '@herald/testing';
import { postgresUnavailable, reportUnavailable, testSchema } from './fixtures/test-postgres.ts';

const unavailable = await postgresUnavailable();
if (unavailable !== undefined) {
  reportUnavailable('auditGroup on PostgresStore', unavailable);
} else {
  void describe('auditGroup on PostgresStore', () => {
    void it('finds no violation after a router handled, retried, dead-lettered and redrove with its inbox on Postgres', async () => {
      await using log = await openMemoryLog();
      await using db = testSchema();
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      await using _relay = startOutboxRelay({ store, log, pollIntervalMs: 20 });
      const workload = await runAuditedWorkload(log, store);

      const report = await auditGroup(log, store, workload.group);
      assert.equal(report.verdict, 'ok', JSON.stringify(report.firstViolations));
      assert.deepEqual(
        [
          report.checked,
          report.handled,
          report.deadLettered,
          report.duplicates,
          report.redriven,
          report.parked,
        ],
        [workload.appended, workload.handled, workload.deadLettered, workload.duplicates, 1, workload.parked],
      );

      await db.pool.query(`DELETE FROM "${db.schema}".herald_inbox WHERE group_name = $1 AND event_id = $2`, [
        workload.group,
        'audited-7',
      ]);
      const after = await auditGroup(log, store, workload.group);
      assert.equal(after.verdict, 'violations');
      assert.deepEqual(
        after.firstViolations.map((v) => [v.kind, v.eventId]),
        [['unhandled', 'audited-7']],
      );
    });
  });
}
