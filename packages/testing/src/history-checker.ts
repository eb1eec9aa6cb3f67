/*
 * A checker of consumer histories, after Jepsen's method: a run records what the producer was
 * told was appended, what the log holds, what the consumer group's inbox holds and every effect
 * the group's handlers committed; the checker then says whether each event had exactly one
 * effect, and whether each key's effects were committed in the key's order.
 *
 * What a handler must record for this to work: in the transaction that writes its inbox entry,
 * one effect row per event naming the event id, its key, its sequence number within the key, and
 * `applied`, a per-key counter read and incremented in that same transaction. The counter is the
 * key's commit order: two transactions of one key can never both commit the same value under a
 * serializable store, so a repeated or missing value means effects vanished or were written
 * concurrently. Effect rows must be keyed so that a second effect of an event is a second row
 * (not an overwrite of the first), or duplicates cannot be seen.
 */

/** An event the producer appended and was acknowledged. `seq` numbers the events of one key from 1. */
export interface ProducedEvent {
  readonly id: string;
  readonly key: string;
  readonly seq: number;
}

/** An event as the log holds it. Events the producer was not told about (an append that failed late) count too. */
export interface LoggedEvent extends ProducedEvent {
  readonly partition: number;
  readonly offset: number;
}

/** One committed effect: the event it was for, and its place (`applied`, from 1) in its key's commit order. */
export interface AppliedEffect {
  readonly eventId: string;
  readonly key: string;
  readonly seq: number;
  readonly applied: number;
}

export interface History {
  readonly acknowledged: readonly ProducedEvent[];
  readonly log: readonly LoggedEvent[];
  /** Ids of the events the consumer group's inbox records as handled. */
  readonly inbox: ReadonlySet<string>;
  readonly effects: readonly AppliedEffect[];
}

/** What the checker found. The three verdicts are `lost`, `duplicated` and `reordered`; each must be 0. */
export interface HistoryReport {
  readonly acknowledged: number;
  readonly logged: number;
  readonly effects: number;
  /** Events acknowledged or in the log with no effect at all. */
  readonly lost: number;
  /** Effects beyond the first of an event. */
  readonly duplicated: number;
  /**
   * Effects out of their key's order: an event's first effect whose sequence number is not above
   * every one committed before it for the key, or an `applied` counter that repeats or skips.
   */
  readonly reordered: number;
  /** Acknowledged events absent from the log (each is counted in `lost` as well). */
  readonly missingFromLog: number;
  /** Effects of events the log does not hold. */
  readonly unknownEffects: number;
  /** Events the inbox records as handled without an effect (each is counted in `lost` as well). */
  readonly inboxWithoutEffect: number;
  /** Events with an effect the inbox does not record: a redelivery would apply them again. */
  readonly effectWithoutInbox: number;
  /** Keys whose events the log holds out of sequence order, or in more than one partition. */
  readonly logOutOfOrder: number;
  /** The first anomalies found, described, for a failure message. */
  readonly examples: readonly string[];
}

const MAX_EXAMPLES = 10;

/**
 * Checks one history. Pure: it reads only its argument.
 *
 * @example
 * const report = checkHistory({ acknowledged, log, inbox, effects });
 * assert.deepEqual([report.lost, report.duplicated, report.reordered], [0, 0, 0], report.examples.join('\n'));
 */
