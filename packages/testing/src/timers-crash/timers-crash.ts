// Fault covered: processes that fire the durable timers of one store are killed with SIGKILL (a
// process crash) at random moments, two of them racing on the same store in every round, while
// timers come due. Every timer's event is emitted exactly once, never before its time, and none
// is left. The scenario is the same on every store; a backend's test file says how to open its
// store, read what the timers emitted, and start a scheduler process on it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { Store, TimerRecord } from '@herald/core';

/** One event a timer emitted, as the backend stored it. */
export interface EmittedTimer {
  readonly id: string;
  /** The event's data, as the scenario scheduled it. */
  readonly data: Uint8Array | undefined;
  /** When it was appended (or committed), in ms since the epoch, by the backend's own stamp. */
  readonly emittedAt: number;
}

/** What the store holds once the last scheduler ended. */
export interface TimersCrashOutcome {
  readonly pending: readonly TimerRecord[];
  readonly emitted: readonly EmittedTimer[];
}

/** One store under the crash test, fresh for it. */
export interface TimersCrashEnvironment extends AsyncDisposable {
  /** Runs `work` on the store in this process, before any scheduler starts; the events go to topic `reminders`. */
  schedule(work: (store: Store) => Promise<void>): Promise<void>;
  /**
   * A scheduler process: a script that opens the store and hands it to `runTimerScheduler`
   * (`@herald/testing/timer-scheduler`), and its arguments.
   */
  readonly scheduler: { readonly script: URL; readonly args: readonly string[] };
  /** Read once every scheduler has ended. */
  outcome(): Promise<TimersCrashOutcome>;
}

/** A store backend under the crash test. */
export interface TimersCrashTarget {
  /** For the suite's name: `durable timers on <name> under SIGKILL`. */
  readonly name: string;
  /** Where the timers' events go, for the test's name: `the log`, `the outbox`. */
  readonly emittedTo: string;
  readonly timers: number;
  readonly killRounds: number;
  /** Timers come due over about this long: most of the kill rounds. */
  readonly spreadMs: number;
  /**
   * How much earlier than its due time an event may seem emitted because of how the backend
   * stamps it (a stamp taken at the start of the firing transaction, in whole ms). Default 0.
   */
  readonly stampSlackMs?: number;
  setup(): Promise<TimersCrashEnvironment>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers the SIGKILL test of durable timers for `target`. */
export function describeTimersCrash(target: TimersCrashTarget): void {
  const { timers, killRounds, spreadMs } = target;
  void describe(`durable timers on ${target.name} under SIGKILL`, { timeout: 180_000 }, () => {
    void it(`emits each of ${timers} timers' events to ${target.emittedTo} exactly once, at or after its time, across ${killRounds} rounds of two racing schedulers killed`, async () => {
      await using env = await target.setup();
      await using schedulers = new Schedulers(env.scheduler);
      await env.schedule(async (store) => {
        const start = Date.now();
        // Due over the next few seconds, in the order they were scheduled in several transactions.
        for (let i = 0; i < timers; i += 50) {
          await store.transaction(async (tx) => {
            for (let j = i; j < Math.min(i + 50, timers); j++) {
              const dueAt = start + 300 + Math.floor((j * spreadMs) / timers);
              await tx.schedule(dueAt, 'reminders', {
                specversion: '1.0',
                id: `timer-${j}`,
                source: '/timers-crash',
                type: 'dev.herald.test.reminder.v1',
                partitionkey: `key-${j % 13}`,
                data: encoder.encode(JSON.stringify({ dueAt })),
              });
            }
          });
        }
      });
      let killedWhileRunning = 0;
      let firedByKilled = 0;
      for (let round = 0; round < killRounds; round++) {
        const racers = [schedulers.start(), schedulers.start()];
        await Promise.all(racers.map((racer) => racer.waitForLine('started', 20_000)));
        await pause(randomBetween(20, 400));
        for (const racer of racers) {
          if (racer.running) {
            racer.kill('SIGKILL');
            killedWhileRunning++;
          }
          await pause(randomBetween(0, 60));
        }
        await Promise.all(racers.map((racer) => racer.exited));
        for (const racer of racers)
          for (const line of racer.lines)
            if (line.startsWith('fired ')) firedByKilled += Number(line.slice(6));
      }
      assert.ok(
        killedWhileRunning >= killRounds,
        `only ${killedWhileRunning} schedulers were killed while running`,
      );
      // The last scheduler, left alone, fires what is left and stops.
      const last = schedulers.start();
      await last.waitForLine('done', 60_000);
      assert.deepEqual(await last.exited, { code: 0, signal: null });
      assert.ok(
        firedByKilled > 0 && firedByKilled < timers,
        `the killed schedulers fired ${firedByKilled} of ${timers} timers: kills came while timers were firing`,
      );

      const { pending, emitted } = await env.outcome();
      assert.deepEqual(pending, [], 'no timer left');
      const ids = emitted.map((event) => event.id);
      assert.equal(new Set(ids).size, ids.length, 'no timer emitted twice');
      assert.equal(ids.length, timers, 'every timer emitted');
      const slack = target.stampSlackMs ?? 0;
      for (const event of emitted) {
        const { dueAt } = JSON.parse(decoder.decode(event.data)) as { dueAt: number };
        assert.ok(
          event.emittedAt + slack >= dueAt,
          `${event.id} was emitted ${dueAt - event.emittedAt} ms before its time`,
        );
      }
    });
  });
}

/** The scheduler processes of one test; disposing kills those still running. */
class Schedulers implements AsyncDisposable {
  readonly #command: TimersCrashEnvironment['scheduler'];
  readonly #started: SchedulerProcess[] = [];

  constructor(command: TimersCrashEnvironment['scheduler']) {
    this.#command = command;
  }

  start(): SchedulerProcess {
    const scheduler = new SchedulerProcess(this.#command);
    this.#started.push(scheduler);
    return scheduler;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const scheduler of this.#started) if (scheduler.running) scheduler.kill('SIGKILL');
    await Promise.all(this.#started.map((scheduler) => scheduler.exited));
  }
}

/** A scheduler on the test's own Node, stdout read line by line, stderr passed through. */
class SchedulerProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running = true;
  readonly #child: ChildProcess;
  readonly #name: string;

  constructor({ script, args }: TimersCrashEnvironment['scheduler']) {
    const path = fileURLToPath(script);
    this.#name = path.slice(path.lastIndexOf('/') + 1);
    this.#child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', path, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => this.lines.push(line));
    this.exited = new Promise((resolve) =>
      this.#child.on('close', (code, signal) => {
        this.running = false;
        resolve({ code, signal });
      }),
    );
  }

  /**
   * Waits until the process printed `line`. It fails when the process exits first, or when it
   * printed nothing new for `quietMs`: a slow machine that keeps firing never fails it.
   */
  async waitForLine(line: string, quietMs: number): Promise<void> {
    let seen = this.lines.length;
    let deadline = Date.now() + quietMs;
    while (!this.lines.includes(line)) {
      const last = this.lines.slice(-5).join(' | ');
      if (!this.running)
        throw new Error(`${this.#name} exited before printing "${line}"; it printed: ${last}`);
      if (this.lines.length > seen) {
        seen = this.lines.length;
        deadline = Date.now() + quietMs;
      }
      if (Date.now() > deadline)
        throw new Error(`${this.#name} printed nothing new for ${quietMs} ms, not yet "${line}": ${last}`);
      await pause(5);
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }
}
