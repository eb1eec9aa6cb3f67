import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { CloudEvent, StoredEvent } from '../envelope.ts';
import { appendAudit, ensureAuditTopic } from '../audit-trail.ts';
import { HeraldError } from '../errors.ts';
import type { AppendResult, EventLog } from '../event-log.ts';
import { readPartition } from '../read-partition.ts';
import { DEAD_LETTER_ATTRIBUTES } from './middleware/dead-letter.ts';
import type { Store, StoreTransaction } from './store.ts';

/** Store collection of redrive records, one per dead-lettered entry: id `<dead-letter topic>/<partition>/<offset>`. */
export const REDRIVE_COLLECTION = 'herald.redrives';

/** Store collection of audit documents (who did what, when), ids ordered by time. */
export const AUDIT_COLLECTION = 'herald.audit';

/** Extension attribute a redriven event carries: how many times its dead-letter entry has been redriven, this one included. */
export const REDRIVE_ATTRIBUTE = 'dlredrive';

/** Redrives allowed per dead-lettered entry unless `maxRedrives` says otherwise. */
export const DEFAULT_MAX_REDRIVES = 3;

const DEAD_LETTER_NAMES: ReadonlySet<string> = new Set([
  ...Object.values(DEAD_LETTER_ATTRIBUTES),
  REDRIVE_ATTRIBUTE,
]);

/** One dead-lettered entry to redrive. */
export interface RedrivePosition {
  readonly partition: number;
  readonly offset: number;
  /**
   * How many times the caller knows the entry was redriven: the request means "redrive it from
   * this count". Default 0, "redrive it once": repeating the request is the same redrive. To
   * redrive an entry again, pass the count it has now (as `herald dlq list` shows it).
   */
  readonly expectedCount?: number;
}

/** What `redrive` is asked to do; see {@link redrive}. */
export interface RedriveOptions {
  readonly log: EventLog;
  /**
   * Where redrives are counted, deduplicated and audited, atomically with the re-append. Without
   * one a redrive is best effort: nothing is counted, capped or audited, two requests append
   * twice (the same event id, so consumers with the idempotency middleware still see one effect),
   * `expectedCount` alone decides `dlredrive` and the cap, and `all` means every entry.
   */
  readonly store?: Store;
  /** The dead-letter topic, e.g. `orders.dead-letter`. */
  readonly deadLetterTopic: string;
  /** Entries to redrive, or `all`: every entry of the topic never redriven so far. */
  readonly positions: 'all' | readonly RedrivePosition[];
  /** Redrives allowed per entry; the next one is refused with CONFLICT. Default {@link DEFAULT_MAX_REDRIVES}. */
  readonly maxRedrives?: number;
  /** Work out and return the outcomes without appending or recording anything. */
  readonly dryRun?: boolean;
  /**
   * Redrive entries that were discarded (`discard`) too. Without it, a discarded entry is
   * refused (CONFLICT), and `all` passes over it.
   */
  readonly force?: boolean;
  /** Who asks, for the audit. Default `<os user>@<host name>`. */
  readonly actor?: string;
  /** The actor's role, for the audit trail, when the request came through the console. */
  readonly role?: string;
  /**
   * The request's own idempotency key (a retried API call passes the same one): each entry is
   * redriven at most once per key. Default: one key per entry and expected count,
   * `<dead-letter topic>/<partition>/<offset>/<expected count>`, so identical requests made at
   * the same time are one redrive.
   */
  readonly idempotencyKey?: string;
}

/** One redrive of an entry, as its record keeps it. */
export interface RedriveHistoryItem {
  /** The entry's redrive count after it (the `dlredrive` the event was appended with). */
  readonly n: number;
  readonly idempotencyKey: string;
  /** ISO 8601. */
  readonly at: string;
  readonly actor: string;
  /** Where the event was re-appended; null when the store could not tell. */
  readonly appended: { readonly topic: string; readonly partition: number; readonly offset: number } | null;
}

