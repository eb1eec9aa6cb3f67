import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '@herald/testing';
import { type AuditReport, auditGroup, auditViolationCount } from '../src/audit-group.ts';
import type { CloudEvent } from '../src/envelope.ts';
import type { EventLog } from '../src/event-log.ts';
import { openMemoryLog } from '../src/memory-log.ts';
import { redrivenEvent } from '../src/runtime/redrive.ts';
import { inboxOnlyStore } from './fixtures/inbox-only-store.ts';

const GROUP = 'shop.audit';

const fakeStore = (entries: ReadonlyMap<string, number>) => inboxOnlyStore(entries, GROUP);

/** The log with `events` appended to partition 0 of `orders`, and `group` committed at `committed`. */
async function logWith(events: readonly CloudEvent[], committed: number): Promise<EventLog> {
  const log = await openMemoryLog();
  await log.createTopic('orders', { partitions: 1 });
  for (const event of events) await log.append('orders', event, { partition: 0 });
  await commit(log, committed);
  return log;
}

async function commit(log: EventLog, offset: number): Promise<void> {
  const subscription = await log.subscribe({ group: GROUP, topics: ['orders'] });
  await subscription.commit([{ topic: 'orders', partition: 0, offset }]);
  await subscription.close();
}

/** Parks the event at `offset` of `orders` partition 0 as the group's dead-letter middleware does. */
async function deadLetter(log: EventLog, offset: number, group = GROUP): Promise<void> {
  await log.createTopic('orders.dead-letter', { partitions: 1 }).catch(() => undefined);
  const [event] = await log.read('orders', { partition: 0, from: { offset }, limit: 1 });
  const { topic: _t, partition: _p, offset: _o, timestamp: _ts, ...attributes } = event!;
  await log.append('orders.dead-letter', {
    ...attributes,
    extensions: {
      dlgroup: group,
      dltopic: 'orders',
      dlpartition: '0',
      dloffset: String(offset),
      dlerror: 'x',
    },
  });
}

const kinds = (report: AuditReport) => report.firstViolations.map((v) => `${v.kind}@${v.offset}`);

