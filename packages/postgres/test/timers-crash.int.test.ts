// Fault covered: processes that fire the durable timers of one Postgres store are killed with
// SIGKILL (a process crash) at random moments, two of them racing (serializable transactions
// that collide and run again) in every round, while timers come due. Each timer's event is
// committed to the outbox exactly once, never before its time, and none is left.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pendingTimers } from '@herald/core';
import { openPostgresStore } from '@herald/postgres';
import { startChild } from './fixtures/children.ts';
import {
  TEST_POSTGRES,
  postgresUnavailable,
  reportUnavailable,
  testSchema,
} from './fixtures/test-postgres.ts';

const TIMERS = 300;
const KILL_ROUNDS = 5;
/** Timers come due over about this long: most of the kill rounds. */
const SPREAD_MS = 8_000;
const encoder = new TextEncoder();
const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

const unavailable = await postgresUnavailable();
if (unavailable !== undefined) {
  reportUnavailable('durable timers under SIGKILL on Postgres', unavailable);
} else {
  void describe('durable timers on Postgres under SIGKILL', { timeout: 180_000 }, () => {
    void it(`commits each of ${TIMERS} timers' events to the outbox exactly once, at or after its time, across ${KILL_ROUNDS} rounds of two racing schedulers killed`, async () => {
      await using db = testSchema();
      const store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      const start = Date.now();
      for (let i = 0; i < TIMERS; i += 50) {
        await store.transaction(async (tx) => {
          for (let j = i; j < i + 50; j++) {
            const dueAt = start + 300 + Math.floor((j * SPREAD_MS) / TIMERS);
            await tx.schedule(dueAt, 'reminders', {
              specversion: '1.0',
              id: `timer-${j}`,
              source: '/timers-crash',
              type: 'dev.herald.test.reminder.v1',
              partitionkey: `key-${j % 13}`,
              data: encoder.encode(JSON.stringify({ dueAt })),
            });
          }
        });
      }
      let firedByKilled = 0;
      for (let round = 0; round < KILL_ROUNDS; round++) {
        const racers = [0, 1].map(() => startChild('timer-process.ts', [TEST_POSTGRES, db.schema]));
        await Promise.all(racers.map((racer) => racer.waitForLine('started')));
        await new Promise((resolve) => setTimeout(resolve, randomBetween(20, 400)));
        for (const racer of racers) {
          racer.kill('SIGKILL');
          await new Promise((resolve) => setTimeout(resolve, randomBetween(0, 60)));
        }
        await Promise.all(racers.map((racer) => racer.exited));
        for (const racer of racers)
          for (const line of racer.lines)
            if (line.startsWith('fired ')) firedByKilled += Number(line.slice(6));
      }
      const last = startChild('timer-process.ts', [TEST_POSTGRES, db.schema]);
      await last.waitForLine('done', 60_000);
      assert.deepEqual(await last.exited, { code: 0, signal: null });
      assert.ok(
        firedByKilled > 0 && firedByKilled < TIMERS,
        `the killed schedulers fired ${firedByKilled} of ${TIMERS} timers: kills came while timers were firing`,
      );
      assert.deepEqual(await pendingTimers(store), [], 'no timer left');
      const { rows } = await db.pool.query<{ id: string; due_at: string; committed_ms: string }>(
        `SELECT attributes->>'id' AS id, convert_from(data, 'UTF8')::jsonb->>'dueAt' AS due_at,
                floor(extract(epoch FROM created_at) * 1000)::bigint AS committed_ms
         FROM "${db.schema}".herald_outbox`,
      );
      const ids = rows.map((row) => row.id);
      assert.equal(new Set(ids).size, ids.length, 'no timer emitted twice');
      assert.equal(ids.length, TIMERS, 'every timer emitted');
      for (const row of rows) {
        // created_at is the firing transaction's start (the server's clock, the same host here).
        assert.ok(
          Number(row.committed_ms) + 1 >= Number(row.due_at),
          `${row.id} was emitted ${Number(row.due_at) - Number(row.committed_ms)} ms before its time`,
        );
      }
      await store.close();
    });
  });
}
