// The harness every EventLog conformance group runs on: what a backend supplies (a target),
// the fixture each test gets, the capability gates, and the helpers the groups share.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { isHeraldError } from '@herald/core';
import type {
  AppendResult,
  CloudEvent,
  EventLog,
  HeraldErrorCode,
  StoredEvent,
  Subscription,
  TopicPartition,
} from '@herald/core';
import { faultInjection } from '@herald/core/backend';
import type { FaultInjectable } from '@herald/core/backend';
import { collect, makeEvent, waitFor } from './fixtures.ts';

/** One log shared by the clients a test opens. */
export interface ConformanceEnvironment extends AsyncDisposable {
  /** Opens a client on this environment's log; several calls give clients sharing one log, as separate processes would. */
  open(): Promise<EventLog>;
}

/**
 * How a test makes one client's process die or stall while the others go on. A backend
 * without them skips the tests that need a member to die or stall, saying so.
 */
export interface FaultHooks {
  /** Stops heartbeating without leaving the group, as kill -9 would. */
  crash(): void;
  /** Stops heartbeating and delivering until `thaw`, as SIGSTOP would. */
  freeze(): void;
  thaw(): void;
}

/** A backend under test. */
export interface ConformanceTarget {
  readonly name: string;
  /** A fresh, empty log for one test; disposing it closes clients still open and removes what it made. */
  setup(): Promise<ConformanceEnvironment>;
  /**
   * Longest topic name the target's logs accept. Default 249 (Kafka's limit); a target whose
   * logs add a namespace prefix to every name on the cluster accepts that many fewer.
   */
  readonly maxTopicNameLength?: number;
  /**
   * Deadline for anything involving a rebalance or a delivery, default 10 000 ms; and the
   * timeout of each test, default 30 000 ms. A broker whose group coordinator enforces a
   * minimum session timeout (Kafka: 6 s) needs longer ones; tests poll, so a fast backend
   * never waits for them.
   */
  readonly deadlineMs?: number;
  readonly testTimeoutMs?: number;
  /**
   * The fault hooks of a client `setup()` opened, or undefined when it has none. Default: the
   * hooks the client exposes under `faultInjection` from `@herald/core/backend`.
   */
  faults?(log: EventLog): FaultHooks | undefined;
}

/**
 * What a test needs beyond the base contract. A test whose need the backend does not meet is
 * skipped with the reason: `durable` and `timestampSeek` as the log's `capabilities` declare
 * them, `faults` when the target offers no {@link FaultHooks}.
 */
export type ConformanceRequirement = 'durable' | 'timestampSeek' | 'faults';

/** What each conformance test receives: a fresh environment and its first client. */
export interface ConformanceFixture {
  readonly env: ConformanceEnvironment;
  /** The first client opened on `env`. */
  readonly log: EventLog;
  /** The fault hooks of `log`; defined whenever the test requires `faults`. */
  readonly faults: FaultHooks | undefined;
  readonly t: TestContext;
}

/** One behaviour area of the suite: its tests, registered on a {@link ConformanceSuite}. */
export interface ConformanceGroup {
  readonly title: string;
  define(suite: ConformanceSuite): void;
}

/**
 * Deadline for anything that involves a rebalance or a delivery. Generous because a durable
 * backend's rebalance goes through its storage and the machine may be loaded; tests poll, so a
 * fast backend finishes long before it.
 */
const DEFAULT_DEADLINE_MS = 10_000;
const DEFAULT_TEST_TIMEOUT_MS = 30_000;
const KAFKA_MAX_TOPIC_NAME = 249;
/** Session timeout for members a test lets die; deaths are noticed within a few of these. */
export const SHORT_SESSION_MS = 1_000;
/** Long enough that a takeover seen before it cannot be a session expiry. */
export const LONG_SESSION_MS = 30_000;
/** How long a test watches to be sure that nothing more arrives. */
export const QUIET_MS = 250;

const REASONS: Readonly<Record<ConformanceRequirement, string>> = {
  durable: 'backend declares durable: false',
  timestampSeek: 'backend declares timestampSeek: false',
  faults: 'backend offers no fault injection',
};

/** The default fault hooks: those a client exposes under `faultInjection`. */
function injectedFaults(log: EventLog): FaultHooks | undefined {
  return faultInjection in log ? (log as EventLog & FaultInjectable)[faultInjection] : undefined;
}

/** Why the test cannot run on this backend, or undefined when every requirement is met. */
function unmet(
  requirements: readonly ConformanceRequirement[],
  log: EventLog,
  faults: FaultHooks | undefined,
): string | undefined {
  const missing = requirements.find((requirement) =>
    requirement === 'faults' ? faults === undefined : !log.capabilities[requirement],
  );
  return missing === undefined ? undefined : REASONS[missing];
}

/**
 * One target's settings and the way its tests are registered: each test gets a fresh
 * environment, disposed when it ends whatever the outcome.
 */
export class ConformanceSuite {
  readonly target: ConformanceTarget;
  readonly deadlineMs: number;
  readonly maxTopicNameLength: number;
  readonly #options: { readonly timeout: number };

  constructor(target: ConformanceTarget) {
    this.target = target;
    this.deadlineMs = target.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.maxTopicNameLength = target.maxTopicNameLength ?? KAFKA_MAX_TOPIC_NAME;
    this.#options = { timeout: target.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS };
  }

