// Fault covered: the writing or consuming process is killed with SIGKILL (a process crash, not
// a power loss: SQLite's WAL survives process kills in every synchronous mode; power loss is
// what `synchronous=FULL` is for and is not simulated here).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSqliteLog } from '@herald/sqlite';
import { startFixture } from './fixtures/children.ts';

const WRITER_KILLS = 20;
const CONSUMER_KILLS = 12;

const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

describe('the embedded log under SIGKILL', { timeout: 180_000 }, () => {
  it(`keeps every acknowledged append, with dense offsets and a clean integrity check, across ${WRITER_KILLS} writer kills`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
    const path = join(dir, 'log.db');
    try {
      {
        await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
        await log.createTopic('crash', { partitions: 4 });
      }
      const acked = new Map<string, { partition: number; offset: number }>();
      for (let run = 0; run < WRITER_KILLS; run++) {
        const writer = startFixture('writer-process.ts', [path, String(run)]);
        await writer.waitFor(1);
        await new Promise((resolve) => setTimeout(resolve, randomBetween(10, 250)));
        writer.signal('SIGKILL');
        await writer.exited;
        for (const line of writer.lines) {
          const [, id, partition, offset] = line.split(' ');
          acked.set(id!, { partition: Number(partition), offset: Number(offset) });
        }

        await using log = await openSqliteLog({ path, integrityCheck: 'full', retentionIntervalMs: 0 });
        const found = new Map<string, { partition: number; offset: number }>();
        const description = await log.describeTopic('crash');
        for (const { partition, earliest, latest } of description.partitionInfo) {
          let expected = earliest;
          for (let from = earliest; from < latest;) {
            const events = await log.read('crash', { partition, from: { offset: from }, limit: 1000 });
            for (const event of events) {
              assert.equal(
                event.offset,
                expected,
                `partition ${partition} has a hole before offset ${event.offset}`,
              );
              expected++;
              found.set(event.id, { partition, offset: event.offset });
            }
            from = expected;
          }
          assert.equal(
            expected,
            latest,
            `partition ${partition} ends at ${expected}, its head says ${latest}`,
          );
        }
        for (const [id, position] of acked) {
          assert.deepEqual(
            found.get(id),
            position,
            `acknowledged event ${id} is missing or moved after kill ${run}`,
          );
        }
      }
      assert.ok(acked.size > WRITER_KILLS * 10, `only ${acked.size} appends were acknowledged in all runs`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`skips no acknowledged event when consumers are killed at random moments (${CONSUMER_KILLS} kills)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
    const path = join(dir, 'log.db');
    const total = 4000;
    try {
      {
        await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
        await log.createTopic('crash', { partitions: 3 });
        const encoder = new TextEncoder();
        for (let i = 0; i < total; i += 500) {
          await log.appendBatch(
            'crash',
            Array.from({ length: 500 }, (_, j) => ({
              specversion: '1.0' as const,
              id: `event-${i + j}`,
              source: '/crash-test',
              type: 'dev.herald.test.consumed.v1',
              partitionkey: `key-${(i + j) % 23}`,
              data: encoder.encode(String(i + j)),
            })),
          );
        }
      }
      const seen = new Set<string>();
      let kills = 0;
      for (let attempt = 0; attempt < CONSUMER_KILLS + 20; attempt++) {
        const consumer = startFixture('consumer-process.ts', [path]);
        const finalRun = kills >= CONSUMER_KILLS;
        if (finalRun) {
          await consumer.exited;
        } else {
          await consumer.waitFor(1).catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, randomBetween(5, 120)));
          consumer.signal('SIGKILL');
          kills++;
          await consumer.exited;
        }
        for (const line of consumer.lines) if (line.startsWith('seen ')) seen.add(line.slice(5));
        if (consumer.lines.includes('done')) break;
      }
      assert.equal(kills, CONSUMER_KILLS);
      await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
      const description = await log.describeTopic('crash');
      let expected = 0;
      for (const { partition, latest } of description.partitionInfo) {
        for (let offset = 0; offset < latest; offset++) {
          assert.ok(seen.has(`${partition} ${offset}`), `event ${partition}/${offset} was never handled`);
          expected++;
        }
      }
      assert.equal(expected, total);
      const group = await log.describeGroup('crash-consumers');
      for (const p of group.partitions) assert.equal(p.lag, 0, `partition ${p.partition} still has lag`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
