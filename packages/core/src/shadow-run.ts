// Shadow runs: a new version of a group's handlers run over a window of history against a copy
// of the group's state, applying nothing and firing no effect, then compared with what the
// running version did. The comparison finds the running version's output by causation: every
// event a handler emits carries the id of the event it handled as `causationid`.
import { isDeepStrictEqual } from 'node:util';
import { causationOf, eventBeingHandled, stampCausation } from './causation.ts';
import type { CloudEvent, StoredEvent } from './envelope.ts';
import { HeraldError } from './errors.ts';
import type { AppendResult, EventLog } from './event-log.ts';
import type { HandlerContext, Middleware } from './runtime/handler.ts';
import { readPartition } from './read-partition.ts';
import { type EventDecoder, type Router, createRouter } from './runtime/router.ts';
import type { Store, StoreTransaction } from './runtime/store.ts';
import { type RecordedEmit, ShadowStore } from './shadow-store.ts';

/** One end of a shadow window: a time (ms since the epoch) or an offset in every partition. */
export type ShadowBound = { readonly timestamp: number } | { readonly offset: number };

/** What the shadowed handlers get instead of the real log and store. */
export interface ShadowContext {
  /** Reads go to the real log; `append`/`appendBatch` are recorded, never written. */
  readonly log: EventLog;
  /** A copy-on-write overlay over the state store (or an empty store): nothing is written through. */
  readonly store: Store;
  /** What the shadow's state started as (`startFrom`): a router may seed an empty one first. */
  readonly startFrom: 'state' | 'empty';
}

/**
 * What is shadowed: the group, its topics, the new version's handlers (or router) and where the
 * running version's output is. A module `herald shadow` loads exports one (`serviceShadow` in
 * `@herald/service` makes one of a service definition).
 *
 * @example
 * export default { group: 'loyalty.points', topics: ['orders'], outputs: ['loyalty'],
 *   handlers: (router) => router.on(OrderConfirmed, newRule) } satisfies ShadowTarget;
 */
export type ShadowTarget = Pick<
  ShadowRunOptions,
  'group' | 'topics' | 'handlers' | 'router' | 'middleware' | 'decoder' | 'outputs'
>;

export interface ShadowRunOptions {
  /** The log whose history is read: only `read` and `describeTopic` are called on it. */
  readonly log: EventLog;
  /** The group whose new version is shadowed (its name is what its handlers see as `ctx.group`). */
  readonly group: string;
  /** The topics the group reads. */
  readonly topics: readonly string[];
  /**
   * The new version's handlers, registered on a router made for the shadow (with `middleware`
   * and `decoder`). Give this or `router`.
   */
  readonly handlers?: (router: Router, shadow: ShadowContext) => void;
  /**
   * The new version as a whole router built over the shadow's log and store (a service's own
   * stack); it may first prepare the shadow's state.
   */
  readonly router?: (shadow: ShadowContext) => Router | Promise<Router>;
  /** Middleware of the router `handlers` are registered on. Default none. */
  readonly middleware?: readonly Middleware[];
  readonly decoder?: EventDecoder;
  /**
   * The running version's store. Its committed documents are what the shadow's writes are
   * compared with, and (with `startFrom: 'state'`) what the shadow reads under its own writes.
   */
  readonly state?: Store;
  /**
   * What the shadow's state starts as: `state` (default), the running version's current
   * documents under a copy-on-write overlay; or `empty`, for a window that starts at the
   * beginning of history, so that what handlers accumulate (a balance, a count) is rebuilt
   * rather than added twice.
   */
  readonly startFrom?: 'state' | 'empty';
  /**
   * The topics the running version writes, where its output is looked up by causation. Default:
   * the topics the shadow emitted to. List only topics no other group writes events caused by
   * the same events, or their events count as this group's output.
   */
  readonly outputs?: readonly string[];
  /** First event of the window (inclusive). Default the earliest retained. */
  readonly from?: ShadowBound;
  /** End of the window (exclusive). Default the end of each partition when the run starts. */
  readonly to?: ShadowBound;
  /** Samples kept per event type and outcome, and per collection. Default 5. */
  readonly samples?: number;
  readonly signal?: AbortSignal;
}