/** The redrive record of one dead-lettered entry (collection {@link REDRIVE_COLLECTION}). */
export interface RedriveRecord {
  readonly deadLetterTopic: string;
  readonly partition: number;
  readonly offset: number;
  readonly eventId: string;
  /** The original topic the entry is redriven to. */
  readonly topic: string;
  /** Redrives so far: `redrives.length`. */
  readonly count: number;
  readonly redrives: readonly RedriveHistoryItem[];
  /** Set once the entry was discarded (`discard`): it is not redriven again unless forced. */
  readonly discarded?: DiscardMark;
}

/** Who discarded a dead-lettered entry, when and why (see `discard`). */
export interface DiscardMark {
  /** ISO 8601. */
  readonly at: string;
  readonly actor: string;
  readonly reason?: string;
}

/** An audit document (collection {@link AUDIT_COLLECTION}) for a redrive, or one refused. */
export interface RedriveAuditEntry {
  readonly action: 'dlq.redrive';
  readonly outcome: 'redriven' | 'refused';
  readonly at: string;
  readonly actor: string;
  readonly deadLetterTopic: string;
  readonly partition: number;
  readonly offset: number;
  readonly eventId: string;
  readonly type: string;
  readonly topic: string;
  /** The entry's redrive count after this request. */
  readonly count: number;
  /** The cap this request was allowed (the default, or what `maxRedrives` raised it to). */
  readonly maxRedrives: number;
  readonly idempotencyKey: string;
  readonly appended?: RedriveHistoryItem['appended'];
  readonly reason?: string;
}

/**
 * What happened to one entry: `redriven` now; `duplicate`, the same request was carried out
 * before (nothing appended now); `planned`, a dry run would redrive it; `refused`, the cap was
 * reached or the entry was redriven meanwhile (`reason` says which).
 */
export interface RedriveOutcome {
  readonly partition: number;
  readonly offset: number;
  readonly eventId: string;
  readonly type: string;
  /** The original topic. */
  readonly topic: string;
  readonly status: 'redriven' | 'duplicate' | 'planned' | 'refused';
  /** The entry's redrive count after this request (for `planned`, after it would run). */
  readonly count: number;
  readonly idempotencyKey: string;
  /** Where the event is (for `duplicate`: was) re-appended, when known. */
  readonly appended?: RedriveHistoryItem['appended'];
  readonly reason?: string;
}

/** What `redrive` did, one outcome per entry, in the order they were redriven. */
export interface RedriveResult {
  readonly deadLetterTopic: string;
  readonly outcomes: readonly RedriveOutcome[];
  /** False without a store: nothing was counted, deduplicated or audited. */
  readonly recorded: boolean;
  /** With `positions: 'all'`: entries passed over because they were redriven before. */
  readonly skipped: number;
}

/** The failure metadata `deadLetter` attached to a parked event, read back. */
export interface DeadLetterMetadata {
  readonly topic: string;
  readonly partition: number | undefined;
  readonly offset: number | undefined;
  readonly group: string | undefined;
  readonly error: string | undefined;
  readonly code: string | undefined;
  readonly attempts: number | undefined;
  readonly firstFailure: string | undefined;
  readonly lastFailure: string | undefined;
  /** The `dlredrive` the event carried when it was parked: it had been redriven before. */
  readonly redriven: number | undefined;
}

/** The `dl*` metadata of a dead-lettered event, or undefined when it has none (no `dltopic`). */
export function deadLetterMetadataOf(event: CloudEvent): DeadLetterMetadata | undefined {
  const ext = event.extensions ?? {};
  const A = DEAD_LETTER_ATTRIBUTES;
  const topic = ext[A.topic];
  if (topic === undefined || topic === '') return undefined;
  return {
    topic,
    partition: nonNegative(ext[A.partition]),
    offset: nonNegative(ext[A.offset]),
    group: ext[A.group],
    error: ext[A.error],
    code: ext[A.code],
    attempts: nonNegative(ext[A.attempts]),
    firstFailure: ext[A.firstFailure],
    lastFailure: ext[A.lastFailure],
    redriven: nonNegative(ext[REDRIVE_ATTRIBUTE]),
  };
}

