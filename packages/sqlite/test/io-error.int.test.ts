// Fault covered (F17): the disk under the log fails with EIO. The log's files live on a FUSE
// filesystem (fixtures/lossy-fs.py) told to fail every write, or every fsync; a failed fsync also
// drops the file's unsynced changes, as Linux does with pages whose writeback failed, so a later
// sync that succeeds proves nothing about them. Appends run meanwhile from several producers; the
// log is then reopened on what the disk kept.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type CloudEvent, isHeraldError } from '@herald/core';
import { openSqliteLog, type SqliteLog } from '@herald/sqlite';
import { waitWhileProgressing, within } from '@herald/testing';
import { lossyFsUnavailable, mountLossyFs } from './fixtures/lossy-mount.ts';

const unavailable = lossyFsUnavailable();
const skip =
  process.env.CI === 'true' ? false : unavailable === undefined ? false : `FUSE unavailable: ${unavailable}`;

const event = (id: string): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/io-error-test',
  type: 'dev.herald.test.io.v1',
  partitionkey: id,
  data: new TextEncoder().encode(`${id} `.repeat(30)),
});

/** Producers appending until stopped; what was acknowledged and what failed, by id. */
function appendLoad(log: SqliteLog, producers = 4) {
  const acked = new Map<string, { partition: number; offset: number }>();
  const failed = new Map<string, unknown>();
  let running = true;
  const loops = Array.from({ length: producers }, async (_, producer) => {
    for (let seq = 0; running; seq++) {
      const id = `p${producer}-${seq}`;
      try {
        const result = await log.append('io', event(id));
        acked.set(id, { partition: result.partition, offset: result.offset });
      } catch (error) {
        failed.set(id, error);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  });
  return {
    acked,
    failed,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every event of topic "io" in the log at `path`, reopened with the full check. */
async function survivors(path: string): Promise<Map<string, { partition: number; offset: number }>> {
  await using log = await openSqliteLog({ path, integrityCheck: 'full', retentionIntervalMs: 0 });
  const found = new Map<string, { partition: number; offset: number }>();
  for (const { partition, earliest, latest } of (await log.describeTopic('io')).partitionInfo) {
    const events = await log.read('io', {
      partition,
      from: { offset: earliest },
      limit: latest - earliest + 1,
    });
    assert.deepEqual(
      events.map((e) => e.offset),
      Array.from({ length: latest - earliest }, (_, i) => earliest + i),
      `partition ${partition} is dense`,
    );
    for (const e of events) {
      assert.ok(!found.has(e.id), `${e.id} stored once`);
      found.set(e.id, { partition, offset: e.offset });
    }
  }
  return found;
}

const isUnavailable = (error: unknown) => isHeraldError(error) && error.code === 'BACKEND_UNAVAILABLE';

describe('the embedded log on a disk that fails with EIO (F17)', { skip }, () => {
  it('refuses appends with BACKEND_UNAVAILABLE while writes fail, stores none of them, and appends again once the disk heals', async (t) => {
    await using mount = await mountLossyFs();
    const path = join(mount.mountpoint, 'log.db');
    const log = await openSqliteLog({ path, retentionIntervalMs: 0 });
    await log.createTopic('io', { partitions: 4 });
    const load = appendLoad(log);
    await waitWhileProgressing(
      () => load.acked.size >= 200,
      () => load.acked.size,
      60_000,
      '200 appends',
    );
    await mount.failWith('write');
    const failedBefore = load.failed.size;
    await waitWhileProgressing(
      () => load.failed.size >= failedBefore + 20,
      () => load.failed.size,
      60_000,
      'appends failing',
    );
    const ackedWhileFailing = load.acked.size;
    await mount.failWith('none');
    await waitWhileProgressing(
      () => load.acked.size >= ackedWhileFailing + 200,
      () => load.acked.size,
      60_000,
      'appends after the disk healed',
    );
    await load.stop();
    await log.close();

    const stored = await survivors(path);
    const lost = [...load.acked.keys()].filter((id) => !stored.has(id));
    const failedStored = [...load.failed.keys()].filter((id) => stored.has(id));
    const misplaced = [...load.acked].filter(([id, at]) => {
      const found = stored.get(id);
      return found !== undefined && (found.partition !== at.partition || found.offset !== at.offset);
    });
    const report =
      `writes failed with EIO: ${load.failed.size} appends refused, ${load.acked.size} acknowledged; ` +
      `${lost.length} lost, ${failedStored.length} refused but stored, ${misplaced.length} misplaced`;
    t.diagnostic(report);
    console.log(`F17 EIO on write: ${report}`);
    assert.ok([...load.failed.values()].every(isUnavailable), 'every refusal is BACKEND_UNAVAILABLE');
    assert.deepEqual(lost, []);
    assert.deepEqual(failedStored, [], 'a refused append is not stored');
    assert.deepEqual(misplaced, []);
  });

  it('after an fsync fails with EIO, refuses every write until reopened; the reopened log holds every acknowledged append', async (t) => {
    await using mount = await mountLossyFs();
    const path = join(mount.mountpoint, 'log.db');
    const log = await openSqliteLog({ path, retentionIntervalMs: 0 });
    await log.createTopic('io', { partitions: 4 });
    const load = appendLoad(log);
    await waitWhileProgressing(
      () => load.acked.size >= 200,
      () => load.acked.size,
      60_000,
      '200 appends',
    );
    await mount.failWith('sync');
    await waitWhileProgressing(
      () => load.failed.size >= 20,
      () => load.failed.size,
      60_000,
      'appends failing',
    );
    await mount.failWith('none');
    // A sync that fails may have lost data the kernel will not write again: nothing more is
    // acknowledged by this instance, healed disk or not.
    const ackedAtHeal = load.acked.size;
    const failedAtHeal = load.failed.size;
    await waitWhileProgressing(
      () => load.failed.size >= failedAtHeal + 20,
      () => load.failed.size,
      60_000,
      'appends refused after the disk healed',
    );
    await load.stop();
    assert.equal(load.acked.size, ackedAtHeal, 'no append acknowledged after the failed sync');
    await assert.rejects(
      log.append('io', event('late')),
      (error: unknown) => isUnavailable(error) && /reopen the log/.test((error as Error).message),
    );
    // Closing must end even though the sync thread already ended on its own (it once waited
    // for that thread's exit for ever).
    await within(log.close(), 120_000, 'the close of a log whose sync failed');

    const stored = await survivors(path);
    const lost = [...load.acked.keys()].filter((id) => !stored.has(id));
    const failedStored = [...load.failed.keys()].filter((id) => stored.has(id)).length;
    const report =
      `fsync failed with EIO (unsynced changes dropped): ${load.acked.size} appends acknowledged, ` +
      `${load.failed.size} refused (${failedStored} of them stored anyway, never acknowledged); ${lost.length} lost`;
    t.diagnostic(report);
    console.log(`F17 EIO on fsync: ${report}`);
    assert.ok([...load.failed.values()].every(isUnavailable), 'every refusal is BACKEND_UNAVAILABLE');
    assert.deepEqual(lost, [], 'acknowledged appends missing after the reopen');
    // Only what was in flight when the sync failed (at most one append per producer) may have been
    // committed; nothing after it is written, so a caller that retries a refused append cannot
    // store it twice.
    assert.ok(failedStored <= 4, `${failedStored} refused appends stored`);

    // The reopened log writes again.
    await using reopened = await openSqliteLog({ path, retentionIntervalMs: 0 });
    await reopened.append('io', event('after-reopen'));
  });
});