/** One partition of the window: offsets `from` (inclusive) to `to` (exclusive) as read. */
export interface ShadowWindow {
  readonly topic: string;
  readonly partition: number;
  readonly from: number;
  readonly to: number;
  readonly events: number;
}

/** An emitted event as a sample shows it: data decoded from JSON where it is JSON. */
export interface ShadowEventView {
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly data: unknown;
}

/** A sample of one outcome: the event handled, and what each version emitted for it. */
export interface ShadowEventSample {
  /** The id of the handled event (the emitted events' `causationid`). */
  readonly cause: string;
  readonly running?: ShadowEventView;
  readonly shadow?: ShadowEventView;
}

/**
 * The diff of one emitted event type: `same` (both versions emitted it for the same event with
 * equal data), `different` (both, data differs), `new` (only the shadow), `missing` (only the
 * running version).
 */
export interface ShadowEventDiff {
  readonly type: string;
  readonly same: number;
  readonly different: number;
  readonly new: number;
  readonly missing: number;
  readonly samples: {
    readonly different: readonly ShadowEventSample[];
    readonly new: readonly ShadowEventSample[];
    readonly missing: readonly ShadowEventSample[];
  };
}

/** A document sample: the store's current value and the shadow's (`null`: deleted in the shadow). */
export interface ShadowDocumentSample {
  readonly id: string;
  readonly current: unknown;
  readonly shadow: unknown;
}

/**
 * The diff of one collection's documents the shadow wrote, against the running version's
 * CURRENT documents (not as they were when each event was handled): `same`, `different`, `new`
 * (the store has none), `removed` (the shadow deleted a document the store has).
 */
export interface ShadowCollectionDiff {
  readonly collection: string;
  readonly same: number;
  readonly different: number;
  readonly new: number;
  readonly removed: number;
  readonly samples: readonly ShadowDocumentSample[];
}

/** A handled event whose handling threw (after the shadow router's own middleware). */
export interface ShadowFailure {
  readonly eventId: string;
  readonly type: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly error: string;
}

export interface ShadowReport {
  readonly group: string;
  readonly window: readonly ShadowWindow[];
  /**
   * Events of the window given to the handlers, by type (an event no route takes is skipped, as a
   * router skips it, and counted here all the same).
   */
  readonly handled: Readonly<Record<string, number>>;
  readonly failures: readonly ShadowFailure[];
  /** Declared effects (`ctx.effect`) the shadow suppressed, by name. */
  readonly effects: Readonly<Record<string, number>>;
  /** Emitted events compared, by type, sorted by type. */
  readonly events: readonly ShadowEventDiff[];
  /** Documents compared with the `state` store's current ones; undefined without `state`. */
  readonly state: readonly ShadowCollectionDiff[] | undefined;
  /** Topics where the running version's output was looked up. */
  readonly outputs: readonly string[];
}

/**
 * Runs a new version of a group's handlers over a window of history and reports how its output
 * differs from the running version's. Nothing is written: the log is only read (no consumer
 * group, nothing committed), emitted events and store writes are recorded in memory, declared
 * effects are suppressed and counted (`ctx.replaying` is true). Events are handled one at a time,
 * across partitions in the order they were appended (by timestamp), each partition in offset
 * order: state shared by keys of several partitions (a customer's account fed by orders keyed
 * by order id) builds up as it did when the running version handled them live.
 *
 * The running version's output is the events of `outputs` whose `causationid` is the id of a
 * handled event; the two sides are paired by topic, type and key and compared on their data.
 * State is compared with the running store's current documents: for a window that ends before
 * the end of history, later events have moved them on.
 *
 * @example
 * const report = await shadowRun({
 *   log, group: 'loyalty.points', topics: ['orders'], state: store, startFrom: 'empty',
 *   handlers: (router) => router.on(OrderConfirmed, newRule),
 * });
 */