/** The id of an entry's redrive record in {@link REDRIVE_COLLECTION}. */
export function redriveRecordId(deadLetterTopic: string, partition: number, offset: number): string {
  return `${deadLetterTopic}/${partition}/${offset}`;
}

/**
 * The original event of a dead-letter entry, as it is redriven: the same id, attributes, key and
 * data bytes, without the `dl*` failure metadata, plus `dlredrive` = `n`.
 */
export function redrivenEvent(entry: StoredEvent, n: number): CloudEvent {
  const { topic: _topic, partition: _partition, offset: _offset, timestamp: _timestamp, ...event } = entry;
  const extensions: Record<string, string> = {};
  for (const [name, value] of Object.entries(entry.extensions ?? {})) {
    if (!DEAD_LETTER_NAMES.has(name)) extensions[name] = value;
  }
  extensions[REDRIVE_ATTRIBUTE] = String(n);
  return { ...event, extensions };
}

/**
 * Re-appends dead-lettered events to their original topic (from `dltopic`) as the original
 * events — same id, attributes, key and data bytes, without the `dl*` metadata — plus
 * `dlredrive` = the entry's redrive count. Keyless events go back to their original partition.
 *
 * With a store, each entry is one store transaction: read its redrive record, check the
 * request's idempotency key, the expected count and the cap, emit the event, write the record
 * and an audit document. On SQLite the transaction shares the log's file and write lock, so
 * concurrent redrives (other calls, other processes) are serialised and cannot both pass:
 * two identical requests at once are one redrive with one event appended. Refusals (the cap, a
 * count that moved on) are audited too; a duplicate request writes nothing.
 *
 * Every position is checked (it exists, it is a dead-letter entry, its topic exists) before
 * anything is redriven. Entries are then redriven one by one; when some were refused, the others
 * stay redriven and `redrive` throws CONFLICT afterwards, `details.outcomes` listing them all
 * (a dry run returns refusals instead of throwing).
 *
 * @example
 * const store = await openSqliteStore(log);
 * await redrive({ log, store, deadLetterTopic: 'orders.dead-letter', positions: [{ partition: 0, offset: 3 }] });
 */
