// Faults F21, F4 and F5 on the embedded log: consumer-group members in their own processes on one
// SQLite file (log and store), killed with SIGKILL, stopped with SIGSTOP past their session
// timeout and resumed, leaving and joining, and their wall clocks jumping (the group's leases
// are wall-clock times); a producer appends all along. Afterwards a history checker reads the
// log, the inbox and the effects: every event must have exactly one effect, each key's effects
// committed in the key's order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChurnRound, describeFaults, describeReport, runChurn } from '@herald/testing';
import { tempDatabase } from './fixtures/orders.ts';

const ROUNDS: readonly ChurnRound[] = [
  'kill',
  'pause',
  'clock-all',
  'leave-join',
  'kill',
  'clock-ahead',
  'pause',
  'join-leave',
  'clock-behind',
  'kill',
  'pause',
  'leave-join',
  'clock-all',
  'kill',
  'pause',
  'join-leave',
  'clock-behind',
  'clock-ahead',
];

void describe('consumer groups under churn on the embedded log (F21, F4, F5)', { timeout: 600_000 }, () => {
  void it('gives every event exactly one effect, in key order, while members die, stall, leave, join and their clocks jump', async (t) => {
    using db = tempDatabase();
    const url = `sqlite:${db.path}`;
    const result = await runChurn({
      logUrl: url,
      storeUrl: url,
      topic: 'steps',
      group: 'churn.effects',
      partitions: 6,
      keys: 40,
      members: 3,
      sessionTimeoutMs: 1_000,
      rounds: ROUNDS,
      produce: { batch: 10, everyMs: 50 },
      progressPerFault: 100,
      stallTimeoutMs: 60_000,
      handlerDelayMs: 15,
      say: (line) => t.diagnostic(line),
    });
    const { faults, report } = result;
    const summary =
      `${describeFaults(faults)}; ${describeReport(report)}; ` +
      `late work after SIGCONT: ${result.lateFenced} commits fenced, ${result.lateDeduplicated} deliveries deduplicated ` +
      `(${result.fencedCommits} fenced and ${result.deduplicated} deduplicated in all); ` +
      `${result.pausesThatStalledTheGroup} pauses stalled the group; committed offsets went back ${result.offsetRegressions} times; ` +
      `nemesis ${(result.nemesisMs / 1000).toFixed(1)} s, run ${(result.totalMs / 1000).toFixed(1)} s`;
    console.log(`embedded log churn: ${summary}`);
    t.diagnostic(summary);

    assert.deepEqual(result.unexpectedExits, [], 'members exited on their own');
    assert.deepEqual(
      { lost: report.lost, duplicated: report.duplicated, reordered: report.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
      report.examples.join('\n'),
    );
    assert.equal(report.effectWithoutInbox, 0, report.examples.join('\n'));
    assert.equal(report.unknownEffects, 0, report.examples.join('\n'));
    assert.equal(report.logOutOfOrder, 0, report.examples.join('\n'));
    assert.equal(result.offsetRegressions, 0, 'a committed offset went back');
    assert.ok(report.acknowledged > 0 && report.logged >= report.acknowledged);
    const count = (round: ChurnRound) => ROUNDS.filter((r) => r === round).length;
    assert.equal(faults.kills, count('kill'));
    assert.equal(faults.pauses, count('pause'));
    assert.ok(
      result.lateFenced + result.lateDeduplicated > 0,
      'no paused member did late work that was fenced or deduplicated: the pauses proved nothing',
    );
  });
});
