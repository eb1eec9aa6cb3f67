// The body of a scheduler process for `describeTimersCrash` (entry `@herald/testing/timer-scheduler`,
// apart from the suites so that the process loads neither node:test nor them). A backend's
// fixture script opens its store and hands it here.
import { pendingTimers, startTimers } from '@herald/core';
import type { Store } from '@herald/core';

/**
 * Fires the due timers of `store` (startTimers) and prints `started`, then `fired <n>` after each
 * round that fired some, and `done` once no timer is pending and `close` (what the script opened)
 * has run. The crash test kills the process with SIGKILL at random moments before that.
 *
 * @example
 * const log = await openSqliteLog({ path });
 * await runTimerScheduler(await openSqliteStore(log), () => log.close());
 */
export async function runTimerScheduler(store: Store, close: () => Promise<void>): Promise<void> {
  const timers = startTimers([store], {
    pollIntervalMs: 50,
    batchSize: 7,
    onFired: (round) => process.stdout.write(`fired ${round.fired}\n`),
    onError: (error) => process.stderr.write(`timers: ${String(error)}\n`),
  });
  process.stdout.write('started\n');
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if ((await pendingTimers(store, 1)).length === 0) break;
  }
  await timers.stop();
  await close();
  process.stdout.write('done\n');
}