export function checkHistory(history: History): HistoryReport {
  const examples: string[] = [];
  const note = (text: string) => {
    if (examples.length < MAX_EXAMPLES) examples.push(text);
  };

  const logged = new Map(history.log.map((event) => [event.id, event]));
  const effectsOf = new Map<string, number>();
  for (const effect of history.effects)
    effectsOf.set(effect.eventId, (effectsOf.get(effect.eventId) ?? 0) + 1);

  // Every event that should have an effect: what was acknowledged, and whatever reached the log.
  const expected = new Set<string>([...history.acknowledged.map((e) => e.id), ...logged.keys()]);
  let lost = 0;
  for (const id of expected) {
    if (!effectsOf.has(id)) {
      lost++;
      note(`lost: event ${id} has no effect`);
    }
  }
  let missingFromLog = 0;
  for (const event of history.acknowledged) {
    if (!logged.has(event.id)) {
      missingFromLog++;
      note(`missing from the log: acknowledged event ${event.id} (${event.key} #${event.seq})`);
    }
  }

  let duplicated = 0;
  let unknownEffects = 0;
  let effectWithoutInbox = 0;
  for (const [id, count] of effectsOf) {
    if (count > 1) {
      duplicated += count - 1;
      note(`duplicated: event ${id} has ${count} effects`);
    }
    if (!expected.has(id)) {
      unknownEffects++;
      note(`unknown: an effect of event ${id}, which the log does not hold`);
    }
    if (!history.inbox.has(id)) {
      effectWithoutInbox++;
      note(`not in the inbox: event ${id} has an effect but no inbox entry`);
    }
  }
  let inboxWithoutEffect = 0;
  for (const id of history.inbox) {
    if (!effectsOf.has(id)) {
      inboxWithoutEffect++;
      note(`inbox without effect: event ${id} is recorded as handled but has no effect`);
    }
  }

  const reordered = countReordered(history.effects, note);
  const logOutOfOrder = countLogOutOfOrder(history.log, note);

  return {
    acknowledged: history.acknowledged.length,
    logged: history.log.length,
    effects: history.effects.length,
    lost,
    duplicated,
    reordered,
    missingFromLog,
    unknownEffects,
    inboxWithoutEffect,
    effectWithoutInbox,
    logOutOfOrder,
    examples,
  };
}

/** Per key, in commit order: the counter must run 1, 2, 3… and first effects must rise in sequence number. */
function countReordered(effects: readonly AppliedEffect[], note: (text: string) => void): number {
  const byKey = new Map<string, AppliedEffect[]>();
  for (const effect of effects) {
    let list = byKey.get(effect.key);
    if (list === undefined) byKey.set(effect.key, (list = []));
    list.push(effect);
  }
  let reordered = 0;
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.applied - b.applied || a.seq - b.seq);
    const seen = new Set<string>();
    let highest = -Infinity;
    list.forEach((effect, index) => {
      if (effect.applied !== index + 1) {
        reordered++;
        note(
          `reordered: key ${key}'s effect of ${effect.eventId} has applied=${effect.applied} at commit position ${index + 1}`,
        );
      }
      // A second effect of an event is a duplicate, counted as such, not a reorder.
      if (seen.has(effect.eventId)) return;
      seen.add(effect.eventId);
      if (effect.seq <= highest) {
        reordered++;
        note(`reordered: key ${key}'s #${effect.seq} (${effect.eventId}) committed after #${highest}`);
      }
      highest = Math.max(highest, effect.seq);
    });
  }
  return reordered;
}

/** The log must hold each key in one partition, in rising sequence order. */
function countLogOutOfOrder(log: readonly LoggedEvent[], note: (text: string) => void): number {
  const byKey = new Map<string, LoggedEvent[]>();
  for (const event of log) {
    let list = byKey.get(event.key);
    if (list === undefined) byKey.set(event.key, (list = []));
    list.push(event);
  }
  let outOfOrder = 0;
  for (const [key, list] of byKey) {
    const partitions = new Set(list.map((e) => e.partition));
    list.sort((a, b) => a.offset - b.offset);
    const rising = list.every((event, i) => i === 0 || event.seq > list[i - 1]!.seq);
    if (partitions.size > 1 || !rising) {
      outOfOrder++;
      note(`log order: key ${key} is in partitions ${[...partitions].join(',')}, sequence rising: ${rising}`);
    }
  }
  return outOfOrder;
}

/** One line for a run's output: `3 lost, 0 duplicated, 0 reordered (of 5000 acknowledged, …)`. */
export function describeReport(report: HistoryReport): string {
  const extra = [
    report.missingFromLog > 0 ? `${report.missingFromLog} acknowledged but missing from the log` : '',
    report.unknownEffects > 0 ? `${report.unknownEffects} effects of unknown events` : '',
    report.inboxWithoutEffect > 0 ? `${report.inboxWithoutEffect} inbox entries without effect` : '',
    report.effectWithoutInbox > 0 ? `${report.effectWithoutInbox} effects without inbox entry` : '',
    report.logOutOfOrder > 0 ? `${report.logOutOfOrder} keys out of order in the log` : '',
  ].filter((text) => text !== '');
  return (
    `${report.lost} lost, ${report.duplicated} duplicated, ${report.reordered} reordered ` +
    `(${report.acknowledged} acknowledged, ${report.logged} in the log, ${report.effects} effects)` +
    (extra.length > 0 ? `; ${extra.join(', ')}` : '')
  );
}
