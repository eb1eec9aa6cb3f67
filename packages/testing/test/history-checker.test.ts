import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AppliedEffect,
  type History,
  type LoggedEvent,
  checkHistory,
  describeReport,
} from '../src/history-checker.ts';

/** Two keys, three events each, in one partition per key; every event acknowledged. */
function cleanHistory(): { log: LoggedEvent[]; effects: AppliedEffect[] } {
  const log: LoggedEvent[] = [];
  const effects: AppliedEffect[] = [];
  ['a', 'b'].forEach((key, partition) => {
    for (let seq = 1; seq <= 3; seq++) {
      const id = `${key}-${seq}`;
      log.push({ id, key, seq, partition, offset: seq - 1 });
      effects.push({ eventId: id, key, seq, applied: seq });
    }
  });
  return { log, effects };
}

function history(log: LoggedEvent[], effects: AppliedEffect[], changes: Partial<History> = {}): History {
  return {
    acknowledged: log.map(({ id, key, seq }) => ({ id, key, seq })),
    log,
    inbox: new Set(effects.map((e) => e.eventId)),
    effects,
    ...changes,
  };
}

const verdicts = (h: History) => {
  const report = checkHistory(h);
  return { lost: report.lost, duplicated: report.duplicated, reordered: report.reordered };
};

void describe('checkHistory', () => {
  void it('finds nothing wrong in a history where every event had one effect in its key order', () => {
    const { log, effects } = cleanHistory();
    const report = checkHistory(history(log, effects));
    assert.deepEqual(verdicts(history(log, effects)), { lost: 0, duplicated: 0, reordered: 0 });
    assert.deepEqual(report.examples, []);
    assert.equal(
      describeReport(report),
      '0 lost, 0 duplicated, 0 reordered (6 acknowledged, 6 in the log, 6 effects)',
    );
  });

  void it('counts an acknowledged event without an effect as lost', () => {
    const { log, effects } = cleanHistory();
    const withoutLast = effects.filter((e) => e.eventId !== 'b-3');
    const report = checkHistory(history(log, withoutLast));
    assert.deepEqual(verdicts(history(log, withoutLast)), { lost: 1, duplicated: 0, reordered: 0 });
    assert.match(report.examples.join('\n'), /lost: event b-3 has no effect/);
  });

  void it('counts an event the log holds but the producer was never told about, and that had no effect, as lost', () => {
    const { log, effects } = cleanHistory();
    const late: LoggedEvent = { id: 'b-4', key: 'b', seq: 4, partition: 1, offset: 3 };
    assert.deepEqual(verdicts(history([...log, late], effects, { acknowledged: cleanHistory().log })), {
      lost: 1,
      duplicated: 0,
      reordered: 0,
    });
  });

  void it('counts an acknowledged event missing from the log as lost and as missing', () => {
    const { log, effects } = cleanHistory();
    const acknowledged = log.map(({ id, key, seq }) => ({ id, key, seq }));
    const report = checkHistory(history(log.slice(0, -1), effects.slice(0, -1), { acknowledged }));
    assert.equal(report.lost, 1);
    assert.equal(report.missingFromLog, 1);
  });

  void it('counts a second effect of an event as duplicated, not as reordered', () => {
    const { log, effects } = cleanHistory();
    // a-2 applied again after a-3: a redelivery the inbox did not stop.
    const twice = [...effects, { eventId: 'a-2', key: 'a', seq: 2, applied: 4 }];
    const report = checkHistory(history(log, twice));
    assert.deepEqual(verdicts(history(log, twice)), { lost: 0, duplicated: 1, reordered: 0 });
    assert.match(report.examples.join('\n'), /duplicated: event a-2 has 2 effects/);
  });

  void it("counts effects committed out of their key's sequence as reordered", () => {
    const { log } = cleanHistory();
    // Key a committed #2 before #1.
    const effects: AppliedEffect[] = [
      { eventId: 'a-2', key: 'a', seq: 2, applied: 1 },
      { eventId: 'a-1', key: 'a', seq: 1, applied: 2 },
      { eventId: 'a-3', key: 'a', seq: 3, applied: 3 },
      ...cleanHistory().effects.filter((e) => e.key === 'b'),
    ];
    const report = checkHistory(history(log, effects));
    assert.deepEqual(verdicts(history(log, effects)), { lost: 0, duplicated: 0, reordered: 1 });
    assert.match(report.examples.join('\n'), /key a's #1 \(a-1\) committed after #2/);
  });

  void it('counts a repeated or skipped commit counter as reordered: two effects of a key written concurrently', () => {
    const { log, effects } = cleanHistory();
    const repeated = effects.map((e) => (e.eventId === 'b-3' ? { ...e, applied: 2 } : e));
    assert.deepEqual(verdicts(history(log, repeated)), { lost: 0, duplicated: 0, reordered: 1 });
    const skipped = effects.map((e) => (e.eventId === 'b-3' ? { ...e, applied: 5 } : e));
    assert.deepEqual(verdicts(history(log, skipped)), { lost: 0, duplicated: 0, reordered: 1 });
  });

  void it('reports inbox entries without effects and effects without inbox entries', () => {
    const { log, effects } = cleanHistory();
    const inbox = new Set(effects.map((e) => e.eventId));
    inbox.delete('a-1');
    const withoutA3 = effects.filter((e) => e.eventId !== 'a-3');
    const report = checkHistory(history(log, withoutA3, { inbox }));
    assert.equal(report.effectWithoutInbox, 1);
    assert.equal(report.inboxWithoutEffect, 1);
    assert.equal(report.lost, 1);
  });

  void it('reports effects of events the log does not hold and keys the log holds out of order', () => {
    const { log, effects } = cleanHistory();
    const stray = [...effects, { eventId: 'z-1', key: 'z', seq: 1, applied: 1 }];
    assert.equal(checkHistory(history(log, stray)).unknownEffects, 1);
    const swapped = log.map((e) => (e.id === 'a-1' ? { ...e, offset: 5 } : e));
    assert.equal(checkHistory(history(swapped, effects)).logOutOfOrder, 1);
  });
});
