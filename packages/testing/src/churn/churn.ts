/*
 * A churn run (fault F21): consumer-group members in their own processes (churn-member.ts)
 * consume a topic a producer keeps appending to, while a nemesis kills them with SIGKILL, stops
 * them with SIGSTOP past their session timeout and resumes them, makes them leave gracefully,
 * starts new ones, and moves their wall clocks. Afterwards one healthy member drains the topic,
 * and `checkHistory` reads the log, the group's inbox and the effects the members committed.
 *
 * The nemesis is driven by progress, not by time: after each fault it waits until the group has
 * committed a number of new effects, and only a stretch with no new effect at all
 * (`stallTimeoutMs`) fails the run. A busy machine makes the run longer, never red.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CloudEvent,
  type EventLog,
  type Store,
  fingerprintOf,
  openEventLog,
  openStore,
} from '@herald/core';
import { readPartition } from '@herald/core/ops';
import {
  type AppliedEffect,
  type HistoryReport,
  type LoggedEvent,
  type ProducedEvent,
  checkHistory,
} from '../history-checker.ts';
import {
  CHURN_EVENT_TYPE,
  type ChurnEffect,
  type MemberSettings,
  type PostgresTuning,
} from './churn-shapes.ts';

/**
 * One round of the nemesis:
 * - `kill`: SIGKILL a member, start a new one in its place;
 * - `pause`: SIGSTOP a member until its session timed out and the others moved on with its
 *   partitions, then SIGCONT it (it resumes believing it owns them: its commits must be
 *   refused and its late effects deduplicated);
 * - `leave-join`: a member leaves gracefully (SIGTERM), a new one joins;
 * - `join-leave`: a new member joins, then the oldest leaves gracefully;
 * - `clock-all`: every member's wall clock jumps forward by `clockJumpMs`, then back (a stepped
 *   system clock, seen by each process a moment apart);
 * - `clock-ahead` / `clock-behind`: one member's wall clock runs `clockJumpMs` ahead of (or
 *   behind) the others', then is set right.
 */
export type ChurnRound =
  'kill' | 'pause' | 'leave-join' | 'join-leave' | 'clock-all' | 'clock-ahead' | 'clock-behind';

export interface ChurnOptions {
  /** The log members and the checker open (`sqlite:…`, `kafka://…`). */
  readonly logUrl: string;
  /** The store members write effects to (`sqlite:…` for the log's own file, `postgres://…`). */
  readonly storeUrl: string;
  readonly topic: string;
  readonly group: string;
  readonly partitions: number;
  readonly keys: number;
  /** Members running at once (one more for a moment during `join-leave`). */
  readonly members: number;
  readonly sessionTimeoutMs: number;
  readonly rounds: readonly ChurnRound[];
  /** How far a clock round moves a wall clock. Default three session timeouts. */
  readonly clockJumpMs?: number;
  /** Events per append, and the pause between appends. */
  readonly produce: { readonly batch: number; readonly everyMs: number };
  /** New effects the group must commit after each fault before the next one. */
  readonly progressPerFault: number;
  /** The run fails when no member commits an effect for this long. */
  readonly stallTimeoutMs: number;
  /** Average work of a handler before its transaction. Default 3 ms. */
  readonly handlerDelayMs?: number;
  /** Each member's router's `maxInFlight`. Default 16. */
  readonly maxInFlight?: number;
  /** How members open a `postgres://` store, as a service would (see `openPostgresStore`). */
  readonly postgres?: PostgresTuning;
  /** Where the run reports what it does (a test's `diagnostic`). */
  readonly say?: (line: string) => void;
}

/** Faults injected, by kind. */
export interface FaultCounts {
  kills: number;
  pauses: number;
  leaves: number;
  joins: number;
  clockJumps: number;
}