export async function redrive(options: RedriveOptions): Promise<RedriveResult> {
  const { log, store, deadLetterTopic, dryRun = false } = options;
  const maxRedrives = options.maxRedrives ?? DEFAULT_MAX_REDRIVES;
  if (!Number.isSafeInteger(maxRedrives) || maxRedrives < 1) {
    throw new HeraldError('INVALID_ARGUMENT', `maxRedrives must be a positive integer, got ${maxRedrives}`);
  }
  if (options.idempotencyKey !== undefined && options.idempotencyKey === '') {
    throw new HeraldError('INVALID_ARGUMENT', 'idempotencyKey must not be empty');
  }
  const actor = options.actor ?? defaultActor();
  const description = await log.describeTopic(deadLetterTopic);
  // The trail's entries are emitted in the redrive's transactions, which do not create topics.
  if (store !== undefined && !dryRun) await ensureAuditTopic(log);

  let entries: { entry: StoredEvent; expectedCount: number }[];
  let skipped = 0;
  if (options.positions === 'all') {
    entries = [];
    const records = await store?.list<RedriveRecord>(REDRIVE_COLLECTION, { prefix: `${deadLetterTopic}/` });
    const redriven = new Set(
      (records ?? []).filter((r) => r.value.count > 0 || r.value.discarded !== undefined).map((r) => r.id),
    );
    for (const { partition } of description.partitionInfo) {
      for await (const entry of readPartition(log, deadLetterTopic, partition)) {
        if (redriven.has(redriveRecordId(deadLetterTopic, entry.partition, entry.offset))) skipped++;
        else entries.push({ entry, expectedCount: 0 });
      }
    }
  } else {
    entries = [];
    const seen = new Set<string>();
    for (const position of options.positions) {
      checkPosition(position);
      const id = `${position.partition}:${position.offset}`;
      if (seen.has(id)) continue;
      seen.add(id);
      entries.push({
        entry: await readEntry(log, deadLetterTopic, position),
        expectedCount: position.expectedCount ?? 0,
      });
    }
  }
  const topics = new Map<string, number>();
  for (const { entry } of entries) {
    const metadata = deadLetterMetadataOf(entry);
    if (metadata === undefined) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `${deadLetterTopic} ${entry.partition}:${entry.offset} (event ${entry.id}) is not a dead-letter entry: it has no ${DEAD_LETTER_ATTRIBUTES.topic} attribute`,
        { details: { deadLetterTopic, partition: entry.partition, offset: entry.offset } },
      );
    }
    if (!topics.has(metadata.topic))
      topics.set(metadata.topic, (await log.describeTopic(metadata.topic)).partitions);
  }

  const outcomes: RedriveOutcome[] = [];
  for (const { entry, expectedCount } of entries) {
    const metadata = deadLetterMetadataOf(entry)!;
    const target: Target = {
      entry,
      topic: metadata.topic,
      partition:
        entry.partitionkey === undefined &&
        metadata.partition !== undefined &&
        metadata.partition < (topics.get(metadata.topic) ?? 0)
          ? metadata.partition
          : undefined,
      expectedCount,
      idempotencyKey:
        options.idempotencyKey === undefined
          ? `${redriveRecordId(deadLetterTopic, entry.partition, entry.offset)}/${expectedCount}`
          : `${options.idempotencyKey}/${redriveRecordId(deadLetterTopic, entry.partition, entry.offset)}`,
    };
    const request: Request = {
      deadLetterTopic,
      maxRedrives,
      actor,
      dryRun,
      force: options.force === true,
      ...(options.role === undefined ? {} : { role: options.role }),
    };
    outcomes.push(
      store === undefined
        ? await redriveWithoutStore(log, target, request)
        : await redriveOne(store, target, request),
    );
  }

  const refused = outcomes.filter((o) => o.status === 'refused');
  if (refused.length > 0 && !dryRun) {
    const reasons = refused
      .slice(0, 3)
      .map((o) => `${o.partition}:${o.offset} (event ${o.eventId}): ${o.reason ?? 'refused'}`)
      .join('; ');
    const more = refused.length > 3 ? `; and ${refused.length - 3} more` : '';
    throw new HeraldError(
      'CONFLICT',
      outcomes.length === 1
        ? `cannot redrive ${deadLetterTopic} ${reasons}`
        : `${refused.length} of ${outcomes.length} entries of ${deadLetterTopic} were not redriven: ${reasons}${more}`,
      { details: { deadLetterTopic, outcomes } },
    );
  }
  return { deadLetterTopic, outcomes, recorded: store !== undefined, skipped };
}

interface Target {
  readonly entry: StoredEvent;
  readonly topic: string;
  /** The original partition for keyless events; keyed events follow their key. */
  readonly partition: number | undefined;
  readonly expectedCount: number;
  readonly idempotencyKey: string;
}

interface Request {
  readonly deadLetterTopic: string;
  readonly maxRedrives: number;
  readonly actor: string;
  readonly role?: string;
  readonly dryRun: boolean;
  readonly force: boolean;
}

type Decision =
  | { readonly kind: 'duplicate'; readonly count: number; readonly earlier: RedriveHistoryItem }
  | { readonly kind: 'refused'; readonly count: number; readonly reason: string }
  | { readonly kind: 'redrive'; readonly n: number };

/**
 * The one place the rules live: idempotency key first, then a discard (unless forced), then the
 * expected count, then the cap.
 */
function decide(record: RedriveRecord | undefined, target: Target, request: Request): Decision {
  const maxRedrives = request.maxRedrives;
  const count = record?.count ?? 0;
  const earlier = record?.redrives.find((r) => r.idempotencyKey === target.idempotencyKey);
  if (earlier !== undefined) return { kind: 'duplicate', count, earlier };
  if (record?.discarded !== undefined && !request.force) {
    return {
      kind: 'refused',
      count,
      reason: `it was discarded at ${record.discarded.at} by ${record.discarded.actor}; to redrive it anyway, force it`,
    };
  }
  if (target.expectedCount !== count) {
    return {
      kind: 'refused',
      count,
      reason: `it has been redriven ${times(count)}, not ${times(target.expectedCount)} as the request expected; to redrive it again, request it with expected count ${count}`,
    };
  }
  if (count >= maxRedrives) {
    return { kind: 'refused', count, reason: `it reached the redrive cap (${count} of ${maxRedrives})` };
  }
  return { kind: 'redrive', n: count + 1 };
}

