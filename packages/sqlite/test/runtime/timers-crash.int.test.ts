// Fault covered: processes that fire durable timers are killed with SIGKILL (a process crash) at
// random moments, two of them racing on the same file in every round, while timers come due.
// Every timer's event is in the log exactly once, never before its time, and none is left.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pendingTimers } from '@herald/core';
import { readAll } from '@herald/testing';
import { openSqliteLog, openSqliteStore } from '../../src/index.ts';
import { startFixture } from '../fixtures/children.ts';

const TIMERS = 400;
const KILL_ROUNDS = 6;
/** Timers come due over about this long: most of the kill rounds. */
const SPREAD_MS = 12_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

void describe('durable timers under SIGKILL', { timeout: 180_000 }, () => {
  void it(`fires each of ${TIMERS} timers exactly once, at or after its time, across ${KILL_ROUNDS} rounds of two racing schedulers killed`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-timers-crash-'));
    const path = join(dir, 'log.db');
    try {
      {
        await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
        await log.createTopic('reminders', { partitions: 2 });
        const store = await openSqliteStore(log);
        const start = Date.now();
        // Due over the next few seconds, in the order they were scheduled in several transactions.
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
      }
      let killedWhileDue = 0;
      let firedByKilled = 0;
      for (let round = 0; round < KILL_ROUNDS; round++) {
        const racers = [startFixture('timer-process.ts', [path]), startFixture('timer-process.ts', [path])];
        await Promise.all(racers.map((racer) => racer.waitFor((line) => line === 'started')));
        await new Promise((resolve) => setTimeout(resolve, randomBetween(20, 400)));
        for (const racer of racers) {
          if (racer.exitCode === undefined) {
            racer.signal('SIGKILL');
            killedWhileDue++;
          }
          await new Promise((resolve) => setTimeout(resolve, randomBetween(0, 60)));
        }
        await Promise.all(racers.map((racer) => racer.exited));
        for (const racer of racers)
          for (const line of racer.lines)
            if (line.startsWith('fired ')) firedByKilled += Number(line.slice(6));
      }
      assert.ok(killedWhileDue >= KILL_ROUNDS, `only ${killedWhileDue} schedulers were killed while running`);
      // The last scheduler, left alone, fires what is left and stops.
      const last = startFixture('timer-process.ts', [path]);
      await last.waitFor((line) => line === 'done', 60_000);
      assert.equal(await last.exited, 0);
      assert.ok(
        firedByKilled > 0 && firedByKilled < TIMERS,
        `the killed schedulers fired ${firedByKilled} of ${TIMERS} timers: kills came while timers were firing`,
      );

      await using log = await openSqliteLog({ path, integrityCheck: 'full', retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      assert.deepEqual(await pendingTimers(store), [], 'no timer left');
      const fired = await readAll(log, 'reminders');
      const ids = fired.map((event) => event.id);
      assert.equal(new Set(ids).size, ids.length, 'no timer fired twice');
      assert.equal(ids.length, TIMERS, 'every timer fired');
      for (const event of fired) {
        const { dueAt } = JSON.parse(decoder.decode(event.data)) as { dueAt: number };
        assert.ok(
          event.timestamp >= dueAt,
          `${event.id} was appended ${dueAt - event.timestamp} ms before its time`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
