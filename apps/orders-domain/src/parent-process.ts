// A process started by another one (a test, the lab, a launcher) must not outlive it. The parent
// opts in by giving the child an IPC channel (`stdio: [..., 'ipc']`, as `startChildSystem` and
// the REST baseline's launcher do): the channel closes when the parent dies, however it dies
// (SIGKILL, a crash), and the child sees `disconnect`. No polling, and nothing changes for a
// process started without a channel (`npm start`, a shell, a service manager).
//
// The watch starts when this module is imported, so that a parent dying while the child is still
// starting is not missed. While it watches, the open channel keeps the process alive, as a
// server should be until it is stopped: a REST service whose port is closed by an outage fault
// has nothing else that keeps it running.

/** Resolves when the channel closed; undefined without one. */
const parentGone: Promise<void> | undefined =
  process.channel === undefined
    ? undefined
    : process.channel === null || process.connected === false
      ? Promise.resolve()
      : new Promise<void>((resolve) => process.once('disconnect', () => resolve()));

/**
 * Calls `stop` once when this process's IPC channel closes: its parent is gone (or let it go).
 * Does nothing without a channel. Returns whether it is watching.
 */
export function stopWhenParentGone(stop: () => void): boolean {
  if (parentGone === undefined) return false;
  void parentGone.then(stop);
  return true;
}