async function redriveOne(store: Store, target: Target, request: Request): Promise<RedriveOutcome> {
  const { entry } = target;
  const recordId = redriveRecordId(request.deadLetterTopic, entry.partition, entry.offset);
  const base = {
    partition: entry.partition,
    offset: entry.offset,
    eventId: entry.id,
    type: entry.type,
    topic: target.topic,
    idempotencyKey: target.idempotencyKey,
  };
  if (request.dryRun) {
    const decision = decide(await store.get<RedriveRecord>(REDRIVE_COLLECTION, recordId), target, request);
    return outcomeOf(base, decision, 'planned', undefined);
  }
  return store.transaction(async (tx) => {
    const record = await tx.get<RedriveRecord>(REDRIVE_COLLECTION, recordId);
    const decision = decide(record, target, request);
    const at = new Date().toISOString();
    if (decision.kind === 'duplicate') return outcomeOf(base, decision, 'redriven', undefined);
    if (decision.kind === 'refused') {
      await audit(tx, request.role, {
        ...base,
        action: 'dlq.redrive',
        outcome: 'refused',
        at,
        actor: request.actor,
        deadLetterTopic: request.deadLetterTopic,
        count: decision.count,
        maxRedrives: request.maxRedrives,
        reason: decision.reason,
      });
      return outcomeOf(base, decision, 'redriven', undefined);
    }
    const result = await tx.emit(
      target.topic,
      redrivenEvent(entry, decision.n),
      target.partition === undefined ? undefined : { partition: target.partition },
    );
    const appended = positionOf(result);
    const item: RedriveHistoryItem = {
      n: decision.n,
      idempotencyKey: target.idempotencyKey,
      at,
      actor: request.actor,
      appended,
    };
    const next: RedriveRecord = {
      deadLetterTopic: request.deadLetterTopic,
      partition: entry.partition,
      offset: entry.offset,
      eventId: entry.id,
      topic: target.topic,
      count: decision.n,
      redrives: [...(record?.redrives ?? []), item],
      ...(record?.discarded === undefined ? {} : { discarded: record.discarded }),
    };
    await tx.put(REDRIVE_COLLECTION, recordId, next);
    await audit(tx, request.role, {
      ...base,
      action: 'dlq.redrive',
      outcome: 'redriven',
      at,
      actor: request.actor,
      deadLetterTopic: request.deadLetterTopic,
      count: decision.n,
      maxRedrives: request.maxRedrives,
      appended,
    });
    return outcomeOf(base, decision, 'redriven', appended);
  });
}

/** Best effort: the caller's expected count is all there is to go by; nothing is recorded. */
async function redriveWithoutStore(log: EventLog, target: Target, request: Request): Promise<RedriveOutcome> {
  const { entry } = target;
  const base = {
    partition: entry.partition,
    offset: entry.offset,
    eventId: entry.id,
    type: entry.type,
    topic: target.topic,
    idempotencyKey: target.idempotencyKey,
  };
  const count = target.expectedCount;
  const decision: Decision =
    count >= request.maxRedrives
      ? { kind: 'refused', count, reason: `it reached the redrive cap (${count} of ${request.maxRedrives})` }
      : { kind: 'redrive', n: count + 1 };
  if (request.dryRun || decision.kind !== 'redrive') return outcomeOf(base, decision, 'planned', undefined);
  const result = await log.append(
    target.topic,
    redrivenEvent(entry, decision.n),
    target.partition === undefined ? undefined : { partition: target.partition },
  );
  return outcomeOf(base, decision, 'redriven', positionOf(result));
}

