// Fault covered (F20): damage to the log's files. A flipped byte in an event is caught by the
// record checksum on every read and by the full check at open; a log that comes back shorter
// than what it acknowledged durable (a write-ahead log cut short or with a damaged frame, a
// database file replaced by an older copy) is refused at open by the durable-heads record.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { type CloudEvent, isHeraldError, type StoredEvent } from '@herald/core';
import { openSqliteLog } from '@herald/sqlite';
import { startFixture } from './fixtures/children.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-integrity-'));
  dirs.push(dir);
  return join(dir, 'log.db');
}

const marker = (i: number) => `payload-${String(i).padStart(3, '0')}:`;
const event = (i: number): CloudEvent => ({
  specversion: '1.0',
  id: `e${i}`,
  source: '/integrity-test',
  type: 'dev.herald.test.integrity.v1',
  data: new TextEncoder().encode(marker(i) + 'x'.repeat(200)),
});

/** Appends events `from`..`to - 1` to topic "t" (created when missing) and closes the log cleanly. */
async function writeEvents(path: string, from: number, to: number, synchronous: 'full' | 'normal' = 'full') {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0, synchronous });
  if (!(await log.listTopics()).some((topic) => topic.name === 't'))
    await log.createTopic('t', { partitions: 1 });
  for (let i = from; i < to; i++) await log.append('t', event(i));
}

/**
 * Flips one bit of the byte `at` bytes after each occurrence of `text` in the file (a page can
 * still hold stale copies of a row that moved when its page split; the live one is among them).
 */
function flipByteAfter(file: string, text: string, at: number): void {
  const bytes = readFileSync(file);
  let found = bytes.indexOf(text);
  assert.ok(found >= 0, `${text} is in ${file}`);
  for (; found >= 0; found = bytes.indexOf(text, found + 1)) bytes[found + at] = bytes[found + at]! ^ 0x01;
  writeFileSync(file, bytes);
}

const corrupt = (pattern: RegExp) => (error: unknown) =>
  isHeraldError(error) && error.code === 'CORRUPT_LOG' && pattern.test(error.message);

