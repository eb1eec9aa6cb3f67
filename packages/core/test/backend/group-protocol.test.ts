import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addMember,
  coordinationStep,
  describeMembers,
  emptyGroup,
  ownershipChanges,
  raiseEpoch,
  releasePartitions,
  removeMember,
  topicPartitionKey,
} from '../../src/backend/index.ts';
import type { GroupRecord, MemberRecord } from '../../src/backend/index.ts';

const counts = new Map([['orders', 4]]);

function member(heartbeatAt: number, sessionTimeoutMs = 1000): MemberRecord {
  return { clientId: 'test', topics: ['orders'], sessionTimeoutMs, heartbeatAt, joinedAt: heartbeatAt };
}

function owners(record: GroupRecord): (string | null)[] {
  return record.partitions.map((p) => p.owner);
}

function targets(record: GroupRecord): (string | null)[] {
  return record.partitions.map((p) => p.target);
}

describe('group protocol: one record, pure steps', () => {
  it('assigns every partition after a join and lets the member claim the free ones', () => {
    const joined = addMember(emptyGroup('billing'), 'a', member(0));
    const { record, changed, claims } = coordinationStep(joined, 'a', 10, counts);
    assert.equal(changed, true);
    assert.deepEqual(targets(record), ['a', 'a', 'a', 'a']);
    assert.deepEqual(owners(record), ['a', 'a', 'a', 'a']);
    assert.deepEqual(
      claims.map((c) => [c.partition, c.epoch]),
      [
        [0, 1],
        [1, 1],
        [2, 1],
        [3, 1],
      ],
    );
    assert.equal(record.members['a']!.heartbeatAt, 10);
    const again = coordinationStep(record, 'a', 20, counts);
    assert.equal(again.changed, false, 'a heartbeat alone changes nothing else');
    assert.deepEqual(again.claims, []);
  });

  it('moves a partition in two steps: the newcomer claims it only after the owner released it', () => {
    let record = coordinationStep(addMember(emptyGroup('billing'), 'a', member(0)), 'a', 0, counts).record;
    record = addMember(record, 'b', member(0));
    const newcomer = coordinationStep(record, 'b', 1, counts);
    assert.deepEqual(targets(newcomer.record), ['a', 'b', 'a', 'b']);
    assert.deepEqual(newcomer.claims, [], 'nothing is free yet');
    assert.deepEqual(owners(newcomer.record), ['a', 'a', 'a', 'a']);

    const moving = newcomer.record.partitions.filter((p) => p.target === 'b');
    const released = releasePartitions(newcomer.record, 'a', moving);
    assert.deepEqual(owners(released), ['a', null, 'a', null]);
    const claimed = coordinationStep(released, 'b', 2, counts);
    assert.deepEqual(owners(claimed.record), ['a', 'b', 'a', 'b']);
    assert.deepEqual(
      claimed.claims.map((c) => [c.partition, c.epoch]),
      [
        [1, 3],
        [3, 3],
      ],
      'every change of hands raised the epoch',
    );
  });

  it('releases only what the member still owns under the same epoch', () => {
    const record = coordinationStep(addMember(emptyGroup('billing'), 'a', member(0)), 'a', 0, counts).record;
    assert.equal(releasePartitions(record, 'a', [{ topic: 'orders', partition: 0, epoch: 7 }]), record);
    assert.equal(releasePartitions(record, 'b', [{ topic: 'orders', partition: 0, epoch: 1 }]), record);
  });

  it('expires a member whose lease ran out, frees its partitions and raises their epochs', () => {
    let record = addMember(addMember(emptyGroup('billing'), 'a', member(0)), 'b', member(0));
    record = coordinationStep(record, 'a', 0, counts).record;
    record = coordinationStep(record, 'b', 0, counts).record;
    assert.deepEqual(owners(record), ['a', 'b', 'a', 'b']);
    const alive = coordinationStep(record, 'a', 1000, counts);
    assert.equal(alive.changed, false, 'a lease that has just run out is still valid');
    const survivor = coordinationStep(alive.record, 'a', 1001, counts);
    assert.deepEqual(Object.keys(survivor.record.members), ['a']);
    assert.deepEqual(owners(survivor.record), ['a', 'a', 'a', 'a']);
    assert.deepEqual(
      survivor.claims.map((c) => [c.partition, c.epoch]),
      [
        [1, 3],
        [3, 3],
      ],
    );
  });

  it('frees what a leaving member owned and reassigns', () => {
    let record = addMember(addMember(emptyGroup('billing'), 'a', member(0)), 'b', member(0));
    record = coordinationStep(coordinationStep(record, 'a', 0, counts).record, 'b', 0, counts).record;
    const left = removeMember(record, 'b');
    assert.deepEqual(owners(left), ['a', null, 'a', null]);
    assert.equal(left.generation, record.generation + 1);
    assert.equal(removeMember(left, 'b'), left);
    assert.deepEqual(owners(coordinationStep(left, 'a', 1, counts).record), ['a', 'a', 'a', 'a']);
  });

  it('raises the epoch of a partition only for its owner under the epoch it claimed with', () => {
    const record = coordinationStep(addMember(emptyGroup('billing'), 'a', member(0)), 'a', 0, counts).record;
    const raised = raiseEpoch(record, 'a', { topic: 'orders', partition: 2, epoch: 1 }, 9);
    assert.deepEqual(
      raised.partitions.map((p) => p.epoch),
      [1, 1, 9, 1],
    );
    assert.equal(raiseEpoch(record, 'b', { topic: 'orders', partition: 2, epoch: 1 }, 9), record);
    assert.equal(raiseEpoch(record, 'a', { topic: 'orders', partition: 2, epoch: 0 }, 9), record);
    assert.equal(raiseEpoch(raised, 'a', { topic: 'orders', partition: 2, epoch: 9 }, 5), raised);
  });

  it('claims nothing while a reset holds the lock', () => {
    const record = { ...addMember(emptyGroup('billing'), 'a', member(0)), lockedUntil: 500 };
    assert.deepEqual(coordinationStep(record, 'a', 100, counts).claims, []);
    assert.equal(coordinationStep(record, 'a', 501, counts).claims.length, 4);
  });

  it('assigns only the topics each member subscribes to', () => {
    let record = addMember(emptyGroup('mixed'), 'a', { ...member(0), topics: ['orders'] });
    record = addMember(record, 'b', { ...member(0), topics: ['payments'] });
    const step = coordinationStep(
      record,
      'a',
      1,
      new Map([
        ['orders', 2],
        ['payments', 1],
      ]),
    );
    assert.deepEqual(
      step.record.partitions.map((p) => [p.topic, p.partition, p.target]),
      [
        ['orders', 0, 'a'],
        ['orders', 1, 'a'],
        ['payments', 0, 'b'],
      ],
    );
    assert.deepEqual(step.record.topics, ['orders', 'payments']);
  });

  it('describes members oldest first with the partitions each owns', () => {
    let record = addMember(addMember(emptyGroup('billing'), 'b', member(0)), 'a', member(5));
    record = coordinationStep(coordinationStep(record, 'a', 5, counts).record, 'b', 5, counts).record;
    assert.deepEqual(
      describeMembers(record).map((m) => [m.memberId, m.partitions.map((p) => p.partition)]),
      [
        ['b', [1, 3]],
        ['a', [0, 2]],
      ],
    );
  });

  it('tells a member what it lost, what to revoke, what to free and whether a handover is under way', () => {
    let record = coordinationStep(addMember(emptyGroup('billing'), 'a', member(0)), 'a', 0, counts).record;
    const held = new Map(
      record.partitions.map((p) => [
        topicPartitionKey(p.topic, p.partition),
        { epoch: p.epoch, revoking: false },
      ]),
    );
    assert.deepEqual(ownershipChanges(record, 'a', held), {
      lost: [],
      revoke: [],
      stray: [],
      handover: false,
    });
    record = coordinationStep(addMember(record, 'b', member(0)), 'b', 1, counts).record;
    const joined = ownershipChanges(record, 'a', held);
    assert.deepEqual(joined.revoke, ['orders#1', 'orders#3']);
    assert.equal(joined.handover, true);
    held.delete('orders#0');
    assert.deepEqual(
      ownershipChanges(record, 'a', held).stray.map((p) => p.partition),
      [0],
      'owned in the record but no longer held here',
    );
    const expired = removeMember(record, 'a');
    assert.deepEqual(ownershipChanges(expired, 'a', held).lost, ['orders#1', 'orders#2', 'orders#3']);
  });
});
