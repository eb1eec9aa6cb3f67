// The shared-memory slots between the log's thread and its sync thread (wal-sync-worker.ts).
// Counters wrap around as Int32: compare them with `after`, never with `<`.

/** Sync requests made so far (raised by the log's thread). */
export const REQUESTED = 0;
/** The value of REQUESTED that the last finished sync had read before it started. */
export const DONE = 1;
/** 1 once an fdatasync failed: nothing is durable any more. */
export const FAILED = 2;
/** 1 when the sync thread is to end. */
export const STOP = 3;
/** fdatasync calls made. */
export const SYNCS = 4;
export const SLOTS = 5;

/** Whether counter value `a` is at or after `b` (wrapping Int32 arithmetic). */
export function atOrAfter(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