describe('the embedded log refuses damaged files instead of serving them (F20)', () => {
  it('reports a byte flipped in an event as CORRUPT_LOG on every read of it, and still serves the events around it', async () => {
    const path = tempPath();
    await writeEvents(path, 0, 20);
    assert.equal(existsSync(`${path}-wal`), false, 'a clean close leaves everything in the database file');
    flipByteAfter(path, marker(7), 40);

    await using log = await openSqliteLog({ path, retentionIntervalMs: 0 }); // the quick check: it reads no event
    // Everything before it is served (a short read), reading from it fails, after it is served.
    assert.deepEqual(
      (await log.read('t', { partition: 0, from: { offset: 0 }, limit: 100 })).map((e) => e.offset),
      [0, 1, 2, 3, 4, 5, 6],
    );
    await assert.rejects(
      log.read('t', { partition: 0, from: { offset: 7 }, limit: 100 }),
      (error: unknown) =>
        corrupt(/t\/0 offset 7 fails its checksum/)(error) &&
        (error as { details: { offset: number } }).details.offset === 7,
    );
    const after7 = await log.read('t', { partition: 0, from: { offset: 8 }, limit: 100 });
    assert.deepEqual(
      after7.map((e) => e.offset),
      Array.from({ length: 12 }, (_, i) => 8 + i),
    );

    // A consumer group receives the events before it, then stops on it with the same error.
    const subscription = await log.subscribe({ group: 'g', topics: ['t'], startAt: 'earliest' });
    const delivered: StoredEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const received of subscription) delivered.push(received);
      })(),
      corrupt(/offset 7 fails its checksum/),
    );
    assert.deepEqual(
      delivered.map((e) => e.offset),
      [0, 1, 2, 3, 4, 5, 6],
      'the events before the damaged one, and not it',
    );
    await subscription.close();
  });

  it('refuses a file with a damaged event at open under the full check, naming the event', async () => {
    const path = tempPath();
    await writeEvents(path, 0, 20);
    flipByteAfter(path, marker(12), 100);
    await assert.rejects(
      openSqliteLog({ path, integrityCheck: 'full', retentionIntervalMs: 0 }),
      corrupt(/t\/0 offset 12 fails its checksum/),
    );
  });

  describe('a write-ahead log that lost acknowledged events', () => {
    /** Runs the fixture that leaves 100 acknowledged events only in the WAL, and returns the WAL's path. */
    async function walHoldingAcknowledgedEvents(path: string): Promise<string> {
      const child = startFixture('wal-tail-process.ts', [path]);
      await child.waitFor((line) => line === 'acked 100', 120_000);
      await child.exited;
      const wal = `${path}-wal`;
      assert.ok(statSync(wal).size > 100 * 200, 'the 100 events are in the WAL');
      return wal;
    }

    /** What survives when the check is off: proves the damage really lost acknowledged events. */
    async function survivingEvents(path: string): Promise<number> {
      await using log = await openSqliteLog({ path, integrityCheck: 'off', retentionIntervalMs: 0 });
      return (await log.describeTopic('tail')).partitionInfo[0]!.latest;
    }

    it('is refused at open when the WAL was cut short (the audit served 54 of 100 acknowledged events)', async () => {
      const path = tempPath();
      const wal = await walHoldingAcknowledgedEvents(path);
      truncateSync(wal, Math.floor(statSync(wal).size / 2));
      await assert.rejects(
        openSqliteLog({ path, retentionIntervalMs: 0 }),
        corrupt(/tail\/0: the log ends at offset \d+, but offsets up to 99 were durable/),
      );
      const survivors = await survivingEvents(path);
      assert.ok(survivors < 100, `the cut lost acknowledged events (${survivors} of 100 left)`);
    });

    it('is refused at open when a WAL frame is damaged (SQLite drops it and every frame after it)', async () => {
      const path = tempPath();
      const wal = await walHoldingAcknowledgedEvents(path);
      const bytes = readFileSync(wal);
      const at = Math.floor(bytes.length / 3);
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(wal, bytes);
      await assert.rejects(
        openSqliteLog({ path, retentionIntervalMs: 0 }),
        corrupt(/tail\/0: the log ends at offset/),
      );
      assert.ok((await survivingEvents(path)) < 100);
    });
  });

  for (const synchronous of ['full', 'normal'] as const) {
    it(`refuses a database file replaced by an older copy of itself (synchronous=${synchronous}); deleting the record accepts it`, async () => {
      const path = tempPath();
      await writeEvents(path, 0, 10, synchronous);
      const backup = `${path}.backup`;
      copyFileSync(path, backup);
      await writeEvents(path, 10, 25, synchronous);
      copyFileSync(backup, path);
      await assert.rejects(
        openSqliteLog({ path, retentionIntervalMs: 0, synchronous }),
        corrupt(/t\/0: the log ends at offset 10, but offsets up to 24 were durable.*delete .*log\.db-heads/),
      );
      rmSync(`${path}-heads`);
      await using log = await openSqliteLog({ path, retentionIntervalMs: 0, synchronous });
      assert.equal((await log.describeTopic('t')).partitionInfo[0]!.latest, 10);
    });
  }

  it('ignores a record that belongs to another file of the same name, or is torn', async () => {
    const path = tempPath();
    await writeEvents(path, 0, 5);
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    {
      await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
      assert.deepEqual(await log.listTopics(), []);
      await log.createTopic('t', { partitions: 1 });
    }
    const record = readFileSync(`${path}-heads`);
    writeFileSync(`${path}-heads`, record.subarray(0, record.length - 3));
    await writeEvents(path, 0, 1);
  });

  it('upgrades a file of schema 2: its events are read unchecked, new ones are checked', async () => {
    const path = tempPath();
    await writeEvents(path, 0, 3);
    {
      const db = new DatabaseSync(path);
      db.exec('ALTER TABLE herald_events DROP COLUMN crc');
      db.exec("UPDATE herald_meta SET value = '2' WHERE key = 'schema_version'");
      db.close();
    }
    await writeEvents(path, 3, 4);
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      assert.deepEqual(
        db
          .prepare('SELECT offset, crc IS NOT NULL AS checked FROM herald_events ORDER BY offset')
          .all()
          .map((r) => ({ ...r })),
        [
          { offset: 0, checked: 0 },
          { offset: 1, checked: 0 },
          { offset: 2, checked: 0 },
          { offset: 3, checked: 1 },
        ],
      );
      assert.equal(
        (db.prepare("SELECT value FROM herald_meta WHERE key = 'schema_version'").get() as { value: string })
          .value,
        '3',
      );
    } finally {
      db.close();
    }
    await using log = await openSqliteLog({ path, integrityCheck: 'full', retentionIntervalMs: 0 });
    assert.equal((await log.read('t', { partition: 0, from: 'earliest', limit: 10 })).length, 4);
  });
});
