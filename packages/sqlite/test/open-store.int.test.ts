import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isHeraldError, openStore } from '@herald/core';
import { SqliteStore, openSqliteLog } from '@herald/sqlite';
import { makeEvent } from '@herald/testing';

const dir = mkdtempSync(join(tmpdir(), 'herald-open-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void describe('openStore on sqlite: URLs', () => {
  void it("opens the store in the embedded log's own file: what it emits is in the log at commit", async () => {
    const path = join(dir, 'own.db');
    await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
    await log.createTopic('orders', { partitions: 1 });
    const store = await openStore(`sqlite:${path}`, { log });
    assert.ok(store instanceof SqliteStore);
    const result = await store.transaction(async (tx) => {
      await tx.put('orders', 'o-1', { status: 'placed' });
      return tx.emit('orders', makeEvent(1));
    });
    assert.deepEqual([result?.partition, result?.offset], [0, 0]);
    await store.close();
    assert.equal((await log.read('orders', { partition: 0, from: 'earliest' }))[0]?.id, 'event-1');
  });

  void it('refuses a URL naming another file than the log, or a malformed one, with INVALID_ARGUMENT', async () => {
    await using log = await openSqliteLog({ path: join(dir, 'one.db'), retentionIntervalMs: 0 });
    for (const url of [
      `sqlite:${join(dir, 'other.db')}`,
      'sqlite:',
      `sqlite:${join(dir, 'one.db')}?nope=1`,
    ]) {
      await assert.rejects(
        openStore(url, { log }),
        (error: unknown) => isHeraldError(error, 'INVALID_ARGUMENT'),
        url,
      );
    }
  });
});