  /** Registers one test with node:test; with `requires`, skipped with a reason on a backend that lacks them. */
  test(name: string, fn: (fixture: ConformanceFixture) => Promise<void>): void;
  test(
    name: string,
    gate: { readonly requires: readonly ConformanceRequirement[] },
    fn: (fixture: ConformanceFixture) => Promise<void>,
  ): void;
  test(
    name: string,
    gateOrFn:
      | { readonly requires: readonly ConformanceRequirement[] }
      | ((fixture: ConformanceFixture) => Promise<void>),
    maybeFn?: (fixture: ConformanceFixture) => Promise<void>,
  ): void {
    const requires = typeof gateOrFn === 'function' ? [] : gateOrFn.requires;
    const fn = typeof gateOrFn === 'function' ? gateOrFn : maybeFn!;
    void it(name, this.#options, async (t) => {
      await using env = await this.target.setup();
      const log = await env.open();
      const faults = this.target.faults === undefined ? injectedFaults(log) : this.target.faults(log);
      const reason = unmet(requires, log, faults);
      if (reason !== undefined) {
        t.skip(reason);
        return;
      }
      await fn({ env, log, faults, t });
    });
  }
}

/** Registers `groups` for `target` under one `describe` named `title`. */
export function describeGroups(
  title: string,
  target: ConformanceTarget,
  groups: readonly ConformanceGroup[],
): void {
  const suite = new ConformanceSuite(target);
  void describe(title, () => {
    for (const group of groups) void describe(group.title, () => group.define(suite));
  });
}

/** An assert.rejects validator: a HeraldError with this code. */
export function heraldError(code: HeraldErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      isHeraldError(error, code),
      `expected HeraldError ${code}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
    return true;
  };
}

export const tpKey = (tp: TopicPartition): string => `${tp.topic}/${tp.partition}`;

export function keysOf(partitions: readonly TopicPartition[]): string[] {
  return partitions.map(tpKey).sort();
}

/** True when no partition appears in two of the given assignments. */
export function disjoint(assignments: readonly (readonly TopicPartition[])[]): boolean {
  const seen = new Set<string>();
  for (const assignment of assignments) {
    for (const tp of assignment) {
      if (seen.has(tpKey(tp))) return false;
      seen.add(tpKey(tp));
    }
  }
  return true;
}

/** True once every member owns at least one partition and together they own exactly `total`. */
export function split(members: readonly Subscription[], total: number): boolean {
  return (
    members.every((m) => m.assignment().length > 0) &&
    members.reduce((n, m) => n + m.assignment().length, 0) === total
  );
}

export function ownedBy(subscription: Subscription, event: StoredEvent): boolean {
  return subscription.assignment().some((tp) => tp.topic === event.topic && tp.partition === event.partition);
}

export function idsOf(events: readonly CloudEvent[]): string[] {
  return events.map((event) => event.id).sort();
}

/** Appends `count` keyed events (keys `key-0`…`key-<keys-1>` in turn) and returns what was stored. */
export async function appendKeyed(log: EventLog, topic: string, count: number, keys = 8, first = 0) {
  const results: { event: CloudEvent; result: AppendResult }[] = [];
  for (let i = first; i < first + count; i++) {
    const event = makeEvent(i, `key-${i % keys}`);
    results.push({ event, result: await log.append(topic, event) });
  }
  return results;
}

/** Appends events `first`…`first + count - 1` without keys, in one batch. */
export function appendNumbered(
  log: EventLog,
  topic: string,
  count: number,
  first = 0,
): Promise<readonly AppendResult[]> {
  return log.appendBatch(
    topic,
    Array.from({ length: count }, (_, i) => makeEvent(first + i)),
  );
}

/** The offset `group` committed on one partition, or null when it committed none. */
export async function committedOf(
  log: EventLog,
  group: string,
  topic: string,
  partition: number,
): Promise<number | null> {
  const description = await log.describeGroup(group);
  return (
    description.partitions.find((p) => p.topic === topic && p.partition === partition)?.committed ?? null
  );
}

/**
 * The start of every fault test: two members of group `billing`, `first` on client `a` and
 * `second` on client `b`, with short sessions, split the four partitions of `orders`; 40 keyed
 * events are appended and each member receives those of its partitions. `second` commits
 * everything it got; `first` commits nothing, so what it got is what a takeover redelivers.
 */
export async function twoMembersHoldingEvents(
  suite: ConformanceSuite,
  a: EventLog,
  b: EventLog,
): Promise<{ first: Subscription; second: Subscription; firstGot: StoredEvent[] }> {
  await b.createTopic('orders', { partitions: 4 });
  const settings = { group: 'billing', topics: ['orders'], sessionTimeoutMs: SHORT_SESSION_MS };
  const first = await a.subscribe(settings);
  const second = await b.subscribe(settings);
  await waitFor(() => split([first, second], 4), suite.deadlineMs, 'two members to split the partitions');
  const owned = first.assignment();
  const appended = await appendKeyed(b, 'orders', 40, 16);
  const ofFirst = appended.filter((x) => owned.some((tp) => tp.partition === x.result.partition));
  const firstGot = await collect(first, ofFirst.length, suite.deadlineMs);
  const secondGot = await collect(second, appended.length - ofFirst.length, suite.deadlineMs);
  for (const event of secondGot) await second.commit(event);
  return { first, second, firstGot };
}