export async function shadowRun(options: ShadowRunOptions): Promise<ShadowReport> {
  const { log, group, topics } = options;
  if (topics.length === 0) throw new HeraldError('INVALID_ARGUMENT', 'a shadow run needs at least one topic');
  if ((options.handlers === undefined) === (options.router === undefined)) {
    throw new HeraldError('INVALID_ARGUMENT', 'a shadow run needs handlers or a router: exactly one of them');
  }
  const sampleLimit = options.samples ?? 5;
  const emitted = new Map<string, RecordedEmit[]>();
  const record = (emit: RecordedEmit) => {
    const cause = causationOf(emit.event);
    if (cause === undefined) return;
    const list = emitted.get(cause);
    if (list === undefined) emitted.set(cause, [emit]);
    else list.push(emit);
  };
  const store = new ShadowStore(options.startFrom === 'empty' ? undefined : options.state, record);
  const shadowLog = recordingLog(log, record);
  const shadow: ShadowContext = { log: shadowLog, store, startFrom: options.startFrom ?? 'state' };
  const router = await buildRouter(options, shadow);
  if (router.group !== group) {
    throw new HeraldError('INVALID_ARGUMENT', `the shadow router is for group ${router.group}, not ${group}`);
  }

  const signal = options.signal ?? new AbortController().signal;
  const handled = new Map<string, StoredEvent>();
  const handledByType: Record<string, number> = {};
  const effects: Record<string, number> = {};
  const failures: ShadowFailure[] = [];
  const cursors: Cursor[] = [];
  for (const topic of topics) {
    const { partitionInfo } = await log.describeTopic(topic);
    for (const { partition, earliest, latest } of partitionInfo) {
      const start = startOf(options.from, earliest);
      const events = readPartition(log, topic, partition, { from: start });
      const cursor: Cursor = {
        window: { topic, partition, from: 'offset' in start ? start.offset : latest, to: latest, events: 0 },
        events,
        head: undefined,
        end: latest,
      };
      await advance(cursor, options.to);
      cursors.push(cursor);
    }
  }
  // Every partition's next event; the earliest appended is handled first (ties in topic and
  // partition order), so the shadow sees the window in the order it was written, across keys.
  for (;;) {
    let next: Cursor | undefined;
    for (const cursor of cursors) {
      if (
        cursor.head !== undefined &&
        (next?.head === undefined || cursor.head.timestamp < next.head.timestamp)
      )
        next = cursor;
    }
    const event = next?.head;
    if (next === undefined || event === undefined) break;
    signal.throwIfAborted();
    if (next.window.events === 0) next.window.from = event.offset;
    next.window.to = event.offset + 1;
    next.window.events++;
    handled.set(event.id, event);
    handledByType[event.type] = (handledByType[event.type] ?? 0) + 1;
    const context = shadowContext(event, group, shadow, store, signal, effects);
    try {
      await router.handleDetached(event, context);
    } catch (error) {
      failures.push({
        eventId: event.id,
        type: event.type,
        topic: event.topic,
        partition: event.partition,
        offset: event.offset,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    await advance(next, options.to);
  }
  const window = cursors.map((c) => ({
    ...c.window,
    to: c.window.events === 0 ? c.window.from : c.window.to,
  }));

  const outputs =
    options.outputs ?? [...new Set([...emitted.values()].flatMap((list) => list.map((e) => e.topic)))].sort();
  const running = await runningOutput(log, outputs, handled, options.from);
  const events = diffEvents(handled, running, emitted, sampleLimit);
  const state = options.state === undefined ? undefined : await diffState(store, options.state, sampleLimit);
  return { group, window, handled: handledByType, failures, effects, events, state, outputs };
}

async function buildRouter(options: ShadowRunOptions, shadow: ShadowContext): Promise<Router> {
  if (options.router !== undefined) return options.router(shadow);
  const router = createRouter({
    log: shadow.log,
    group: options.group,
    topics: options.topics,
    store: shadow.store,
    effects: 'suppress',
    ...(options.middleware === undefined ? {} : { middleware: options.middleware }),
    ...(options.decoder === undefined ? {} : { decoder: options.decoder }),
  });
  options.handlers?.(router, shadow);
  return router;
}

interface Cursor {
  window: { topic: string; partition: number; from: number; to: number; events: number };
  readonly events: AsyncGenerator<StoredEvent, void, undefined>;
  /** The partition's next event in the window; undefined once it is done. */
  head: StoredEvent | undefined;
  /** The partition's end when the run started (exclusive). */
  readonly end: number;
}

/** Moves `cursor` to its partition's next event in the window, or to the end. */
async function advance(cursor: Cursor, to: ShadowBound | undefined): Promise<void> {
  const { value, done } = await cursor.events.next();
  if (done === true || value.offset >= cursor.end || beyond(to, value)) {
    cursor.head = undefined;
    await cursor.events.return();
    return;
  }
  cursor.head = value;
}

function startOf(
  from: ShadowBound | undefined,
  earliest: number,
): { offset: number } | { timestamp: number } {
  if (from === undefined) return { offset: earliest };
  if ('offset' in from) return { offset: Math.max(earliest, from.offset) };
  return { timestamp: from.timestamp };
}

function beyond(to: ShadowBound | undefined, event: StoredEvent): boolean {
  if (to === undefined) return false;
  return 'offset' in to ? event.offset >= to.offset : event.timestamp >= to.timestamp;
}

/** What a handler sees in a shadow run: replaying, effects recorded and skipped, emits stamped. */
function shadowContext(
  event: StoredEvent,
  group: string,
  shadow: ShadowContext,
  store: ShadowStore,
  signal: AbortSignal,
  effects: Record<string, number>,
): HandlerContext {
  const key = { group, topic: event.topic, partition: event.partition, offset: event.offset };
  return {
    group,
    attempt: 1,
    signal,
    replaying: true,
    log: shadow.log,
    failures: undefined,
    transaction: (fn) => store.transaction((tx) => fn(causedBy(tx, event))),
    effect: async (name) => {
      effects[name] = (effects[name] ?? 0) + 1;
      return undefined;
    },
    recordFailure: (error) =>
      store.recordFailure(key, error instanceof Error ? error.message : String(error)),
  };
}

function causedBy(tx: StoreTransaction, cause: StoredEvent): StoreTransaction {
  return {
    emit: (topic, event, options) => tx.emit(topic, stampCausation(event, cause), options),
    get: (collection, id) => tx.get(collection, id),
    put: (collection, id, value) => tx.put(collection, id, value),
    delete: (collection, id) => tx.delete(collection, id),
    list: (collection, options) => tx.list(collection, options),
    recordHandled: (g, eventId, fingerprint) => tx.recordHandled(g, eventId, fingerprint),
    schedule: (at, topic, event) => tx.schedule(at, topic, stampCausation(event, cause)),
    cancelSchedule: (id) => tx.cancelSchedule(id),
  };
}

/**
 * The log as the shadowed handlers see it: reads go to `log`; appends are stamped with the event
 * being handled and recorded (their result names offset -1: nothing was appended); everything
 * that would change the log or join a group is refused.
 */
function recordingLog(log: EventLog, record: (emit: RecordedEmit) => void): EventLog {
  const refuse = (what: string) => () =>
    Promise.reject(new HeraldError('UNSUPPORTED', `a shadow run does not ${what}`));
  const append = (topic: string, event: CloudEvent): AppendResult => {
    record({ topic, event: stampCausation(event, eventBeingHandled()) });
    return { topic, partition: 0, offset: -1, timestamp: Date.now() };
  };
  return {
    capabilities: log.capabilities,
    createTopic: refuse('create topics'),
    listTopics: () => log.listTopics(),
    describeTopic: (name) => log.describeTopic(name),
    append: async (topic, event) => append(topic, event),
    appendBatch: async (topic, events) => events.map((event) => append(topic, event)),
    read: (topic, options) => log.read(topic, options),
    subscribe: refuse('join consumer groups'),
    listGroups: () => log.listGroups(),
    describeGroup: (name) => log.describeGroup(name),
    resetGroup: refuse('reset groups'),
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
}

/** The running version's output: events of `outputs` caused by a handled event, by cause. */
async function runningOutput(
  log: EventLog,
  outputs: readonly string[],
  handled: ReadonlyMap<string, StoredEvent>,
  from: ShadowBound | undefined,
): Promise<Map<string, StoredEvent[]>> {
  const byCause = new Map<string, StoredEvent[]>();
  // An event's output is appended after it: a window starting at a time needs nothing older.
  const start = from !== undefined && 'timestamp' in from ? { timestamp: from.timestamp } : 'earliest';
  for (const topic of outputs) {
    const { partitionInfo } = await log.describeTopic(topic);
    for (const { partition, latest } of partitionInfo) {
      for await (const event of readPartition(log, topic, partition, { from: start })) {
        if (event.offset >= latest) break;
        const cause = causationOf(event);
        if (cause === undefined || !handled.has(cause)) continue;
        const list = byCause.get(cause);
        if (list === undefined) byCause.set(cause, [event]);
        else list.push(event);
      }
    }
  }
  return byCause;
}

interface MutableDiff {
  same: number;
  different: number;
  new: number;
  missing: number;
  samples: { different: ShadowEventSample[]; new: ShadowEventSample[]; missing: ShadowEventSample[] };
}

function diffEvents(
  handled: ReadonlyMap<string, StoredEvent>,
  running: ReadonlyMap<string, readonly StoredEvent[]>,
  emitted: ReadonlyMap<string, readonly RecordedEmit[]>,
  sampleLimit: number,
): ShadowEventDiff[] {
  const byType = new Map<string, MutableDiff>();
  const diffOf = (type: string): MutableDiff => {
    let diff = byType.get(type);
    if (diff === undefined) {
      diff = { same: 0, different: 0, new: 0, missing: 0, samples: { different: [], new: [], missing: [] } };
      byType.set(type, diff);
    }
    return diff;
  };
  const sample = (list: ShadowEventSample[], entry: ShadowEventSample) => {
    if (list.length < sampleLimit) list.push(entry);
  };
  for (const cause of handled.keys()) {
    const left = [...(running.get(cause) ?? [])];
    for (const { topic, event } of emitted.get(cause) ?? []) {
      const diff = diffOf(event.type);
      const shadow = viewOf(topic, event);
      const index = left.findIndex(
        (r) => r.topic === topic && r.type === event.type && r.partitionkey === event.partitionkey,
      );
      if (index < 0) {
        diff.new++;
        sample(diff.samples.new, { cause, shadow });
        continue;
      }
      const [match] = left.splice(index, 1) as [StoredEvent];
      const current = viewOf(match.topic, match);
      if (isDeepStrictEqual(current.data, shadow.data)) diff.same++;
      else {
        diff.different++;
        sample(diff.samples.different, { cause, running: current, shadow });
      }
    }
    for (const event of left) {
      const diff = diffOf(event.type);
      diff.missing++;
      sample(diff.samples.missing, { cause, running: viewOf(event.topic, event) });
    }
  }
  return [...byType]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([type, diff]) => ({ type, ...diff }));
}

async function diffState(
  shadow: ShadowStore,
  state: Store,
  sampleLimit: number,
): Promise<ShadowCollectionDiff[]> {
  const out: ShadowCollectionDiff[] = [];
  for (const [collection, docs] of [...shadow.writes()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const diff = {
      collection,
      same: 0,
      different: 0,
      new: 0,
      removed: 0,
      samples: [] as ShadowDocumentSample[],
    };
    for (const [id, value] of [...docs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const current = await state.get(collection, id);
      const outcome =
        value === null
          ? current === undefined
            ? 'same'
            : 'removed'
          : current === undefined
            ? 'new'
            : isDeepStrictEqual(normalised(current), value)
              ? 'same'
              : 'different';
      diff[outcome]++;
      if (outcome === 'same') continue;
      if (diff.samples.length < sampleLimit)
        diff.samples.push({ id, current: current ?? null, shadow: value });
    }
    out.push(diff);
  }
  return out;
}

function viewOf(topic: string, event: CloudEvent): ShadowEventView {
  return { id: event.id, topic, key: event.partitionkey, data: payloadOf(event) };
}

/** An event's data as JSON where it parses as JSON, else its bytes in base64; null without data. */
function payloadOf(event: CloudEvent): unknown {
  if (event.data === undefined) return null;
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(event.data)) as unknown;
  } catch {
    return { base64: Buffer.from(event.data).toString('base64') };
  }
}

/** A document as JSON would carry it (what the shadow's overlay holds). */
function normalised(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/**
 * A shadow report as text for a terminal: the window, what was handled, suppressed and failed,
 * then one table of emitted event types and one of collections, each followed by its samples.
 *
 * @example console.log(formatShadowReport(await shadowRun(options)));
 */
export function formatShadowReport(report: ShadowReport): string {
  const lines: string[] = [];
  const total = report.window.reduce((sum, w) => sum + w.events, 0);
  lines.push(`shadow run of group ${report.group}: ${total} events in the window`);
  for (const w of report.window)
    lines.push(`  ${w.topic}/${w.partition}  offsets ${w.from}-${w.to}  ${w.events} events`);
  const counts = (record: Readonly<Record<string, number>>) =>
    Object.entries(record)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, n]) => `${name} ${n}`)
      .join(', ') || 'none';
  lines.push(`handled: ${counts(report.handled)}`);
  lines.push(`effects suppressed: ${counts(report.effects)}`);
  lines.push(`failures: ${report.failures.length === 0 ? 'none' : report.failures.length}`);
  for (const f of report.failures)
    lines.push(`  ${f.type} ${f.eventId} (${f.topic}/${f.partition}@${f.offset}): ${f.error}`);
  const json = (value: unknown) => JSON.stringify(value);
  lines.push(
    '',
    `emitted events, against the running version's (by causation, in ${report.outputs.join(', ') || 'no topic'}):`,
  );
  lines.push(
    ...table(
      ['type', 'same', 'different', 'new', 'missing'],
      report.events.map((d) => [d.type, d.same, d.different, d.new, d.missing]),
    ),
  );
  for (const d of report.events) {
    for (const [outcome, samples] of Object.entries(d.samples)) {
      for (const s of samples) {
        lines.push(`  ${outcome} ${d.type}, caused by ${s.cause}`);
        if (s.running !== undefined) lines.push(`    running ${json(s.running.data)}`);
        if (s.shadow !== undefined) lines.push(`    shadow  ${json(s.shadow.data)}`);
      }
    }
  }
  if (report.state !== undefined) {
    lines.push('', 'documents written, against the CURRENT documents of the store (not as they were then):');
    lines.push(
      ...table(
        ['collection', 'same', 'different', 'new', 'removed'],
        report.state.map((c) => [c.collection, c.same, c.different, c.new, c.removed]),
      ),
    );
    for (const c of report.state) {
      for (const s of c.samples)
        lines.push(
          `  ${c.collection}/${s.id}`,
          `    current ${json(s.current)}`,
          `    shadow  ${json(s.shadow)}`,
        );
    }
  }
  return lines.join('\n');
}

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  const all = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]?.length ?? 0)));
  return all.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
