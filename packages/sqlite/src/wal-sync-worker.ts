// The embedded log's sync thread: fdatasyncs the write-ahead log whenever the log's thread asks,
// and says so through shared memory, so a commit becomes durable without a turn of that thread's
// event loop. Protocol (Int32 slots of the shared buffer, see wal-sync.ts): the log raises
// REQUESTED and notifies it; this thread reads REQUESTED, syncs, then stores what it read in DONE
// and notifies DONE. A sync that finished with DONE ≥ n started after request n was made. On a
// failed fdatasync it sets FAILED, posts the error and ends. To end it, the log sets STOP and
// then raises REQUESTED, so that the thread wakes (or does not sleep) whenever STOP was set.
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { DONE, FAILED, REQUESTED, STOP, SYNCS } from './wal-sync-slots.ts';

const { walPath, shared } = workerData as { walPath: string; shared: SharedArrayBuffer };
const state = new Int32Array(shared);
const fd = openSync(walPath, 'r+');
try {
  let done = Atomics.load(state, DONE);
  for (;;) {
    if (Atomics.load(state, STOP) === 1) break;
    // Sleeps while nothing new was requested (REQUESTED still equals what was last synced).
    Atomics.wait(state, REQUESTED, done);
    if (Atomics.load(state, STOP) === 1) break;
    const target = Atomics.load(state, REQUESTED);
    if (target === done) continue;
    try {
      fdatasyncSync(fd);
    } catch (error) {
      Atomics.store(state, FAILED, 1);
      Atomics.notify(state, DONE);
      parentPort!.postMessage({ failed: error instanceof Error ? error.message : String(error) });
      break;
    }
    Atomics.add(state, SYNCS, 1);
    done = target;
    Atomics.store(state, DONE, target);
    Atomics.notify(state, DONE);
  }
} finally {
  closeSync(fd);
}