function outcomeOf(
  base: Omit<RedriveOutcome, 'status' | 'count'>,
  decision: Decision,
  done: 'redriven' | 'planned',
  appended: RedriveHistoryItem['appended'] | undefined,
): RedriveOutcome {
  switch (decision.kind) {
    case 'duplicate':
      return { ...base, status: 'duplicate', count: decision.count, appended: decision.earlier.appended };
    case 'refused':
      return { ...base, status: 'refused', count: decision.count, reason: decision.reason };
    case 'redrive':
      return appended === undefined
        ? { ...base, status: done, count: decision.n }
        : { ...base, status: done, count: decision.n, appended };
  }
}

/**
 * Records a redrive (or a refusal) twice in its transaction: as a document of
 * {@link AUDIT_COLLECTION} (what `herald dlq` reads) and as an entry of the audit trail in the
 * log (`herald.audit`, what the console reads).
 */
async function audit(
  tx: StoreTransaction,
  role: string | undefined,
  entry: RedriveAuditEntry,
): Promise<void> {
  await tx.put(AUDIT_COLLECTION, auditId(), entry);
  await appendAudit(
    { tx },
    {
      action: entry.action,
      actor: entry.actor,
      ...(role === undefined ? {} : { role }),
      target: redriveRecordId(entry.deadLetterTopic, entry.partition, entry.offset),
      after: {
        eventId: entry.eventId,
        type: entry.type,
        topic: entry.topic,
        count: entry.count,
        maxRedrives: entry.maxRedrives,
        idempotencyKey: entry.idempotencyKey,
        ...(entry.appended === undefined ? {} : { appended: entry.appended }),
      },
      outcome: entry.outcome === 'redriven' ? 'done' : 'refused',
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
      at: entry.at,
    },
  );
}

/**
 * An id for a new audit document: the time to the microsecond (from the monotonic clock, so ids
 * made one after the other in a process sort in that order), then a random part.
 *
 * @example await tx.put(AUDIT_COLLECTION, auditId(), { action: 'groups.reset', at, actor, group, plan });
 */
export function auditId(): string {
  const now = performance.timeOrigin + performance.now();
  const iso = new Date(Math.floor(now)).toISOString();
  const micros = String(Math.floor((now % 1) * 1000)).padStart(3, '0');
  return `${iso.slice(0, -1)}${micros}Z/${randomUUID()}`;
}

function positionOf(result: AppendResult | undefined): RedriveHistoryItem['appended'] {
  return result === undefined
    ? null
    : { topic: result.topic, partition: result.partition, offset: result.offset };
}

/** @internal Shared with `discard`. */
export function checkPosition(position: RedrivePosition): void {
  const bad = (what: string): never => {
    throw new HeraldError('INVALID_ARGUMENT', `a redrive position needs ${what}`, { details: { position } });
  };
  if (!Number.isSafeInteger(position.partition) || position.partition < 0) bad('a partition ≥ 0');
  if (!Number.isSafeInteger(position.offset) || position.offset < 0) bad('an offset ≥ 0');
  if (
    position.expectedCount !== undefined &&
    (!Number.isSafeInteger(position.expectedCount) || position.expectedCount < 0)
  ) {
    bad('an expectedCount ≥ 0');
  }
}

/**
 * The event at `position` of `topic` (a dead-letter entry, an event to replay), read alone.
 * INVALID_ARGUMENT, naming the position, when the partition has no event there (never written,
 * or gone with retention). Redrive, discard, the CLI and the console read entries through it.
 */
export async function readEntry(
  log: EventLog,
  topic: string,
  position: Pick<RedrivePosition, 'partition' | 'offset'>,
): Promise<StoredEvent> {
  const [entry] = await log.read(topic, {
    partition: position.partition,
    from: { offset: position.offset },
    limit: 1,
  });
  if (entry?.offset !== position.offset) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `${topic} has no entry at ${position.partition}:${position.offset}`,
      { details: { topic, partition: position.partition, offset: position.offset } },
    );
  }
  return entry;
}

function nonNegative(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function times(n: number): string {
  return n === 1 ? 'once' : `${n} times`;
}

/** @internal Shared with `discard`. */
export function defaultActor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}