export interface ChurnResult {
  readonly faults: FaultCounts;
  readonly report: HistoryReport;
  /** Commits the log refused (FENCED), over all members. */
  readonly fencedCommits: number;
  /** Deliveries that had no effect because the inbox held the event already, over all members. */
  readonly deduplicated: number;
  /** Of those, by members after they were resumed from a pause: their late work. */
  readonly lateFenced: number;
  readonly lateDeduplicated: number;
  /**
   * Pauses during which no other member committed anything: the paused one held what the others
   * needed (the embedded log's write lock, rows a Postgres transaction of its had locked).
   */
  readonly pausesThatStalledTheGroup: number;
  /** Times a sampled committed offset of a partition was lower than one sampled before. */
  readonly offsetRegressions: number;
  /** Members that exited without being told to, with the end of their stderr. */
  readonly unexpectedExits: readonly string[];
  readonly nemesisMs: number;
  readonly totalMs: number;
}

/** `4 SIGKILLs, 4 SIGSTOPs past the session timeout, …` */
export function describeFaults(faults: FaultCounts): string {
  return (
    `${faults.kills} SIGKILLs, ${faults.pauses} SIGSTOPs past the session timeout (then SIGCONT), ` +
    `${faults.leaves} graceful leaves, ${faults.joins} joins, ${faults.clockJumps} wall-clock jumps`
  );
}

const MEMBER_PATH = new URL('./churn-member.ts', import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One member process and what it printed. */
class Member {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: string[] = [];
  assignment: number[] = [];
  applied = 0;
  /** Effects committed by this member, per partition. */
  readonly appliedIn = new Map<number, number>();
  deduplicated = 0;
  fenced = 0;
  ready = false;
  stopped = false;
  /** The nemesis ended it (kill or SIGTERM) or asked it to drain: its exit is expected. */
  expectExit = false;
  running = true;
  readonly #onLine: () => void;

  constructor(name: string, settings: MemberSettings, onLine: () => void) {
    this.name = name;
    this.#onLine = onLine;
    this.child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', MEMBER_PATH, JSON.stringify(settings)],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    // A stopped or killed member cannot read its stdin; writes to it are best effort.
    this.child.stdin!.on('error', () => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.#line(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      if (this.stderr.length > 60) this.stderr.shift();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        this.running = false;
        resolve({ code, signal });
        this.#onLine();
      }),
    );
  }

  #line(line: string): void {
    const space = line.indexOf(' ');
    const word = space === -1 ? line : line.slice(0, space);
    const rest = space === -1 ? '' : line.slice(space + 1);
    if (word === 'applied') {
      this.applied++;
      const partition = Number(rest.split(' ')[0]);
      this.appliedIn.set(partition, (this.appliedIn.get(partition) ?? 0) + 1);
    } else if (word === 'dedup') this.deduplicated++;
    else if (word === 'fenced') this.fenced++;
    else if (word === 'assigned') this.assignment = JSON.parse(rest) as number[];
    else if (word === 'ready') this.ready = true;
    else if (word === 'stopped') this.stopped = true;
    this.#onLine();
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  clock(deltaMs: number): void {
    if (this.running) this.child.stdin!.write(`clock ${deltaMs}\n`);
  }
}

/**
 * Runs a churn: creates the topic, starts the members and the producer, runs `rounds`, drains,
 * and checks the history. Every process it started is gone when it returns or throws.
 */