void describe('auditGroup', () => {
  void it('passes a group that handled every event below its committed offset, per key in order', async () => {
    const log = await logWith(
      [makeEvent(0, 'a'), makeEvent(1, 'b'), makeEvent(2, 'a'), makeEvent(3, 'a')],
      3,
    );
    const store = fakeStore(
      new Map([
        ['event-0', 10],
        ['event-1', 5],
        ['event-2', 10],
        ['event-3', 1],
      ]),
    );
    const report = await auditGroup(log, store, GROUP);
    assert.equal(report.verdict, 'ok');
    assert.equal(report.checked, 3, 'event-3 is above the committed offset: not checked');
    assert.equal(report.handled, 3);
    assert.equal(auditViolationCount(report), 0);
    assert.deepEqual(report.partitions, [
      { topic: 'orders', partition: 0, from: 0, committed: 3, checked: 3 },
    ]);
    assert.equal(report.parking, 'audited');
    assert.equal(report.parked, 0);
  });

  void it('reports an event below the committed offset with neither inbox entry nor dead letter as unhandled', async () => {
    const log = await logWith([makeEvent(0, 'a'), makeEvent(1, 'a'), makeEvent(2, 'a')], 3);
    const report = await auditGroup(
      log,
      fakeStore(
        new Map([
          ['event-0', 1],
          ['event-2', 3],
        ]),
      ),
      GROUP,
    );
    assert.equal(report.verdict, 'violations');
    assert.equal(report.violations.unhandled, 1);
    assert.deepEqual(report.firstViolations, [
      { kind: 'unhandled', topic: 'orders', partition: 0, offset: 1, eventId: 'event-1', key: 'a' },
    ]);
  });

  void it('counts an event the group dead-lettered as dead-lettered, and one parked by another group as unhandled', async () => {
    const log = await logWith([makeEvent(0, 'a'), makeEvent(1, 'a'), makeEvent(2, 'a')], 3);
    await deadLetter(log, 1);
    await deadLetter(log, 2, 'other.group');
    const report = await auditGroup(log, fakeStore(new Map([['event-0', 1]])), GROUP);
    assert.equal(report.deadLettered, 1);
    assert.deepEqual(kinds(report), ['unhandled@2']);
  });

  void it('reports an event dead-lettered twice, and one both dead-lettered and handled', async () => {
    const log = await logWith([makeEvent(0, 'a'), makeEvent(1, 'a')], 2);
    await deadLetter(log, 0);
    await deadLetter(log, 0);
    await deadLetter(log, 1);
    const report = await auditGroup(log, fakeStore(new Map([['event-1', 5]])), GROUP);
    assert.deepEqual(kinds(report), ['dead-lettered-twice@0', 'handled-and-dead-lettered@1']);
    assert.deepEqual(report.firstViolations[0]?.deadLetters, [
      { topic: 'orders.dead-letter', partition: 0, offset: 0 },
      { topic: 'orders.dead-letter', partition: 0, offset: 1 },
    ]);
  });

  void it('counts a redriven dead letter once: the original dead-lettered, the copy handled by the inbox entry of its id', async () => {
    const log = await logWith([makeEvent(0, 'a'), makeEvent(1, 'a')], 2);
    await deadLetter(log, 0);
    const [parked] = await log.read('orders.dead-letter', { partition: 0, from: 'earliest' });
    await log.append('orders', redrivenEvent(parked!, 1), { partition: 0 });
    await commit(log, 3);
    const report = await auditGroup(
      log,
      fakeStore(
        new Map([
          ['event-1', 5],
          ['event-0', 9],
        ]),
      ),
      GROUP,
    );
    assert.equal(report.verdict, 'ok', JSON.stringify(report.firstViolations));
    assert.deepEqual(
      {
        checked: report.checked,
        handled: report.handled,
        deadLettered: report.deadLettered,
        redriven: report.redriven,
      },
      { checked: 3, handled: 2, deadLettered: 1, redriven: 1 },
    );
  });

  void it('holds an inbox entry against a dead letter while its redriven copy is not yet appended', async () => {
    const log = await logWith([makeEvent(0, 'a')], 1);
    await deadLetter(log, 0);
    const report = await auditGroup(log, fakeStore(new Map([['event-0', 9]])), GROUP);
    assert.deepEqual(kinds(report), ['handled-and-dead-lettered@0']);
  });

  void it('counts events parked behind a dead letter as parked, never unhandled, and does not hold the redriven copy to its offset', async () => {
    // a: event-0 dead-lettered, event-1 and event-2 parked behind it; b: event-3 handled.
    const log = await logWith(
      [makeEvent(0, 'a'), makeEvent(1, 'a'), makeEvent(2, 'a'), makeEvent(3, 'b')],
      4,
    );
    await deadLetter(log, 0);
    const ref = { group: GROUP, topic: 'orders', partition: 0, key: 'a' };
    const parked = [
      { ...ref, offset: 1, eventId: 'event-1' },
      { ...ref, offset: 2, eventId: 'event-2' },
    ];
    const stillParked = await auditGroup(
      log,
      inboxOnlyStore(new Map([['event-3', 5]]), GROUP, parked),
      GROUP,
    );
    assert.equal(stillParked.verdict, 'ok', JSON.stringify(stillParked.firstViolations));
    assert.deepEqual([stillParked.handled, stillParked.deadLettered, stillParked.parked], [1, 1, 2]);

    // Redriven: the copy (offset 4) is handled first, then the released events in their order.
    const [original] = await log.read('orders', { partition: 0, from: { offset: 0 }, limit: 1 });
    await log.append('orders', redrivenEvent(original!, 1), { partition: 0 });
    await commit(log, 5);
    const released = await auditGroup(
      log,
      fakeStore(
        new Map([
          ['event-3', 5],
          ['event-0', 10],
          ['event-1', 11],
          ['event-2', 12],
        ]),
      ),
      GROUP,
    );
    assert.equal(released.verdict, 'ok', JSON.stringify(released.firstViolations));
    assert.deepEqual([released.handled, released.parked, released.redriven], [4, 0, 1]);
  });

  void it('counts an id re-published at a later offset once, the later occurrence as a duplicate', async () => {
    const log = await logWith([makeEvent(0, 'a'), makeEvent(1, 'a'), makeEvent(0, 'a')], 3);
    // The duplicate's own handling time is the first occurrence's: it is not an ordering violation.
    const report = await auditGroup(
      log,
      fakeStore(
        new Map([
          ['event-0', 1],
          ['event-1', 2],
        ]),
      ),
      GROUP,
    );
    assert.equal(report.verdict, 'ok');
    assert.equal(report.handled, 2);
    assert.equal(report.duplicates, 1);
  });

  void it('reports a key handled out of offset order, naming the earlier event, and lets equal times pass', async () => {
    const log = await logWith(
      [makeEvent(0, 'a'), makeEvent(1, 'b'), makeEvent(2, 'a'), makeEvent(3, 'a'), makeEvent(4, 'b')],
      5,
    );
    const store = fakeStore(
      new Map([
        ['event-0', 10],
        ['event-1', 50],
        ['event-2', 10],
        ['event-3', 7],
        ['event-4', 60],
      ]),
    );
    const report = await auditGroup(log, store, GROUP);
    assert.deepEqual(kinds(report), ['out-of-order@3']);
    assert.deepEqual(report.firstViolations[0], {
      kind: 'out-of-order',
      topic: 'orders',
      partition: 0,
      offset: 3,
      eventId: 'event-3',
      key: 'a',
      handledAt: 7,
      handledBefore: { topic: 'orders', partition: 0, offset: 2, eventId: 'event-2', handledAt: 10 },
    });
  });

  void it('counts every violation but lists only the first maxViolations', async () => {
    const log = await logWith(
      [0, 1, 2, 3, 4].map((i) => makeEvent(i)),
      5,
    );
    const report = await auditGroup(log, fakeStore(new Map()), GROUP, { maxViolations: 2 });
    assert.equal(report.violations.unhandled, 5);
    assert.deepEqual(kinds(report), ['unhandled@0', 'unhandled@1']);
  });

  void it('checks only events appended at or after `since`', async () => {
    const log = await openMemoryLog();
    await log.createTopic('orders', { partitions: 1 });
    await log.append('orders', makeEvent(0, 'a'), { partition: 0 });
    const [old] = await log.read('orders', { partition: 0, from: 'earliest' });
    let recent = old!;
    while (recent.timestamp === old!.timestamp) {
      await log.append('orders', makeEvent(recent.offset + 1, 'a'), { partition: 0 });
      const [next] = await log.read('orders', { partition: 0, from: { offset: recent.offset + 1 } });
      recent = next!;
    }
    await commit(log, recent.offset + 1);
    const store = fakeStore(new Map([[recent.id, 1]]));
    const report = await auditGroup(log, store, GROUP, { since: recent.timestamp });
    assert.equal(report.verdict, 'ok', JSON.stringify(report.firstViolations));
    assert.equal(report.checked, 1);
    assert.equal((await auditGroup(log, store, GROUP)).violations.unhandled, recent.offset);
  });

  void it('refuses an unknown group and a store that cannot list inbox entries', async () => {
    const log = await logWith([makeEvent(0)], 1);
    await assert.rejects(auditGroup(log, fakeStore(new Map()), 'nobody'), { code: 'INVALID_ARGUMENT' });
    const withoutEntries = fakeStore(new Map());
    delete withoutEntries.inboxEntries;
    await assert.rejects(auditGroup(log, withoutEntries, GROUP), { code: 'UNSUPPORTED' });
  });
});
