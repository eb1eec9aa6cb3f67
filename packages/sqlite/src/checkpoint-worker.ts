// The embedded log's checkpointer thread: copies the WAL into the database file when the log's
// main thread asks, on a connection of its own, so the copy and its fsyncs never block the event
// loop that serves requests. PASSIVE: it never waits for or blocks readers and writers; what it
// cannot copy now (a reader still needs it) it copies next time.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };
const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
db.exec('PRAGMA synchronous = NORMAL');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

parentPort!.on('message', (message: 'checkpoint' | 'close') => {
  if (message === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  try {
    const row = checkpoint.get() as { busy: number; log: number; checkpointed: number };
    parentPort!.postMessage({ ok: true, log: row.log, checkpointed: row.checkpointed });
  } catch (error) {
    // Busy with another process's checkpoint, or a failing disk: the next request tries again;
    // a failing disk surfaces on the log's own writes.
    parentPort!.postMessage({ ok: false, error: String(error) });
  }
});
