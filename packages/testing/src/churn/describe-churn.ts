// Faults F21, F4 and F5 as a test a backend registers: consumer-group members in their own
// processes, killed with SIGKILL, stopped with SIGSTOP past their session timeout and resumed,
// leaving and joining (and, where the target asks for it, their wall clocks jumping) while a
// producer appends all along. Afterwards the history checker reads the log, the group's inbox
// and the effects: every event must have exactly one effect, each key's effects committed in the
// key's order. The workload is the same on every backend; a target says how to reach its log
// and store, which faults it gets, and how long its sessions take to expire.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChurnRound, describeFaults, runChurn } from './churn.ts';
import type { PostgresTuning } from './churn-shapes.ts';
import { describeReport } from '../history-checker.ts';

/** A fresh log and store for one run; disposing deletes them. */
export interface ChurnEnvironment extends AsyncDisposable {
  /** What the members and the checker open (`sqlite:…`, `kafka://…`). */
  readonly logUrl: string;
  /** Where the members write their effects (`sqlite:…` for the log's own file, `postgres://…`). */
  readonly storeUrl: string;
}

/** A backend under the churn test. */
export interface ChurnTarget {
  /** For the suite's name: `consumer groups under churn on <name> (F21, F4, F5)`. */
  readonly name: string;
  /** The nemesis' rounds, in order; clock rounds only where group leases are wall-clock times. */
  readonly rounds: readonly ChurnRound[];
  readonly sessionTimeoutMs: number;
  /** The run fails when no member commits an effect for this long. */
  readonly stallTimeoutMs: number;
  /** The whole test's timeout. */
  readonly timeoutMs: number;
  /** How members open a `postgres://` store, as the services do. */
  readonly postgres?: PostgresTuning;
  setup(): Promise<ChurnEnvironment>;
}

/** Registers the churn test of `target`. */
export function describeChurn(target: ChurnTarget): void {
  const { rounds } = target;
  const clocks = rounds.some((round) => round.startsWith('clock'));
  void describe(
    `consumer groups under churn on ${target.name} (F21, F4, F5)`,
    { timeout: target.timeoutMs },
    () => {
      void it(`gives every event exactly one effect, in key order, while members die, stall, ${clocks ? 'leave, join and their clocks jump' : 'leave and join'}`, async (t) => {
        await using env = await target.setup();
        const result = await runChurn({
          logUrl: env.logUrl,
          storeUrl: env.storeUrl,
          topic: 'steps',
          group: 'churn.effects',
          partitions: 6,
          keys: 40,
          members: 3,
          sessionTimeoutMs: target.sessionTimeoutMs,
          rounds,
          produce: { batch: 10, everyMs: 50 },
          progressPerFault: 100,
          stallTimeoutMs: target.stallTimeoutMs,
          handlerDelayMs: 15,
          ...(target.postgres === undefined ? {} : { postgres: target.postgres }),
          say: (line) => t.diagnostic(line),
        });
        const { faults, report } = result;
        const summary =
          `${describeFaults(faults)}; ${describeReport(report)}; ` +
          `late work after SIGCONT: ${result.lateFenced} commits fenced, ${result.lateDeduplicated} deliveries deduplicated ` +
          `(${result.fencedCommits} fenced and ${result.deduplicated} deduplicated in all); ` +
          `${result.pausesThatStalledTheGroup} pauses stalled the group; committed offsets went back ${result.offsetRegressions} times; ` +
          `nemesis ${(result.nemesisMs / 1000).toFixed(1)} s, run ${(result.totalMs / 1000).toFixed(1)} s`;
        console.log(`churn on ${target.name}: ${summary}`);
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
        const count = (round: ChurnRound) => rounds.filter((r) => r === round).length;
        assert.equal(faults.kills, count('kill'));
        assert.equal(faults.pauses, count('pause'));
        assert.ok(
          result.lateFenced + result.lateDeduplicated > 0,
          'no paused member did late work that was fenced or deduplicated: the pauses proved nothing',
        );
      });
    },
  );
}
