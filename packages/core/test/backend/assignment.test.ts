import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignPartitions } from '../../src/backend/assignment.ts';
import type { MemberSubscription } from '../../src/backend/assignment.ts';
import type { TopicPartition } from '../../src/event-log.ts';

const partitionsOf = (topic: string, count: number): TopicPartition[] =>
  Array.from({ length: count }, (_, partition) => ({ topic, partition }));

const key = (tp: TopicPartition): string => `${tp.topic}/${tp.partition}`;

function owners(assignment: Map<string, TopicPartition[]>): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const [member, partitions] of assignment) {
    for (const tp of partitions) result.set(key(tp), [...(result.get(key(tp)) ?? []), member]);
  }
  return result;
}

void describe('assignPartitions', () => {
  void it('gives every partition to exactly one member', () => {
    const members = ['c', 'a', 'b'].map((memberId) => ({ memberId, topics: ['orders'] }));
    const partitions = partitionsOf('orders', 10);
    const byPartition = owners(assignPartitions(members, partitions));
    assert.equal(byPartition.size, 10);
    for (const tp of partitions) assert.equal(byPartition.get(key(tp))?.length, 1, key(tp));
  });

  void it('balances partitions so that member counts differ by at most one', () => {
    for (let memberCount = 1; memberCount <= 7; memberCount++) {
      for (let partitionCount = 1; partitionCount <= 20; partitionCount++) {
        const members = Array.from({ length: memberCount }, (_, i) => ({ memberId: `m${i}`, topics: ['t'] }));
        const counts = [...assignPartitions(members, partitionsOf('t', partitionCount)).values()].map(
          (p) => p.length,
        );
        assert.ok(
          Math.max(...counts) - Math.min(...counts) <= 1,
          `${memberCount} members, ${partitionCount} partitions`,
        );
      }
    }
  });

  void it('gives the same answer whatever order members and partitions come in', () => {
    const members: MemberSubscription[] = [
      { memberId: 'm-2', topics: ['orders', 'payments'] },
      { memberId: 'm-1', topics: ['orders'] },
      { memberId: 'm-3', topics: ['payments'] },
    ];
    const partitions = [...partitionsOf('orders', 5), ...partitionsOf('payments', 4)];
    const expected = assignPartitions(members, partitions);
    const shuffled = assignPartitions([...members].reverse(), [...partitions].reverse());
    for (const member of members) {
      assert.deepEqual(
        shuffled.get(member.memberId)?.map(key).sort(),
        expected.get(member.memberId)?.map(key).sort(),
      );
    }
  });

  void it('only gives a topic to members subscribed to it', () => {
    const assignment = assignPartitions(
      [
        { memberId: 'orders-only', topics: ['orders'] },
        { memberId: 'payments-only', topics: ['payments'] },
      ],
      [...partitionsOf('orders', 3), ...partitionsOf('payments', 2)],
    );
    assert.deepEqual(assignment.get('orders-only')?.map(key), ['orders/0', 'orders/1', 'orders/2']);
    assert.deepEqual(assignment.get('payments-only')?.map(key), ['payments/0', 'payments/1']);
  });

  void it('leaves partitions of a topic nobody subscribes to unassigned, and idle members with an empty list', () => {
    const assignment = assignPartitions(
      [
        { memberId: 'a', topics: ['orders'] },
        { memberId: 'b', topics: ['orders'] },
        { memberId: 'c', topics: ['orders'] },
      ],
      [...partitionsOf('orders', 2), ...partitionsOf('audit', 3)],
    );
    assert.deepEqual([...owners(assignment).keys()].sort(), ['orders/0', 'orders/1']);
    assert.deepEqual([...assignment.values()].map((p) => p.length).sort(), [0, 1, 1]);
  });

  void it('returns an empty map when there are no members', () => {
    assert.equal(assignPartitions([], partitionsOf('orders', 3)).size, 0);
  });
});