export async function runChurn(options: ChurnOptions): Promise<ChurnResult> {
  const say = options.say ?? (() => undefined);
  const started = performance.now();
  const log = await openEventLog(options.logUrl);
  await log.createTopic(options.topic, { partitions: options.partitions });
  // Opened before any member, so that a store creating its tables does so once.
  const store = await openStore(options.storeUrl, { log, publish: false });
  const members: Member[] = [];
  const faults: FaultCounts = { kills: 0, pauses: 0, leaves: 0, joins: 0, clockJumps: 0 };
  const unexpectedExits: string[] = [];
  let incarnation = 0;
  let lastEffectAt = performance.now();
  let wake: (() => void) | undefined;
  const totalApplied = () => members.reduce((sum, m) => sum + m.applied, 0);
  let appliedSeen = 0;
  const onLine = () => {
    const now = totalApplied();
    if (now !== appliedSeen) {
      appliedSeen = now;
      lastEffectAt = performance.now();
    }
    const w = wake;
    wake = undefined;
    w?.();
  };
  /** Waits until `condition` holds; fails when no member committed an effect for `stallTimeoutMs`. */
  const until = async (condition: () => boolean, what: string): Promise<void> => {
    while (!condition()) {
      const unexpected = members.find((m) => !m.running && !m.expectExit);
      if (unexpected !== undefined) await noteExit(unexpected);
      if (unexpectedExits.length > 0)
        throw new Error(`a member exited on its own: ${unexpectedExits.join('\n')}`);
      if (performance.now() - lastEffectAt > options.stallTimeoutMs) {
        throw new Error(
          `no effect committed for ${options.stallTimeoutMs} ms while waiting for ${what}; ` +
            `members: ${members
              .filter((m) => m.running)
              .map((m) => `${m.name} [${m.assignment.join(',')}] ${m.applied} applied`)
              .join('; ')}`,
        );
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  };
  const noted = new Set<Member>();
  const noteExit = async (member: Member) => {
    if (noted.has(member)) return;
    noted.add(member);
    const { code, signal } = await member.exited;
    unexpectedExits.push(
      `${member.name} exited (code ${code}, signal ${signal}): ${member.stderr.slice(-50).join('\n')}`,
    );
  };

  /**
   * Starts a member. A fault waits for it to have joined: a process that opens the embedded log
   * while another is stopped holding its write lock fails to start (after the busy timeout), as
   * it should, and that is not the fault under test.
   */
  const start = (drain = false): Member => {
    const name = `m${++incarnation}`;
    const member = new Member(
      name,
      {
        logUrl: options.logUrl,
        storeUrl: options.storeUrl,
        group: options.group,
        topic: options.topic,
        name,
        sessionTimeoutMs: options.sessionTimeoutMs,
        handlerDelayMs: options.handlerDelayMs ?? 3,
        maxInFlight: options.maxInFlight ?? 16,
        drain,
        ...(options.postgres === undefined ? {} : { postgres: options.postgres }),
      },
      onLine,
    );
    if (drain) member.expectExit = true;
    members.push(member);
    return member;
  };
  const joined = (member: Member) => until(() => member.ready, `${member.name} to join`);
  const running = () => members.filter((m) => m.running && !m.expectExit);
  const pick = (from: readonly Member[]): Member => from[Math.floor(Math.random() * from.length)]!;
  /** A running member, one that owns partitions when there is one. */
  const pickOwner = (): Member => {
    const owners = running().filter((m) => m.assignment.length > 0);
    return pick(owners.length > 0 ? owners : running());
  };
  /**
   * Watches the partitions `victim` holds now. `taken(since, minMs)` waits at least `minMs`,
   * then until the other members committed `progressPerFault` effects in those partitions (they
   * took them over), giving up four session timeouts (at least 5 s) after `since`: a member
   * stopped inside a store transaction can hold what the new owners need until it resumes. It
   * resolves whether the others committed anything at all meanwhile.
   */
  const watchHandover = (victim: Member) => {
    const held = [...victim.assignment];
    const othersIn = () =>
      members
        .filter((m) => m !== victim)
        .reduce((sum, m) => sum + held.reduce((s, p) => s + (m.appliedIn.get(p) ?? 0), 0), 0);
    const othersAnywhere = () => totalApplied() - victim.applied;
    const inBefore = othersIn();
    const anywhereBefore = othersAnywhere();
    const deadline = Math.max(5_000, 4 * options.sessionTimeoutMs);
    return {
      taken: async (since: number, minMs: number): Promise<boolean> => {
        if (minMs > 0) await sleep(minMs);
        const done = () => held.length === 0 || othersIn() >= inBefore + options.progressPerFault;
        while (!done() && performance.now() - since < deadline) await sleep(50);
        return othersAnywhere() > anywhereBefore;
      },
    };
  };
  const progress = async (what: string, count = options.progressPerFault) => {
    const target = totalApplied() + count;
    await until(() => totalApplied() >= target, `${count} new effects after ${what}`);
  };
  /** Ends a member gracefully; its exit code must be 0. `fault`: counted as a leave of the churn. */
  const leave = async (member: Member, fault = true) => {
    member.expectExit = true;
    member.signal('SIGTERM');
    await until(() => !member.running, `${member.name} to leave`);
    const { code, signal } = await member.exited;
    if (code !== 0) {
      unexpectedExits.push(
        `${member.name} left with code ${code} (signal ${signal}): ${member.stderr.slice(-50).join('\n')}`,
      );
    }
    if (fault) faults.leaves++;
  };

  // ---- producer ----
  const acknowledged: ProducedEvent[] = [];
  const sequence = new Map<string, number>();
  let producing = true;
  let appendFailures = 0;
  let nextKey = 0;
  const producer = (async () => {
    while (producing) {
      const batch: CloudEvent[] = [];
      const produced: ProducedEvent[] = [];
      for (let i = 0; i < options.produce.batch; i++) {
        const key = `k${String(nextKey++ % options.keys).padStart(3, '0')}`;
        const seq = (sequence.get(key) ?? 0) + 1;
        sequence.set(key, seq);
        const id = `${options.group}/${key}/${seq}`;
        produced.push({ id, key, seq });
        batch.push({
          specversion: '1.0',
          id,
          source: '/herald-churn',
          type: CHURN_EVENT_TYPE,
          datacontenttype: 'application/json',
          partitionkey: key,
          data: encoder.encode(JSON.stringify({ key, seq })),
        });
      }
      try {
        await log.appendBatch(options.topic, batch);
        acknowledged.push(...produced);
      } catch {
        // Not acknowledged: maybe in the log, maybe not. The checker expects an effect for
        // whatever the log holds; the next events of these keys take new sequence numbers.
        appendFailures++;
      }
      await sleep(options.produce.everyMs);
    }
  })();

  // ---- committed offsets, sampled: they must never go back (F4) ----
  let sampling = true;
  let offsetRegressions = 0;
  const highestCommitted = new Map<number, number>();
  const sampler = (async () => {
    while (sampling) {
      try {
        const group = await log.describeGroup(options.group);
        for (const p of group.partitions) {
          if (p.topic !== options.topic || p.committed === null) continue;
          const before = highestCommitted.get(p.partition) ?? 0;
          if (p.committed < before) {
            offsetRegressions++;
            say(`partition ${p.partition}'s committed offset went back from ${before} to ${p.committed}`);
          }
          highestCommitted.set(p.partition, Math.max(before, p.committed));
        }
      } catch {
        // A describe that fails while members churn says nothing about offsets.
      }
      await sleep(250);
    }
  })();

  let lateFenced = 0;
  let lateDeduplicated = 0;
  let pausesThatStalledTheGroup = 0;
  let nemesisMs: number;
  let history: HistoryReport;
  try {
    // The first members are not faults; every later start is a join.
    for (let i = 0; i < options.members; i++) start();
    await until(() => running().every((m) => m.ready), 'the members to start');
    await progress('the start');

    const nemesisStarted = performance.now();
    const jump = options.clockJumpMs ?? 3 * options.sessionTimeoutMs;
    for (const [index, round] of options.rounds.entries()) {
      const fencedBefore = members.reduce((sum, m) => sum + m.fenced, 0);
      const dedupBefore = members.reduce((sum, m) => sum + m.deduplicated, 0);
      const roundStarted = performance.now();
      switch (round) {
        case 'kill': {
          const victim = pickOwner();
          const handover = watchHandover(victim);
          victim.expectExit = true;
          victim.signal('SIGKILL');
          await victim.exited;
          faults.kills++;
          await joined(start());
          faults.joins++;
          // Its partitions move once its session expires; the new owners redo what it had not
          // committed, and the inbox must keep each of those events to one effect.
          await handover.taken(performance.now(), 0);
          await progress('a SIGKILL');
          break;
        }
        case 'pause': {
          const victim = pickOwner();
          const handover = watchHandover(victim);
          victim.signal('SIGSTOP');
          faults.pauses++;
          // Past the session timeout in any case, then until the others took its partitions over.
          const moved = await handover.taken(performance.now(), options.sessionTimeoutMs * 1.5);
          if (!moved) pausesThatStalledTheGroup++;
          const victimFenced = victim.fenced;
          const victimDeduplicated = victim.deduplicated;
          victim.signal('SIGCONT');
          await progress('a SIGCONT');
          // Its late work: what it tried for the claims it held when it stopped.
          await sleep(options.sessionTimeoutMs);
          lateFenced += victim.fenced - victimFenced;
          lateDeduplicated += victim.deduplicated - victimDeduplicated;
          break;
        }
        case 'leave-join': {
          await leave(pick(running()));
          await joined(start());
          faults.joins++;
          await progress('a leave and a join');
          break;
        }
        case 'join-leave': {
          await joined(start());
          faults.joins++;
          await progress('a join');
          await leave(running()[0]!);
          await progress('a leave');
          break;
        }
        case 'clock-all': {
          const all = running();
          for (const m of all) m.clock(jump);
          faults.clockJumps++;
          await progress('every wall clock jumped forward');
          for (const m of all) m.clock(-jump);
          faults.clockJumps++;
          await progress('every wall clock jumped back');
          break;
        }
        case 'clock-ahead':
        case 'clock-behind': {
          const victim = pick(running());
          const delta = round === 'clock-ahead' ? jump : -jump;
          victim.clock(delta);
          faults.clockJumps++;
          await progress(`a wall clock jumped by ${delta} ms`);
          victim.clock(-delta);
          faults.clockJumps++;
          await progress('the wall clock set right');
          break;
        }
      }
      say(
        `round ${index + 1}/${options.rounds.length} ${round}: ` +
          `${members.reduce((sum, m) => sum + m.fenced, 0) - fencedBefore} commits fenced, ` +
          `${members.reduce((sum, m) => sum + m.deduplicated, 0) - dedupBefore} deliveries deduplicated, ` +
          `${((performance.now() - roundStarted) / 1000).toFixed(1)} s`,
      );
    }
    nemesisMs = performance.now() - nemesisStarted;

    // ---- drain: the producer stops, every member leaves, one healthy member finishes ----
    producing = false;
    await producer;
    for (const m of running()) await leave(m, false);
    const drainer = start(true);
    await until(() => !drainer.running, 'the last member to drain the topic');
    const { code } = await drainer.exited;
    if (code !== 0 || !drainer.stopped) {
      throw new Error(
        `the draining member exited with code ${code}: ${drainer.stderr.slice(-15).join('\n')}`,
      );
    }
    sampling = false;
    await sampler;

    history = await readHistory(log, store, options, acknowledged);
  } finally {
    producing = false;
    sampling = false;
    for (const m of members) {
      m.expectExit = true;
      m.signal('SIGKILL');
    }
    await Promise.all(members.map((m) => m.exited));
    await producer;
    await sampler;
    await store.close();
    await log.close();
  }
  if (appendFailures > 0) say(`${appendFailures} appends failed (not acknowledged)`);
  return {
    faults,
    report: history,
    fencedCommits: members.reduce((sum, m) => sum + m.fenced, 0),
    deduplicated: members.reduce((sum, m) => sum + m.deduplicated, 0),
    lateFenced,
    lateDeduplicated,
    pausesThatStalledTheGroup,
    offsetRegressions,
    unexpectedExits,
    nemesisMs,
    totalMs: performance.now() - started,
  };
}

/** The log, the inbox and the effects as they stand, checked. */
async function readHistory(
  log: EventLog,
  store: Store,
  options: ChurnOptions,
  acknowledged: readonly ProducedEvent[],
): Promise<HistoryReport> {
  const logged: LoggedEvent[] = [];
  const inbox = new Set<string>();
  for (let partition = 0; partition < options.partitions; partition++) {
    const events = [];
    for await (const event of readPartition(log, options.topic, partition)) events.push(event);
    for (const event of events) {
      const { key, seq } = JSON.parse(decoder.decode(event.data)) as { key: string; seq: number };
      logged.push({ id: event.id, key, seq, partition: event.partition, offset: event.offset });
    }
    // The inbox is asked about every event the log holds, a few at a time.
    for (let i = 0; i < events.length; i += 32) {
      await Promise.all(
        events.slice(i, i + 32).map(async (event) => {
          const status = await store.inboxStatus(options.group, event.id, fingerprintOf(event));
          if (status !== 'unseen') inbox.add(event.id);
        }),
      );
    }
  }
  const effects: AppliedEffect[] = (await store.list<ChurnEffect>('churn-effects')).map(({ value }) => ({
    eventId: value.eventId,
    key: value.key,
    seq: value.seq,
    applied: value.applied,
  }));
  return checkHistory({ acknowledged, log: logged, inbox, effects });
}
