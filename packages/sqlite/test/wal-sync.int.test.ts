// The WAL's sync thread: a commit becomes durable without a turn of the writing thread's event
// loop, and closing ends the thread even when it had not gone to sleep yet.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqliteLog } from '@herald/sqlite';
import { WalSync } from '../src/wal-sync.ts';

const dirs: string[] = [];
const logs: { close(): Promise<void> }[] = [];
after(async () => {
  for (const log of logs) await log.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
async function walOf(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-wal-sync-'));
  dirs.push(dir);
  const path = join(dir, 'log.db');
  // An open log in WAL mode keeps the -wal file the sync thread opens.
  const log = await openSqliteLog({ path, synchronous: 'normal' });
  logs.push(log);
  await log.createTopic('t', { partitions: 1 });
  return path;
}

describe('the WAL sync thread', () => {
  it('settles a finished sync from poll() while the event loop has not turned', async () => {
    const sync = await WalSync.open(await walOf());
    try {
      let durable = false;
      const waited = sync.sync().then(() => (durable = true));
      // Block the loop until the thread reports the fdatasync done (progress, not a guess of time).
      const before = sync.syncs;
      const deadline = performance.now() + 30_000;
      while (sync.syncs === before) assert.ok(performance.now() < deadline, 'the sync thread made no sync');
      sync.poll();
      // Only microtasks ran since: without poll() the waiter would still wait for a loop turn.
      await Promise.resolve();
      await Promise.resolve();
      assert.equal(durable, true);
      await waited;
    } finally {
      await sync.close();
    }
  });

  it('coalesces requests made while a sync runs into the next sync', async () => {
    const sync = await WalSync.open(await walOf());
    try {
      await Promise.all(Array.from({ length: 200 }, () => sync.sync()));
      assert.ok(sync.syncs >= 1 && sync.syncs <= 200, `${sync.syncs} syncs`);
      const before = sync.syncs;
      await sync.sync();
      assert.ok(sync.syncs > before, 'a request after a finished sync gets a sync of its own');
    } finally {
      await sync.close();
    }
  });

  it('ends its thread on close right after opening, and refuses syncs afterwards', async () => {
    for (let i = 0; i < 20; i++) {
      const sync = await WalSync.open(await walOf());
      await sync.close();
      await assert.rejects(sync.sync(), { code: 'CLOSED' });
    }
  });
});
